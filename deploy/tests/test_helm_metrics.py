"""Scraping the metrics (issue 16, "Nothing scrapes the metrics"): an optional PodMonitor for
every process that serves /metrics, and NetworkPolicies that let a configured scraper reach
their management port, and only that port.

A PodMonitor, not a ServiceMonitor: a ServiceMonitor needs a Service carrying the management
port, and the chart keeps that port off every Service (test_helm_exposure) so that no Ingress or
in-cluster caller can ever be pointed at it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from deploy.tests.conftest import CHART_DIR, NAMESPACE, RELEASE, Release, deep_merge

# Every process run by shared.runner: each serves /metrics on its management port. The Stripe
# emulator is not one of them (no management port, no metrics).
METRICS_COMPONENTS = (
    "auth",
    "tickets",
    "orders",
    "payments",
    "client",
    "expiration",
    "expiration-worker",
)
MANAGEMENT_RULE_PORTS = [{"port": "management", "protocol": "TCP"}]
SCRAPER = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
}


@pytest.fixture(scope="module")
def base(keys_values: dict[str, Any]) -> dict[str, Any]:
    # With the emulator as well, to show that it is left out of both the monitor and the
    # scraper's rules (payments then uses it instead of the key).
    return {"jwt": keys_values["jwt"], "stripe": {"emulator": {"enabled": True}}}


@pytest.fixture(scope="module")
def monitored(render: Callable[..., Release], base: dict[str, Any]) -> Release:
    return render(
        deep_merge(
            base,
            {
                "metrics": {
                    "podMonitor": {
                        "enabled": True,
                        "interval": "15s",
                        "labels": {"release": "kube-prometheus-stack"},
                        "namespaceSelector": {"matchNames": ["shop", "shop-canary"]},
                    },
                    "scraper": SCRAPER,
                }
            },
        )
    )


def pod_monitor(release: Release) -> dict[str, Any]:
    monitors = release.of_kind("PodMonitor")
    assert len(monitors) == 1, [m["metadata"]["name"] for m in monitors]
    return monitors[0]


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A LabelSelector's verdict on a set of labels (matchLabels and In / NotIn / Exists)."""
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def pod_labels(release: Release, component: str) -> dict[str, str]:
    labels: dict[str, str] = release.deployment(component)["spec"]["template"]["metadata"]["labels"]
    return labels


# ---------------------------------------------------------------------------- PodMonitor


def test_no_pod_monitor_by_default(default_release: Release) -> None:
    assert default_release.of_kind("PodMonitor") == []
    assert default_release.of_kind("ServiceMonitor") == []


def test_the_pod_monitor_selects_every_process_that_serves_metrics_and_nothing_else(
    monitored: Release,
) -> None:
    monitor = pod_monitor(monitored)
    selector = monitor["spec"]["selector"]

    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    for component in METRICS_COMPONENTS:
        assert selects(selector, pod_labels(monitored, component)), component
    assert not selects(selector, pod_labels(monitored, "stripe-emulator"))
    # Another release's pods in the same namespace are not scraped as this one's.
    other = {**pod_labels(monitored, "orders"), "app.kubernetes.io/instance": "other"}
    assert not selects(selector, other)


def test_the_pod_monitor_scrapes_the_management_port_at_the_configured_interval(
    monitored: Release,
) -> None:
    spec = pod_monitor(monitored)["spec"]

    assert spec["podMetricsEndpoints"] == [
        {"port": "management", "path": "/metrics", "interval": "15s"}
    ]
    # The named port exists on every selected container.
    for component in METRICS_COMPONENTS:
        names = [port["name"] for port in monitored.container(component)["ports"]]
        assert "management" in names, component


def test_the_pod_monitor_carries_the_labels_and_namespace_selector_from_values(
    monitored: Release,
) -> None:
    monitor = pod_monitor(monitored)

    assert monitor["metadata"]["namespace"] == NAMESPACE
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["metadata"]["labels"]["app.kubernetes.io/instance"] == RELEASE
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["shop", "shop-canary"]}


def test_without_a_namespace_selector_the_pod_monitor_watches_its_own_namespace(
    render: Callable[..., Release], base: dict[str, Any]
) -> None:
    release = render(deep_merge(base, {"metrics": {"podMonitor": {"enabled": True}}}))
    spec = pod_monitor(release)["spec"]

    # Left out, the Prometheus Operator looks in the PodMonitor's own namespace: the release's.
    assert "namespaceSelector" not in spec
    assert spec["podMetricsEndpoints"][0]["interval"] == "30s"


def test_the_metrics_put_the_management_port_on_no_service_and_no_ingress(
    monitored: Release,
) -> None:
    for service in monitored.of_kind("Service"):
        assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]
    for ingress in monitored.of_kind("Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                assert path["backend"]["service"]["port"] == {"name": "http"}


# ---------------------------------------------------------------------------- NetworkPolicy


def rules(release: Release, component: str) -> list[dict[str, Any]]:
    policy = release.get("NetworkPolicy", f"{RELEASE}-{component}")
    ingress: list[dict[str, Any]] = policy["spec"]["ingress"]
    return ingress


@pytest.mark.parametrize("component", METRICS_COMPONENTS)
def test_the_scraper_reaches_the_management_port_of_every_metrics_process_and_nothing_else(
    render: Callable[..., Release], base: dict[str, Any], monitored: Release, component: str
) -> None:
    without = rules(render(base), component)
    with_scraper = rules(monitored, component)

    # Exactly one rule is new: the scraper on the management port. The rules that were there
    # (the http port's callers) are unchanged, so the scraper reaches no http port.
    assert [r for r in with_scraper if r not in without] == [
        {"from": [SCRAPER], "ports": MANAGEMENT_RULE_PORTS}
    ]
    assert [r for r in without if r not in with_scraper] == []
    assert monitored.container(component)["ports"][1] == {
        "name": "management",
        "containerPort": 9090,
        "protocol": "TCP",
    }


def test_the_scraper_is_not_let_into_the_stripe_emulator(
    render: Callable[..., Release], base: dict[str, Any], monitored: Release
) -> None:
    assert rules(monitored, "stripe-emulator") == rules(render(base), "stripe-emulator")


def test_the_scraper_and_extra_peers_share_the_management_rule(
    render: Callable[..., Release], base: dict[str, Any]
) -> None:
    extra = {"podSelector": {"matchLabels": {"app": "debug"}}}
    release = render(
        deep_merge(base, {"metrics": {"scraper": SCRAPER}, "networkPolicy": {"extraFrom": [extra]}})
    )

    for component in ("expiration", "expiration-worker", "orders"):
        management = [r for r in rules(release, component) if r["ports"] == MANAGEMENT_RULE_PORTS]
        assert management == [{"from": [extra, SCRAPER], "ports": MANAGEMENT_RULE_PORTS}]


def test_a_scraper_with_only_a_namespace_selector_admits_that_whole_namespace(
    render: Callable[..., Release], base: dict[str, Any]
) -> None:
    namespace_only = {"namespaceSelector": SCRAPER["namespaceSelector"]}
    release = render(deep_merge(base, {"metrics": {"scraper": namespace_only}}))

    assert rules(release, "expiration") == [
        {"from": [namespace_only], "ports": MANAGEMENT_RULE_PORTS}
    ]


def test_helm_lint_accepts_the_pod_monitor_and_the_scraper(helm: Any, base: dict[str, Any]) -> None:
    values = deep_merge(base, {"metrics": {"podMonitor": {"enabled": True}, "scraper": SCRAPER}})
    report = helm.lint(str(CHART_DIR), values, namespace=NAMESPACE)

    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_the_pod_monitor_and_the_scraper_pass_kubernetes_validate(monitored: Release) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")

    # kubernetes-validate has no schema for the Prometheus Operator's CRDs; everything else,
    # the scraper's NetworkPolicy rules included, is checked strictly.
    for manifest in monitored.docs:
        if manifest["kind"] != "PodMonitor":
            kubernetes_validate.validate(manifest, "1.37", strict=True)


# ---------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    "bad_values",
    [
        {"metrics": {"podMonitor": {"enabled": "yes"}}},
        {"metrics": {"podMonitor": {"interval": "thirty seconds"}}},
        {"metrics": {"podMonitor": {"labels": {"release": 1}}}},
        {"metrics": {"podMonitor": {"port": 9090}}},
        {"metrics": {"scraper": {"ipBlock": {"cidr": "0.0.0.0/0"}}}},
        {"metrics": {"serviceMonitor": {"enabled": True}}},
    ],
)
def test_the_values_schema_rejects_bad_metrics_values(
    chart: Any, helm: Any, bad_values: dict[str, Any]
) -> None:
    with pytest.raises(helm.HelmValuesError):
        chart.validate_schema(bad_values)


def test_the_chart_readme_documents_the_metrics() -> None:
    readme = (CHART_DIR / "README.md").read_text()
    section = readme.split("## Metrics", 1)[1].split("\n## ", 1)[0]

    for needle in ("metrics.podMonitor.enabled", "metrics.scraper", "PodMonitor", "ServiceMonitor"):
        assert needle in section, needle


def test_the_values_schema_accepts_the_metrics_values(chart: Any) -> None:
    chart.validate_schema(
        {
            "metrics": {
                "podMonitor": {
                    "enabled": True,
                    "interval": "1m30s",
                    "labels": {"release": "kube-prometheus-stack"},
                    "namespaceSelector": {"any": True},
                },
                "scraper": SCRAPER,
            }
        }
    )
