"""Fixtures for the offline checks of the deployment files.

Everything here runs without Docker, a cluster or the network: the Helm chart is rendered and
linted with the Helm SDK (helm-python-sdk, a ctypes binding of Helm's Go library), manifests are
validated with kubernetes-validate's bundled schemas, and the compose file and workflows with
the JSON schemas that check-jsonschema ships. See deploy/requirements-deploy.txt.
"""

from __future__ import annotations

import configparser
import copy
import json
import re
import shutil
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "helm" / "ticketing"
PRODUCTION_VALUES = CHART_DIR / "values-production.yaml"
COMPOSE_FILE = REPO_ROOT / "docker-compose.rabbit.yml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
DOCKERFILE = REPO_ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
WORKFLOWS_DIR = REPO_ROOT / ".github" / "workflows"
TOX_INI = REPO_ROOT / "tox.ini"

RELEASE = "ticketing"
NAMESPACE = "shop"

# A syntactically valid Ed25519 key pair shape for values that need one (never a real key:
# the chart only passes the text through).
FAKE_PRIVATE_KEY = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
    "-----END PRIVATE KEY-----\n"
)
FAKE_PUBLIC_KEY = (
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
    "-----END PUBLIC KEY-----\n"
)


# ---------------------------------------------------------------------------- helm


@dataclass
class Release:
    """The manifests of one offline `helm template`."""

    files: dict[str, str]
    docs: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for path, text in sorted(self.files.items()):
            if not path.endswith((".yaml", ".yml")):
                continue
            for doc in yaml.safe_load_all(text):
                if isinstance(doc, dict) and doc:
                    self.docs.append(doc)

    @property
    def notes(self) -> str:
        return next((t for p, t in self.files.items() if p.endswith("NOTES.txt")), "")

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["kind"] == kind]

    def get(self, kind: str, name: str) -> dict[str, Any]:
        found = [d for d in self.of_kind(kind) if d["metadata"]["name"] == name]
        assert found, (
            f"no {kind} {name!r}; have {[d['metadata']['name'] for d in self.of_kind(kind)]}"
        )
        return found[0]

    def names(self, kind: str) -> set[str]:
        return {d["metadata"]["name"] for d in self.of_kind(kind)}

    def deployment(self, component: str) -> dict[str, Any]:
        return self.get("Deployment", f"{RELEASE}-{component}")

    def container(self, component: str) -> dict[str, Any]:
        containers = self.deployment(component)["spec"]["template"]["spec"]["containers"]
        assert len(containers) == 1
        return containers[0]

    def env(self, component: str) -> dict[str, dict[str, Any]]:
        """Environment of a component's container: name -> EnvVar."""
        return {e["name"]: e for e in self.container(component).get("env", [])}

    def secret_refs(self, component: str) -> dict[str, tuple[str, str]]:
        """Env name -> (secret name, key) for every secretKeyRef of a component."""
        refs = {}
        for name, var in self.env(component).items():
            ref = var.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                refs[name] = (ref["name"], ref["key"])
        return refs


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


@pytest.fixture(scope="session")
def helm() -> Any:
    return pytest.importorskip(
        "helm_python", reason="pip install -r deploy/requirements-deploy.txt"
    )


@pytest.fixture(scope="session")
def chart(helm: Any) -> Iterator[Any]:
    with helm.Chart.load(str(CHART_DIR)) as loaded:
        yield loaded


@pytest.fixture(scope="session")
def render(chart: Any) -> Callable[..., Release]:
    """render(values=None, name=..., namespace=...) -> Release, cached per arguments."""
    cache: dict[str, Release] = {}

    def _render(
        values: dict[str, Any] | None = None, name: str = RELEASE, namespace: str = NAMESPACE
    ) -> Release:
        key = json.dumps([values, name, namespace], sort_keys=True)
        if key not in cache:
            cache[key] = Release(chart.render(values or {}, name=name, namespace=namespace))
        return cache[key]

    return _render


@pytest.fixture(scope="session")
def production_values() -> dict[str, Any]:
    return yaml.safe_load(PRODUCTION_VALUES.read_text())


# The chart renders nothing without a Stripe choice (a key, or the emulator): the tests'
# usual release is a development cluster's, the defaults plus the in-cluster emulator.
EMULATOR_VALUES: dict[str, Any] = {"stripe": {"emulator": {"enabled": True}}}


@pytest.fixture(scope="session")
def default_release(render: Callable[..., Release]) -> Release:
    return render(EMULATOR_VALUES)


@pytest.fixture(scope="session")
def production_release(
    render: Callable[..., Release], production_values: dict[str, Any]
) -> Release:
    return render(production_values)


@pytest.fixture(scope="session")
def keys_values() -> dict[str, Any]:
    """Values that make the chart render its own JWT, Stripe and backends Secrets."""
    return {
        "jwt": {"privateKey": FAKE_PRIVATE_KEY, "publicKey": FAKE_PUBLIC_KEY},
        "stripe": {
            "secretKey": "sk_test_123",
            "webhookSecret": "whsec_123",
            "publishableKey": "pk_test_123",
        },
    }


@dataclass
class Umbrella:
    """The bundled/ umbrella chart rendered offline: with this chart packaged as its only
    dependency (the community charts need the network, so they are dropped)."""

    release: Release
    packaged: list[str]  # the names inside the packaged ticketing chart
    values: dict[str, Any]  # bundled/values.yaml


@pytest.fixture(scope="session")
def bundled_umbrella(helm: Any, tmp_path_factory: pytest.TempPathFactory) -> Umbrella:
    workdir = tmp_path_factory.mktemp("umbrella") / "ticketing"
    shutil.copytree(CHART_DIR, workdir, ignore=shutil.ignore_patterns("charts", "Chart.lock"))
    umbrella = workdir / "bundled"
    chart_yaml = yaml.safe_load((umbrella / "Chart.yaml").read_text())
    chart_yaml["dependencies"] = [
        d for d in chart_yaml["dependencies"] if d["repository"].startswith("file://")
    ]
    (umbrella / "Chart.yaml").write_text(yaml.safe_dump(chart_yaml))

    helm.dependency_update(str(umbrella), skip_refresh=True)
    [archive_path] = list((umbrella / "charts").glob("ticketing-*.tgz"))
    with tarfile.open(archive_path) as archive:
        packaged = archive.getnames()
    values = yaml.safe_load((umbrella / "values.yaml").read_text())
    render_values = copy.deepcopy(values)
    render_values["ticketing"].update(EMULATOR_VALUES)  # the umbrella makes no Stripe choice
    with helm.Chart.load(str(umbrella)) as loaded:
        files = loaded.render(render_values, name="shop", namespace="x")
    return Umbrella(release=Release(files), packaged=packaged, values=values)


# ---------------------------------------------------------------------------- files


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="session")
def compose_text() -> str:
    return COMPOSE_FILE.read_text()


def _vendored_schema(name: str) -> dict[str, Any]:
    """A JSON schema that check-jsonschema vendors (from SchemaStore / the Compose spec)."""
    package = pytest.importorskip(
        "check_jsonschema.builtin_schemas.vendor",
        reason="pip install -r deploy/requirements-deploy.txt",
    )
    text = resources.files(package).joinpath(f"{name}.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@pytest.fixture(scope="session")
def compose_schema() -> dict[str, Any]:
    return _vendored_schema("compose-spec")


@pytest.fixture(scope="session")
def workflow_schema() -> dict[str, Any]:
    return _vendored_schema("github-workflows")


@pytest.fixture(scope="session")
def env_example() -> dict[str, str]:
    """Variables of .env.example, including the commented-out `# NAME=value` ones."""
    active: dict[str, str] = {}
    commented: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(r"^(#?)\s*([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            (commented if match.group(1) else active).setdefault(match.group(2), match.group(3))
    return {**commented, **active}


class Yaml12BoolLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans, as GitHub reads workflows: `on:` stays the string
    "on" (YAML 1.1 would make it True), only true/false are booleans."""


Yaml12BoolLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Yaml12BoolLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


@pytest.fixture(scope="session")
def workflows() -> dict[str, dict[str, Any]]:
    files = sorted([*WORKFLOWS_DIR.glob("*.yml"), *WORKFLOWS_DIR.glob("*.yaml")])
    assert files, f"no workflow files in {WORKFLOWS_DIR}"
    return {path.name: yaml.load(path.read_text(), Loader=Yaml12BoolLoader) for path in files}


@pytest.fixture(scope="session")
def tox_envs() -> set[str]:
    """Every env tox.ini defines: its envlist plus its [testenv:NAME] sections."""
    if not TOX_INI.exists():
        pytest.skip("tox.ini is not there yet")
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(TOX_INI)
    envs = set(re.split(r"[\s,]+", parser.get("tox", "envlist", fallback="").strip())) - {""}
    envs |= {
        section.split(":", 1)[1] for section in parser.sections() if section.startswith("testenv:")
    }
    return envs


@pytest.fixture(scope="session")
def tox_envlist() -> list[str]:
    """The envs a bare `tox` (so `make test`) runs."""
    if not TOX_INI.exists():
        pytest.skip("tox.ini is not there yet")
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(TOX_INI)
    return [e for e in re.split(r"[\s,]+", parser.get("tox", "envlist", fallback="").strip()) if e]
