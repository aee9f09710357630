"""What the chart exposes (issue 13): probes and metrics on a management port that no Service
or Ingress carries, the sign-in brake on the ingress, HSTS with TLS, metrics scrapers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from deploy.tests.conftest import RELEASE, Release, deep_merge

HTTP_COMPONENTS = ("auth", "tickets", "orders", "payments", "client")
ALL_COMPONENTS = (*HTTP_COMPONENTS, "expiration", "expiration-worker")
CREDENTIAL_ROUTES = {
    "/api/users/signin": f"{RELEASE}-auth",
    "/api/users/signup": f"{RELEASE}-auth",
    "/auth/signin": f"{RELEASE}-client",
    "/auth/signup": f"{RELEASE}-client",
}


@pytest.fixture(scope="module")
def release(render: Callable[..., Release], keys_values: dict[str, Any]) -> Release:
    return render(keys_values)


def backends(ingress: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(path, pathType, service backend) of every path of an Ingress."""
    return [
        (path["path"], path["pathType"], path["backend"]["service"])
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    ]


# ---------------------------------------------------------------------------- management port


@pytest.mark.parametrize("component", ALL_COMPONENTS)
def test_probes_use_the_management_port_the_process_is_told_about(
    release: Release, component: str
) -> None:
    container = release.container(component)
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}

    assert release.env(component)["MANAGEMENT_PORT"]["value"] == str(ports["management"])
    assert ports["management"] != ports["http"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["port"] == "management", probe
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_the_management_port_is_a_value(
    render: Callable[..., Release], keys_values: dict[str, Any]
) -> None:
    moved = render(deep_merge(keys_values, {"managementPort": 9500}))

    assert moved.env("orders")["MANAGEMENT_PORT"]["value"] == "9500"


def test_a_management_port_equal_to_the_http_port_is_refused(
    chart: Any, keys_values: dict[str, Any]
) -> None:
    with pytest.raises(Exception, match="managementPort 3000"):
        chart.render(deep_merge(keys_values, {"managementPort": 3000}), name=RELEASE)


def test_no_service_carries_the_management_port(release: Release) -> None:
    for service in release.of_kind("Service"):
        ports = service["spec"]["ports"]
        assert [(p["name"], p["targetPort"]) for p in ports] == [("http", "http")], service[
            "metadata"
        ]["name"]


def test_no_ingress_backend_reaches_anything_but_an_http_port(release: Release) -> None:
    ingresses = release.of_kind("Ingress")

    assert len(ingresses) == 2
    for ingress in ingresses:
        for path, _, service in backends(ingress):
            assert service["port"] == {"name": "http"}, (ingress["metadata"]["name"], path)


# ---------------------------------------------------------------------------- the brake


def test_sign_in_and_sign_up_have_an_ingress_of_their_own_with_the_brake(
    release: Release,
) -> None:
    credentials = release.get("Ingress", f"{RELEASE}-credentials")
    annotations = credentials["metadata"]["annotations"]

    routes = {path: service["name"] for path, kind, service in backends(credentials)}
    assert routes == CREDENTIAL_ROUTES
    assert {kind for _, kind, _ in backends(credentials)} == {"Exact"}
    # The gateway's defaults: 5 per second, a burst of 10.
    assert annotations["nginx.ingress.kubernetes.io/limit-rps"] == "5"
    assert annotations["nginx.ingress.kubernetes.io/limit-burst-multiplier"] == "2"
    main = release.get("Ingress", RELEASE)
    assert "nginx.ingress.kubernetes.io/limit-rps" not in main["metadata"].get("annotations", {})


def test_the_brake_is_configurable_and_can_be_switched_off(
    render: Callable[..., Release], keys_values: dict[str, Any]
) -> None:
    tuned = render(
        deep_merge(keys_values, {"ingress": {"authRateLimit": {"rps": 2, "burstMultiplier": 3}}})
    )
    off = render(deep_merge(keys_values, {"ingress": {"authRateLimit": {"enabled": False}}}))

    annotations = tuned.get("Ingress", f"{RELEASE}-credentials")["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/limit-rps"] == "2"
    assert annotations["nginx.ingress.kubernetes.io/limit-burst-multiplier"] == "3"
    assert off.names("Ingress") == {RELEASE}


def test_the_brake_uses_no_snippet_annotation(release: Release) -> None:
    # ingress-nginx disables snippets by default (allow-snippet-annotations: false).
    for ingress in release.of_kind("Ingress"):
        assert not any("snippet" in key for key in ingress["metadata"].get("annotations", {}))


# ---------------------------------------------------------------------------- TLS and HSTS


def test_with_tls_every_ingress_redirects_to_https_on_the_same_certificate(
    render: Callable[..., Release], keys_values: dict[str, Any]
) -> None:
    tls = render(
        deep_merge(keys_values, {"ingress": {"tls": {"enabled": True, "secretName": "cert"}}})
    )
    plain = render(keys_values)

    for ingress in tls.of_kind("Ingress"):
        assert ingress["spec"]["tls"] == [{"hosts": ["ticketing.dev"], "secretName": "cert"}]
        annotations = ingress["metadata"]["annotations"]
        assert annotations["nginx.ingress.kubernetes.io/force-ssl-redirect"] == "true"
    for ingress in plain.of_kind("Ingress"):
        assert "tls" not in ingress["spec"]
        annotations = ingress["metadata"].get("annotations", {})
        assert "nginx.ingress.kubernetes.io/force-ssl-redirect" not in annotations


# ---------------------------------------------------------------------------- network policies


def test_extra_peers_reach_the_management_port_of_every_process(
    render: Callable[..., Release], keys_values: dict[str, Any]
) -> None:
    scraper = {"podSelector": {"matchLabels": {"app": "prometheus"}}}
    release = render(deep_merge(keys_values, {"networkPolicy": {"extraFrom": [scraper]}}))

    for component in ALL_COMPONENTS:
        rules = release.get("NetworkPolicy", f"{RELEASE}-{component}")["spec"]["ingress"]
        management = [r for r in rules if r["ports"] == [{"port": "management", "protocol": "TCP"}]]
        assert len(management) == 1, component
        assert management[0]["from"] == [scraper], component


def test_without_extra_peers_no_one_but_the_kubelet_reaches_the_management_port(
    release: Release,
) -> None:
    for policy in release.of_kind("NetworkPolicy"):
        for rule in policy["spec"]["ingress"]:
            assert {p["port"] for p in rule["ports"]} == {"http"}, policy["metadata"]["name"]


def test_the_stripe_emulator_keeps_its_probes_on_its_own_port(
    render: Callable[..., Release], keys_values: dict[str, Any]
) -> None:
    # It is not run by shared.runner, so it knows no MANAGEMENT_PORT; only payments reaches it.
    values = {"jwt": keys_values["jwt"], "stripe": {"emulator": {"enabled": True}}}
    container = render(values).container("stripe-emulator")

    assert [port["name"] for port in container["ports"]] == ["http"]
    assert "MANAGEMENT_PORT" not in {var["name"] for var in container["env"]}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["port"] == "http", probe
