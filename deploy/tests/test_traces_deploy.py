"""Traces (issue 16, "There are no traces") where the stack is deployed: the chart's
``otel.endpoint`` sets OTEL_EXPORTER_OTLP_ENDPOINT for every process run by shared.runner, with
OTEL_SERVICE_NAME its own name, and unset gives no process either (traces stay off); compose
passes OTEL_EXPORTER_OTLP_ENDPOINT through from .env, empty by default."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from deploy.tests.conftest import CHART_DIR, EMULATOR_VALUES, RELEASE, Release, deep_merge
from deploy.tests.test_helm_metrics import METRICS_COMPONENTS

COLLECTOR = "http://otel-collector.observability:4318"


@pytest.fixture(scope="module")
def traced(render: Callable[..., Release]) -> Release:
    return render(deep_merge(EMULATOR_VALUES, {"otel": {"endpoint": COLLECTOR}}))


@pytest.mark.parametrize("component", METRICS_COMPONENTS)
def test_each_process_exports_to_the_endpoint_under_its_own_name(
    traced: Release, component: str
) -> None:
    env = traced.env(component)

    ref = env["OTEL_EXPORTER_OTLP_ENDPOINT"]["valueFrom"]["configMapKeyRef"]
    assert ref == {"name": f"{RELEASE}-config", "key": "OTEL_EXPORTER_OTLP_ENDPOINT"}
    assert traced.get("ConfigMap", f"{RELEASE}-config")["data"][ref["key"]] == COLLECTOR
    assert env["OTEL_SERVICE_NAME"] == {"name": "OTEL_SERVICE_NAME", "value": component}


def test_the_stripe_emulator_is_not_traced(traced: Release) -> None:
    # It is no shared.runner process: it would ignore the variables.
    assert not {"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME"} & set(
        traced.env("stripe-emulator")
    )


def test_without_an_endpoint_no_process_gets_one(default_release: Release) -> None:
    assert (
        "OTEL_EXPORTER_OTLP_ENDPOINT"
        not in default_release.get("ConfigMap", f"{RELEASE}-config")["data"]
    )
    for component in METRICS_COMPONENTS:
        assert not {"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME"} & set(
            default_release.env(component)
        )


@pytest.mark.parametrize("endpoint", ["otel-collector:4318", "grpc://collector:4317"])
def test_an_endpoint_that_is_not_an_http_url_is_refused(
    chart: Any, helm: Any, endpoint: str
) -> None:
    with pytest.raises(helm.HelmValuesError):
        chart.validate_schema(deep_merge(EMULATOR_VALUES, {"otel": {"endpoint": endpoint}}))


def test_the_schema_accepts_an_http_endpoint_and_none(chart: Any) -> None:
    chart.validate_schema({"otel": {"endpoint": COLLECTOR}})
    chart.validate_schema({"otel": {"endpoint": ""}})


def test_the_chart_readme_documents_the_traces() -> None:
    readme = (CHART_DIR / "README.md").read_text()
    section = readme.split("## Traces", 1)[1].split("\n## ", 1)[0]

    for needle in ("otel.endpoint", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME"):
        assert needle in section, needle


def test_compose_passes_the_endpoint_from_the_env_file_to_every_process(
    compose: dict[str, Any], env_example: dict[str, str]
) -> None:
    for name in METRICS_COMPONENTS:
        environment = compose["services"][name]["environment"]
        assert environment["OTEL_EXPORTER_OTLP_ENDPOINT"] == "${OTEL_EXPORTER_OTLP_ENDPOINT:-}"
    assert env_example["OTEL_EXPORTER_OTLP_ENDPOINT"] == ""  # off unless you name a collector
