"""The Helm chart helm/ticketing, rendered and linted offline with the Helm SDK."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.tests.conftest import Umbrella

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "helm" / "ticketing"
RELEASE = "ticketing"
HTTP_APIS = ("auth", "tickets", "orders", "payments")
ALL_PROCESSES = (
    "auth",
    "tickets",
    "orders",
    "payments",
    "expiration",
    "expiration-worker",
    "client",
)


# The chart renders nothing without a Stripe choice; a development cluster's is the emulator
# (`--set stripe.emulator.enabled=true`), which most tests take as their base.
EMULATOR: dict[str, Any] = {"stripe": {"emulator": {"enabled": True}}}


def dev(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` on a development cluster: with the emulator unless they set ``stripe``."""
    return {**EMULATOR, **values}


def deployments_of(release: Any) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in release.of_kind("Deployment")}


# ---------------------------------------------------------------------------- lint and render


@pytest.mark.parametrize("values_name", ["default", "production"])
def test_helm_lint_reports_no_errors_or_warnings(
    helm: Any, production_values: dict[str, Any], values_name: str
) -> None:
    values = production_values if values_name == "production" else EMULATOR

    report = helm.lint(str(CHART_DIR), values, namespace="shop")

    assert report["errors"] == []
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert problems == [], problems


def test_default_values_render_every_process_and_its_objects(default_release: Any) -> None:
    names = deployments_of(default_release)

    assert set(names) == {f"{RELEASE}-{p}" for p in ALL_PROCESSES} | {f"{RELEASE}-stripe-emulator"}
    assert default_release.names("Service") == {
        f"{RELEASE}-{p}" for p in (*HTTP_APIS, "client", "stripe-emulator")
    }
    # The second Ingress: the sign-in brake (test_helm_exposure.py).
    assert default_release.names("Ingress") == {RELEASE, f"{RELEASE}-credentials"}
    assert default_release.names("ConfigMap") == {f"{RELEASE}-config"}
    assert default_release.names("PodDisruptionBudget") == set(names) - {
        f"{RELEASE}-stripe-emulator"
    }
    assert default_release.names("NetworkPolicy") == set(names)
    assert default_release.of_kind("HorizontalPodAutoscaler") == []


def test_production_values_render_with_autoscaling_tls_and_no_generated_secrets(
    production_release: Any,
) -> None:
    hpas = production_release.names("HorizontalPodAutoscaler")
    ingress = production_release.get("Ingress", RELEASE)

    assert hpas == {f"{RELEASE}-{p}" for p in (*HTTP_APIS, "client")}
    assert ingress["spec"]["tls"] == [
        {"hosts": ["tickets.example.com"], "secretName": "ticketing-tls"}
    ]
    assert production_release.of_kind("Secret") == []
    assert f"{RELEASE}-stripe-emulator" not in deployments_of(production_release)


def test_default_chart_declares_no_dependency_so_helm_install_needs_no_download(helm: Any) -> None:
    # Helm's install/template refuse a chart whose declared dependencies are missing from charts/,
    # even disabled ones; the optional community charts live in the bundled/ umbrella instead.
    dependencies = helm.dependency_list(str(CHART_DIR))

    assert dependencies == []


# ---------------------------------------------------------------------------- kubernetes-validate


def _variants(
    production_values: dict[str, Any], keys_values: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    return {
        "default": EMULATOR,
        "production": production_values,
        "keys-and-stripe": {
            **keys_values,
            "ingress": {"tls": {"enabled": True}},
            "defaults": {"autoscaling": {"enabled": True, "targetMemoryUtilizationPercentage": 80}},
            "networkPolicy": {
                "extraFrom": [{"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}]
            },
        },
        "bundled-backends": {
            **EMULATOR,
            "mongodb": {"enabled": True},
            "rabbitmq": {"enabled": True},
            "redis": {"enabled": True},
            "components": {"client": {"podDisruptionBudget": {"minAvailable": 1}}},
        },
        "ingress-and-netpol-off": {
            **EMULATOR,
            "ingress": {"enabled": False},
            "networkPolicy": {"enabled": False},
        },
    }


@pytest.mark.parametrize("kube_version", ["1.27", "1.37"])
@pytest.mark.parametrize(
    "variant",
    ["default", "production", "keys-and-stripe", "bundled-backends", "ingress-and-netpol-off"],
)
def test_every_rendered_manifest_passes_kubernetes_validate_strict(
    render: Any,
    production_values: dict[str, Any],
    keys_values: dict[str, Any],
    variant: str,
    kube_version: str,
) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    release = render(_variants(production_values, keys_values)[variant])
    failures = []

    for manifest in release.docs:
        try:
            kubernetes_validate.validate(manifest, kube_version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(p) for p in error.path)
            failures.append(
                f"{manifest['kind']}/{manifest['metadata']['name']}: {path}: {error.message}"
            )
        except kubernetes_validate.SchemaNotFoundError as error:
            failures.append(error.message)

    assert release.docs, "nothing rendered"
    assert failures == []


def test_kubernetes_validate_strict_rejects_a_broken_deployment(default_release: Any) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    broken = copy.deepcopy(default_release.deployment("auth"))
    broken["spec"]["replicas"] = "three"
    broken["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}

    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.37", strict=True)


# ---------------------------------------------------------------------------- values schema


@pytest.mark.parametrize(
    "bad_values",
    [
        {"config": {"logFormat": "xml"}},
        {"config": {"orderExpirationSeconds": "fifteen minutes"}},
        {"defaults": {"replicaCount": -1}},
        {"components": {"orderz": {}}},
        {"image": {"pullPolicy": "Sometimes"}},
        {"backends": {"mongoUrl": "postgres://db:5432/x"}},
        {"securityContext": {"runAsNonRoot": False}},
        {"ingress": {"host": "Not A Host"}},
        {"jwt": {"privateKey": "not a pem"}},
        {"unknownTopLevelKey": True},
    ],
)
def test_values_schema_rejects_a_bad_value(
    chart: Any, helm: Any, bad_values: dict[str, Any]
) -> None:
    with pytest.raises(helm.HelmValuesError):
        chart.validate_schema(bad_values)


def test_values_schema_accepts_the_defaults_and_the_production_file(
    chart: Any, production_values: dict[str, Any]
) -> None:
    chart.validate_schema({})
    chart.validate_schema(production_values)


def test_render_refuses_values_the_schema_rejects(chart: Any, helm: Any) -> None:
    with pytest.raises(helm.HelmValuesError):
        chart.render({"defaults": {"replicaCount": "three"}}, name=RELEASE, namespace="shop")


# ---------------------------------------------------------------------------- ingress


def test_ingress_routes_follow_the_spec_order_with_the_client_catch_all_last(
    default_release: Any,
) -> None:
    ingress = default_release.get("Ingress", RELEASE)

    rules = ingress["spec"]["rules"]
    routes = [(p["path"], p["backend"]["service"]["name"]) for p in rules[0]["http"]["paths"]]

    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert rules[0]["host"] == "ticketing.dev"
    assert routes == [
        # The emulator's 3-D Secure challenge pages (a development release: emulator mode).
        ("/_emulator/3ds/", "ticketing-stripe-emulator"),
        ("/api/users", "ticketing-auth"),
        ("/api/tickets", "ticketing-tickets"),
        ("/api/orders", "ticketing-orders"),
        ("/api/payments", "ticketing-payments"),
        ("/", "ticketing-client"),
    ]


def test_with_real_stripe_no_emulator_page_is_routed(
    render: Any, keys_values: dict[str, Any]
) -> None:
    ingress = render(keys_values).get("Ingress", RELEASE)

    paths = [p["path"] for p in ingress["spec"]["rules"][0]["http"]["paths"]]
    assert not [p for p in paths if p.startswith("/_emulator")]


def test_the_emulator_sends_browsers_to_its_challenge_pages_through_the_ingress(
    render: Any, default_release: Any
) -> None:
    tls = render(dev({"ingress": {"tls": {"enabled": True}}}))

    assert default_release.env("stripe-emulator")["STRIPE_EMULATOR_PUBLIC_URL"]["value"] == (
        "http://ticketing.dev"
    )
    assert tls.env("stripe-emulator")["STRIPE_EMULATOR_PUBLIC_URL"]["value"] == (
        "https://ticketing.dev"
    )
    # The ingress controller may reach it (for those pages), besides payments.
    policy = default_release.get("NetworkPolicy", "ticketing-stripe-emulator")
    peers = [peer for rule in policy["spec"]["ingress"] for peer in rule.get("from", [])]
    assert any("ingress-nginx" in str(peer.get("namespaceSelector")) for peer in peers)


def test_ingress_backends_are_rendered_services_with_an_http_port(default_release: Any) -> None:
    ingress = default_release.get("Ingress", RELEASE)
    services = {s["metadata"]["name"]: s for s in default_release.of_kind("Service")}

    for path in ingress["spec"]["rules"][0]["http"]["paths"]:
        backend = path["backend"]["service"]
        assert backend["name"] in services
        assert backend["port"] == {"name": "http"}
        assert "http" in {p["name"] for p in services[backend["name"]]["spec"]["ports"]}


def test_ingress_host_and_tls_come_from_values(render: Any) -> None:
    release = render(dev({"ingress": {"host": "shop.example.org", "tls": {"enabled": True}}}))

    ingress = release.get("Ingress", RELEASE)

    assert ingress["spec"]["rules"][0]["host"] == "shop.example.org"
    assert ingress["spec"]["tls"] == [
        {"hosts": ["shop.example.org"], "secretName": "ticketing-tls"}
    ]


def test_ingress_can_be_switched_off(render: Any) -> None:
    release = render(dev({"ingress": {"enabled": False}}))

    assert release.of_kind("Ingress") == []


# ---------------------------------------------------------------------------- secrets


def test_private_jwt_key_is_mounted_only_into_auth(
    render: Any, keys_values: dict[str, Any]
) -> None:
    for release in (render(EMULATOR), render(keys_values)):
        holders = {
            name
            for name, deployment in deployments_of(release).items()
            for container in deployment["spec"]["template"]["spec"]["containers"]
            for var in container.get("env", [])
            if var["name"] == "JWT_PRIVATE_KEY"
            or var.get("valueFrom", {}).get("secretKeyRef", {}).get("key") == "JWT_PRIVATE_KEY"
        }
        no_env_from = all(
            "envFrom" not in c
            for d in release.of_kind("Deployment")
            for c in d["spec"]["template"]["spec"]["containers"]
        )

        assert holders == {"ticketing-auth"}
        assert no_env_from


def test_public_jwt_key_reaches_every_http_service_and_nothing_else(default_release: Any) -> None:
    holders = {
        p for p in (*ALL_PROCESSES, "stripe-emulator") if "JWT_PUBLIC_KEY" in default_release.env(p)
    }

    assert holders == {*HTTP_APIS, "client"}


def test_jwt_keys_given_in_values_are_rendered_into_the_release_secret(
    render: Any, keys_values: dict[str, Any]
) -> None:
    release = render(keys_values)

    secret = release.get("Secret", "ticketing-jwt")

    assert secret["stringData"] == {
        "JWT_PRIVATE_KEY": keys_values["jwt"]["privateKey"],
        "JWT_PUBLIC_KEY": keys_values["jwt"]["publicKey"],
    }
    assert release.secret_refs("auth")["JWT_PRIVATE_KEY"] == ("ticketing-jwt", "JWT_PRIVATE_KEY")


@pytest.mark.parametrize(
    ("section", "generated", "env_name", "component"),
    [
        ("jwt", "ticketing-jwt", "JWT_PUBLIC_KEY", "orders"),
        ("stripe", "ticketing-stripe", "STRIPE_SECRET_KEY", "payments"),
        ("backends", "ticketing-backends", "MONGO_URL", "tickets"),
    ],
)
def test_existing_secret_switches_off_the_generated_secret(
    render: Any,
    keys_values: dict[str, Any],
    section: str,
    generated: str,
    env_name: str,
    component: str,
) -> None:
    with_generated = render(keys_values)
    values = copy.deepcopy(keys_values)
    values.setdefault(section, {})["existingSecret"] = "from-vault"

    release = render(values)

    assert generated in with_generated.names("Secret")
    assert generated not in release.names("Secret")
    assert "from-vault" not in release.names("Secret"), "the chart must not overwrite it"
    assert release.secret_refs(component)[env_name] == ("from-vault", env_name)


def test_without_jwt_keys_the_pods_wait_for_a_secret_the_notes_explain(
    default_release: Any,
) -> None:
    assert "ticketing-jwt" not in default_release.names("Secret")
    assert default_release.secret_refs("auth")["JWT_PRIVATE_KEY"] == (
        "ticketing-jwt",
        "JWT_PRIVATE_KEY",
    )
    assert "kubectl -n shop create secret generic ticketing-jwt" in default_release.notes


def test_backend_urls_reach_only_the_services_that_use_them(default_release: Any) -> None:
    users = {
        var: {p for p in (*ALL_PROCESSES, "stripe-emulator") if var in default_release.env(p)}
        for var in ("MONGO_URL", "AMQP_URL", "REDIS_URL")
    }

    assert users == {
        "MONGO_URL": {"auth", "tickets", "orders", "payments"},
        "AMQP_URL": {"auth", "tickets", "orders", "payments", "expiration", "expiration-worker"},
        "REDIS_URL": {"expiration", "expiration-worker"},
    }
    assert default_release.secret_refs("orders")["MONGO_URL"] == ("ticketing-backends", "MONGO_URL")


def test_backend_urls_are_stored_in_a_secret_not_in_the_configmap(render: Any) -> None:
    release = render(
        dev({"backends": {"mongoUrl": "mongodb://u:hunter2@db:27017/?replicaSet=rs0"}})
    )

    configmap = release.get("ConfigMap", "ticketing-config")
    secret = release.get("Secret", "ticketing-backends")

    assert "hunter2" not in yaml.safe_dump(configmap)
    assert secret["stringData"]["MONGO_URL"] == "mongodb://u:hunter2@db:27017/?replicaSet=rs0"
    assert all("hunter2" not in yaml.safe_dump(d) for d in release.of_kind("Deployment"))


def test_every_config_and_secret_reference_points_at_something_that_exists(
    render: Any, keys_values: dict[str, Any]
) -> None:
    release = render(keys_values)
    configmap = release.get("ConfigMap", "ticketing-config")
    secrets = {s["metadata"]["name"]: s for s in release.of_kind("Secret")}
    missing = []

    for deployment in release.of_kind("Deployment"):
        for var in deployment["spec"]["template"]["spec"]["containers"][0]["env"]:
            source = var.get("valueFrom", {})
            if "configMapKeyRef" in source:
                ref = source["configMapKeyRef"]
                if ref["name"] != "ticketing-config" or ref["key"] not in configmap["data"]:
                    missing.append((deployment["metadata"]["name"], var["name"]))
            if "secretKeyRef" in source and not source["secretKeyRef"].get("optional"):
                ref = source["secretKeyRef"]
                if ref["key"] not in secrets.get(ref["name"], {}).get("stringData", {}):
                    missing.append((deployment["metadata"]["name"], var["name"]))

    assert missing == []


# ---------------------------------------------------------------------------- Stripe


def test_without_a_stripe_key_or_the_emulator_the_chart_refuses_to_render(
    chart: Any, helm: Any
) -> None:
    # Before, a forgotten key meant the emulator, whose public webhook secret lets anyone
    # mark orders paid.
    with pytest.raises(helm.HelmRenderError, match="no Stripe configured") as refused:
        chart.render({}, name=RELEASE, namespace="shop")

    assert "stripe.emulator.enabled=true" in str(refused.value)
    assert "stripe.secretKey" in str(refused.value)


@pytest.mark.parametrize(
    "key", [{"secretKey": "sk_live_123"}, {"existingSecret": "from-vault"}], ids=["key", "secret"]
)
def test_a_stripe_key_and_the_emulator_together_refuse_to_render(
    chart: Any, helm: Any, key: dict[str, str]
) -> None:
    values = {"stripe": {**key, "emulator": {"enabled": True}}}

    with pytest.raises(helm.HelmRenderError, match="exclude each other"):
        chart.render(values, name=RELEASE, namespace="shop")


def test_the_emulator_runs_as_one_replica_never_autoscaled_and_posts_webhooks_to_payments(
    render: Any,
) -> None:
    # Even where every other component is scaled and autoscaled.
    release = render(
        dev(
            {
                "defaults": {
                    "replicaCount": 3,
                    "autoscaling": {"enabled": True},
                    "podDisruptionBudget": {"minAvailable": 1},
                },
                "components": {"stripeEmulator": {"replicaCount": 4}},
            }
        )
    )
    emulator = release.deployment("stripe-emulator")

    assert [d for d in deployments_of(release) if "stripe-emulator" in d] == [
        "ticketing-stripe-emulator"
    ]
    assert emulator["spec"]["replicas"] == 1
    assert emulator["spec"]["strategy"] == {"type": "Recreate"}
    assert "ticketing-stripe-emulator" not in release.names("HorizontalPodAutoscaler")
    assert "ticketing-stripe-emulator" not in release.names("PodDisruptionBudget")
    assert "ticketing-payments" in release.names("HorizontalPodAutoscaler")
    assert release.env("stripe-emulator")["STRIPE_WEBHOOK_URL"] == {
        "name": "STRIPE_WEBHOOK_URL",
        "value": "http://ticketing-payments:3000/api/payments/webhook",
    }
    assert "ticketing-payments" in release.names("Service")


def test_with_the_emulator_payments_runs_in_emulator_mode_against_its_service(
    default_release: Any,
) -> None:
    payments = default_release.env("payments")

    assert payments["STRIPE_MODE"] == {"name": "STRIPE_MODE", "value": "emulator"}
    assert payments["STRIPE_API_BASE"]["valueFrom"]["configMapKeyRef"]["key"] == "STRIPE_API_BASE"
    assert (
        default_release.get("ConfigMap", "ticketing-config")["data"]["STRIPE_API_BASE"]
        == "http://ticketing-stripe-emulator:12111"
    )
    assert "STRIPE_SECRET_KEY" not in payments
    assert "ticketing-stripe-emulator" in default_release.names("Service")
    assert "WARNING: payments uses the in-cluster Stripe emulator" in default_release.notes


def test_with_a_stripe_key_there_is_no_emulator_and_payments_uses_stripe(
    render: Any, keys_values: dict[str, Any]
) -> None:
    with_key = render(keys_values)
    payments = with_key.env("payments")

    assert "ticketing-stripe-emulator" not in deployments_of(with_key)
    assert "ticketing-stripe-emulator" not in with_key.names("Service")
    assert "STRIPE_API_BASE" not in with_key.get("ConfigMap", "ticketing-config")["data"]
    assert payments["STRIPE_MODE"] == {"name": "STRIPE_MODE", "value": "stripe"}
    assert "STRIPE_API_BASE" not in payments
    assert with_key.secret_refs("payments")["STRIPE_SECRET_KEY"] == (
        "ticketing-stripe",
        "STRIPE_SECRET_KEY",
    )
    assert "Stripe emulator" not in with_key.notes


def test_stripe_secrets_reach_only_payments_and_the_emulator(
    render: Any, keys_values: dict[str, Any]
) -> None:
    for release in (render(EMULATOR), render(keys_values)):
        holders = {
            p
            for p in (*ALL_PROCESSES, "stripe-emulator")
            if any(
                v.startswith("STRIPE_") and v != "STRIPE_PUBLISHABLE_KEY" and v != "STRIPE_API_BASE"
                for v in _env_or_empty(release, p)
            )
        }

        assert holders <= {"payments", "stripe-emulator"}
        assert "payments" in holders


def _env_or_empty(release: Any, component: str) -> dict[str, Any]:
    try:
        return release.env(component)
    except AssertionError:
        return {}


# ---------------------------------------------------------------------------- workloads


@pytest.mark.parametrize("values_name", ["default", "production"])
def test_every_deployment_has_probes_security_context_and_resources(
    default_release: Any, production_release: Any, values_name: str
) -> None:
    release = production_release if values_name == "production" else default_release

    for name, deployment in deployments_of(release).items():
        pod = deployment["spec"]["template"]["spec"]
        container = pod["containers"][0]
        security = container["securityContext"]
        tmp_volumes = {v["name"] for v in pod["volumes"] if "emptyDir" in v}

        # On the management port, but the emulator's (test_helm_exposure.py).
        port = "http" if name == f"{RELEASE}-stripe-emulator" else "management"
        probe = {"path": "/healthz", "port": port}
        assert container["livenessProbe"]["httpGet"] == probe, name
        assert container["readinessProbe"]["httpGet"] == {**probe, "path": "/readyz"}, name
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz", name
        assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
        assert container["resources"]["limits"]["memory"], name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] == 10001, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert security["allowPrivilegeEscalation"] is False, name
        assert security["readOnlyRootFilesystem"] is True, name
        assert security["capabilities"] == {"drop": ["ALL"]}, name
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"], name
        assert "tmp" in tmp_volumes, name
        assert pod["automountServiceAccountToken"] is False, name


def test_pods_sleep_before_sigterm_so_they_leave_the_endpoints_while_still_serving(
    default_release: Any, render: Any
) -> None:
    for name, deployment in deployments_of(default_release).items():
        pod = deployment["spec"]["template"]["spec"]
        pre_stop = pod["containers"][0]["lifecycle"]["preStop"]

        assert pre_stop == {"exec": {"command": ["sleep", "5"]}}, name
        # The sleep, then SHUTDOWN_TIMEOUT_SECONDS (10) for requests, then the consumer.
        assert pod["terminationGracePeriodSeconds"] >= 5 + 10 + 10, name

    switched_off = render(dev({"defaults": {"preStopSleepSeconds": 0}}))
    for name, deployment in deployments_of(switched_off).items():
        assert "lifecycle" not in deployment["spec"]["template"]["spec"]["containers"][0], name


def test_each_deployment_runs_its_own_module_on_its_port(default_release: Any) -> None:
    commands = {
        name: d["spec"]["template"]["spec"]["containers"][0]["command"]
        for name, d in deployments_of(default_release).items()
    }

    assert commands == {
        "ticketing-auth": ["python", "-m", "services.auth"],
        "ticketing-tickets": ["python", "-m", "services.tickets"],
        "ticketing-orders": ["python", "-m", "services.orders"],
        "ticketing-payments": ["python", "-m", "services.payments"],
        "ticketing-expiration": ["python", "-m", "services.expiration"],
        "ticketing-expiration-worker": ["python", "-m", "services.expiration.worker"],
        "ticketing-client": ["python", "-m", "services.client"],
        "ticketing-stripe-emulator": ["python", "-m", "stripe_emulator"],
    }
    assert default_release.env("stripe-emulator")["PORT"]["value"] == "12111"
    assert default_release.env("auth")["PORT"]["value"] == "3000"


def test_services_and_pdbs_select_exactly_their_deployments_pods(production_release: Any) -> None:
    pods = {
        name: d["spec"]["template"]["metadata"]["labels"]
        for name, d in deployments_of(production_release).items()
    }

    for kind, selector_path in (
        ("Service", ("spec", "selector")),
        ("PodDisruptionBudget", ("spec", "selector", "matchLabels")),
    ):
        for obj in production_release.of_kind(kind):
            selector = obj
            for key in selector_path:
                selector = selector[key]
            matched = [n for n, labels in pods.items() if selector.items() <= labels.items()]
            assert matched == [obj["metadata"]["name"]], (kind, obj["metadata"]["name"], matched)


def test_expiration_and_its_worker_get_no_service(default_release: Any) -> None:
    services = default_release.names("Service")

    assert "ticketing-expiration" not in services
    assert "ticketing-expiration-worker" not in services


def test_autoscaling_replaces_the_fixed_replica_count(render: Any) -> None:
    release = render(
        dev(
            {
                "components": {
                    "orders": {"autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 9}}
                }
            }
        )
    )

    hpa = release.get("HorizontalPodAutoscaler", "ticketing-orders")

    assert "replicas" not in release.deployment("orders")["spec"]
    assert release.deployment("tickets")["spec"]["replicas"] == 1
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "ticketing-orders",
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 9)


def test_component_override_wins_over_defaults(render: Any) -> None:
    release = render(
        dev({"defaults": {"replicaCount": 2}, "components": {"client": {"replicaCount": 4}}})
    )

    assert release.deployment("client")["spec"]["replicas"] == 4
    assert release.deployment("auth")["spec"]["replicas"] == 2


def test_config_change_rolls_the_pods(render: Any) -> None:
    before = render(EMULATOR).deployment("orders")["spec"]["template"]["metadata"]["annotations"][
        "checksum/config"
    ]

    after = render(dev({"config": {"orderExpirationSeconds": 60}})).deployment("orders")["spec"][
        "template"
    ]["metadata"]["annotations"]["checksum/config"]

    assert before != after


def test_cookie_secure_defaults_to_true(default_release: Any) -> None:
    configmap = default_release.get("ConfigMap", "ticketing-config")

    assert configmap["data"]["COOKIE_SECURE"] == "true"
    assert configmap["data"]["ORDER_EXPIRATION_SECONDS"] == "900"


def test_client_calls_the_apis_through_the_in_cluster_services(default_release: Any) -> None:
    data = default_release.get("ConfigMap", "ticketing-config")["data"]

    assert {
        k: data[k]
        for k in ("AUTH_API_URL", "TICKETS_API_URL", "ORDERS_API_URL", "PAYMENTS_API_URL")
    } == {
        "AUTH_API_URL": "http://ticketing-auth:3000",
        "TICKETS_API_URL": "http://ticketing-tickets:3000",
        "ORDERS_API_URL": "http://ticketing-orders:3000",
        "PAYMENTS_API_URL": "http://ticketing-payments:3000",
    }
    assert {"API_BASE_URL", "AUTH_API_URL", "STRIPE_PUBLISHABLE_KEY"} <= set(
        default_release.env("client")
    )


# ---------------------------------------------------------------------------- network policies


def _allowed_peers(release: Any, component: str) -> list[dict[str, Any]]:
    policy = release.get("NetworkPolicy", f"{RELEASE}-{component}")
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    return [peer for rule in policy["spec"].get("ingress", []) for peer in rule.get("from", [])]


def _component_of(peer: dict[str, Any]) -> str:
    if "namespaceSelector" in peer:
        return "ingress-controller"
    return str(peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"])


def test_http_services_accept_traffic_only_from_the_ingress_controller_and_their_callers(
    default_release: Any,
) -> None:
    allowed = {
        c: sorted(_component_of(p) for p in _allowed_peers(default_release, c))
        for c in (*HTTP_APIS, "client", "stripe-emulator")
    }

    assert allowed == {
        "auth": ["client", "ingress-controller"],
        "tickets": ["client", "ingress-controller"],
        "orders": ["client", "ingress-controller"],
        "payments": ["client", "ingress-controller", "stripe-emulator"],
        "client": ["ingress-controller"],
        "stripe-emulator": ["ingress-controller", "payments"],  # its 3-D Secure pages
    }
    ingress_peer = _allowed_peers(default_release, "auth")[0]
    assert ingress_peer["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}
    }


def test_expiration_and_its_worker_accept_no_traffic(default_release: Any) -> None:
    for component in ("expiration", "expiration-worker"):
        policy = default_release.get("NetworkPolicy", f"{RELEASE}-{component}")

        assert policy["spec"]["ingress"] == []
        assert (
            policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == component
        )


def test_every_pod_of_the_release_is_covered_by_a_network_policy(production_release: Any) -> None:
    selectors = [
        p["spec"]["podSelector"]["matchLabels"] for p in production_release.of_kind("NetworkPolicy")
    ]

    for name, deployment in deployments_of(production_release).items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert any(s.items() <= labels.items() for s in selectors), name


# ---------------------------------------------------------------------------- bundled backends


def test_bundled_backends_build_urls_from_the_community_charts_secrets(render: Any) -> None:
    release = render(
        dev(
            {
                "mongodb": {"enabled": True},
                "rabbitmq": {"enabled": True},
                "redis": {"enabled": True},
            }
        )
    )

    orders = release.env("orders")
    expiration = release.env("expiration")

    assert orders["MONGODB_ROOT_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "ticketing-mongodb",
        "key": "mongodb-root-password",
    }
    assert orders["MONGO_URL"]["value"] == (
        "mongodb://root:$(MONGODB_ROOT_PASSWORD)@ticketing-mongodb-headless:27017/?replicaSet=rs0&authSource=admin"
    )
    assert (
        orders["AMQP_URL"]["value"]
        == "amqp://ticketing:$(RABBITMQ_PASSWORD)@ticketing-rabbitmq:5672/"
    )
    assert (
        expiration["REDIS_URL"]["value"]
        == "redis://:$(REDIS_PASSWORD)@ticketing-redis-master:6379/0"
    )
    # $(VAR) expansion only sees variables defined earlier in the list.
    names = [v["name"] for v in release.container("orders")["env"]]
    assert names.index("MONGODB_ROOT_PASSWORD") < names.index("MONGO_URL")
    assert names.index("RABBITMQ_PASSWORD") < names.index("AMQP_URL")
    assert "ticketing-backends" not in release.names("Secret")


def test_bundled_umbrella_conditions_match_the_values_that_wire_the_services() -> None:
    bundled = CHART_DIR / "bundled"
    chart_yaml = yaml.safe_load((bundled / "Chart.yaml").read_text())
    values = yaml.safe_load((bundled / "values.yaml").read_text())

    dependencies = {d["name"]: d for d in chart_yaml["dependencies"]}

    assert dependencies["ticketing"]["repository"] == "file://.."
    assert (
        dependencies["ticketing"]["version"]
        == yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())["version"]
    )
    for backend in ("mongodb", "rabbitmq", "redis"):
        assert dependencies[backend]["condition"] == f"{backend}.enabled"
        assert values[backend]["enabled"] is True
        assert values["ticketing"][backend]["enabled"] is True
    assert values["mongodb"]["architecture"] == "replicaset"
    assert values["mongodb"]["replicaSetName"] == values["ticketing"]["mongodb"]["replicaSetName"]
    assert values["ticketing"]["mongodb"]["perServiceUsers"] is True
    assert values["ticketing"]["rabbitmq"]["perServiceUsers"] is True
    assert "appendonly yes" in values["redis"]["commonConfiguration"]


def test_bundled_umbrella_packages_this_chart_without_itself(bundled_umbrella: Umbrella) -> None:
    packaged = bundled_umbrella.packaged

    assert packaged
    assert not [n for n in packaged if "/bundled/" in n or "values-production" in n]
    orders = bundled_umbrella.release.get("Deployment", "shop-ticketing-orders")
    env = {v["name"]: v for v in orders["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["MONGO_URL"]["value"].startswith(
        "mongodb://orders:$(MONGODB_PASSWORD)@shop-mongodb-headless:27017/orders?"
    )


# ---------------------------------------------------------------------------- docs


def test_chart_readme_documents_install_and_the_values_a_user_must_set() -> None:
    readme = (CHART_DIR / "README.md").read_text()

    assert "helm install ticketing helm/ticketing" in readme
    for value in (
        "image.repository",
        "ingress.host",
        "jwt.existingSecret",
        "backends.mongoUrl",
        "stripe.secretKey",
        "stripe.emulator.enabled",
    ):
        assert value in readme, value
    assert "helm dependency update helm/ticketing/bundled" in readme
