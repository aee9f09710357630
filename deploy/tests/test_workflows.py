""".github/workflows: valid GitHub Actions workflows that mirror `make test` (tox)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "helm" / "ticketing"

REQUIRED_PR_ENVS = {"py311", "py312", "py313", "lint", "type", "deploy"}


def jobs_of(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    jobs: dict[str, dict[str, Any]] = workflow["jobs"]
    return jobs


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    on = workflow["on"]
    if isinstance(on, str):
        return {on: {}}
    if isinstance(on, list):
        return {event: {} for event in on}
    return {event: spec or {} for event, spec in on.items()}


def run_scripts(job: dict[str, Any]) -> list[str]:
    return [step["run"] for step in job.get("steps", []) if "run" in step]


def tox_envs_run(job: dict[str, Any]) -> set[str]:
    """Tox envs a job runs, with matrix placeholders expanded."""
    envs: set[str] = set()
    matrix = job.get("strategy", {}).get("matrix", {})
    for script in run_scripts(job):
        for arg in re.findall(r"\btox\b[^\n]*?-e\s+(\$\{\{.*?\}\}|\S+)", script):
            placeholder = re.fullmatch(r"\$\{\{\s*matrix\.(\w+)\s*\}\}", arg)
            if placeholder:
                key = placeholder.group(1)
                envs |= {str(item[key]) for item in matrix.get("include", []) if key in item}
                envs |= {str(v) for v in matrix.get(key, [])}
            else:
                envs |= set(arg.split(","))
    return envs


def uses(job: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(step["uses"], step.get("with", {})) for step in job.get("steps", []) if "uses" in step]


def pr_workflows(workflows: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [w for w in workflows.values() if "pull_request" in triggers(w)]


def main_push_workflows(workflows: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for workflow in workflows.values():
        push = triggers(workflow).get("push")
        if push is not None and "main" in (push.get("branches") or []):
            found.append(workflow)
    return found


# ---------------------------------------------------------------------------- validity


def test_workflows_are_valid_against_the_github_workflow_schema(
    workflows: dict[str, dict[str, Any]], workflow_schema: dict[str, Any]
) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.validators.validator_for(workflow_schema)(workflow_schema)
    errors = {
        name: [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(workflow)
        ]
        for name, workflow in workflows.items()
    }

    assert errors == {name: [] for name in workflows}


def test_workflow_schema_check_rejects_a_broken_workflow(
    workflows: dict[str, dict[str, Any]], workflow_schema: dict[str, Any]
) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.validators.validator_for(workflow_schema)(workflow_schema)
    broken = dict(next(iter(workflows.values())))
    broken["jobs"] = {"bad": {"steps": [{"run": "true"}]}}  # no runs-on

    assert list(validator.iter_errors(broken))


def test_every_action_is_pinned_to_a_version(workflows: dict[str, dict[str, Any]]) -> None:
    for name, workflow in workflows.items():
        for job_name, job in jobs_of(workflow).items():
            for action, _ in uses(job):
                assert re.fullmatch(r"[\w.-]+/[\w./-]+@(v\d+(\.\d+)*|[0-9a-f]{40})", action), (
                    name,
                    job_name,
                    action,
                )


# ---------------------------------------------------------------------------- PRs mirror make test


def test_pull_requests_run_every_tox_env_of_make_test(
    workflows: dict[str, dict[str, Any]], tox_envlist: list[str]
) -> None:
    run = {
        env
        for w in pr_workflows(workflows)
        for job in jobs_of(w).values()
        for env in tox_envs_run(job)
    }

    assert run >= REQUIRED_PR_ENVS
    assert set(tox_envlist) <= run, "a bare `tox` (make test) runs envs CI does not"


def test_workflows_reference_only_tox_envs_that_exist(
    workflows: dict[str, dict[str, Any]], tox_envs: set[str]
) -> None:
    run = {
        env for w in workflows.values() for job in jobs_of(w).values() for env in tox_envs_run(job)
    }

    assert run, "no tox env is run by any workflow"
    assert run - tox_envs == set()


def test_python_matrix_matches_the_tox_envs(workflows: dict[str, dict[str, Any]]) -> None:
    pairs = set()
    for workflow in pr_workflows(workflows):
        for job in jobs_of(workflow).values():
            for item in job.get("strategy", {}).get("matrix", {}).get("include", []):
                if "python" in item and "toxenv" in item:
                    pairs.add((item["python"], item["toxenv"]))

    assert pairs == {("3.11", "py311"), ("3.12", "py312"), ("3.13", "py313")}


def test_tests_job_has_rabbitmq_and_redis_service_containers(
    workflows: dict[str, dict[str, Any]],
) -> None:
    jobs = [
        job
        for w in pr_workflows(workflows)
        for job in jobs_of(w).values()
        if {"py311", "py312", "py313"} & tox_envs_run(job)
    ]

    assert jobs
    for job in jobs:
        services = job.get("services", {})
        assert re.match(r"rabbitmq:(3\.13|4)", services["rabbitmq"]["image"])
        assert services["redis"]["image"].startswith("redis:")
        assert {"AMQP_URL", "REDIS_URL", "MONGO_URL"} <= set(job.get("env", {}))


def test_pull_requests_build_the_image_without_pushing(
    workflows: dict[str, dict[str, Any]],
) -> None:
    builds = [
        with_
        for w in pr_workflows(workflows)
        for job in jobs_of(w).values()
        for action, with_ in uses(job)
        if action.startswith("docker/build-push-action@")
    ]

    assert builds
    for with_ in builds:
        assert with_.get("file") == "deploy/Dockerfile"
        assert with_.get("context", ".") == "."
        assert str(with_.get("push", "false")).lower() == "false"


# ---------------------------------------------------------------------------- main pushes the image


def test_push_to_main_builds_and_pushes_the_image_to_ghcr(
    workflows: dict[str, dict[str, Any]],
) -> None:
    workflows_on_main = main_push_workflows(workflows)
    steps = [
        (action, with_)
        for w in workflows_on_main
        for job in jobs_of(w).values()
        for action, with_ in uses(job)
    ]
    builds = [with_ for action, with_ in steps if action.startswith("docker/build-push-action@")]
    logins = [with_ for action, with_ in steps if action.startswith("docker/login-action@")]
    images = [
        with_.get("images", "")
        for action, with_ in steps
        if action.startswith("docker/metadata-action@")
    ]

    assert builds
    assert all(str(b.get("push")).lower() == "true" for b in builds)
    assert all(b.get("file") == "deploy/Dockerfile" for b in builds)
    assert logins
    assert all(login.get("registry") == "ghcr.io" for login in logins)
    assert any(i.startswith("ghcr.io/") for i in images)
    assert any(w.get("permissions", {}).get("packages") == "write" for w in workflows_on_main)


def test_pull_request_workflows_cannot_write_packages(workflows: dict[str, dict[str, Any]]) -> None:
    for workflow in pr_workflows(workflows):
        assert workflow.get("permissions", {}).get("packages") != "write"
        for job in jobs_of(workflow).values():
            for _, with_ in uses(job):
                assert str(with_.get("push", "false")).lower() == "false"


# ---------------------------------------------------------------------------- releases


def image_workflow(workflows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return workflows["image.yml"]


def metadata_tags(workflow: dict[str, Any]) -> list[str]:
    return [
        line.strip()
        for job in jobs_of(workflow).values()
        for action, with_ in uses(job)
        if action.startswith("docker/metadata-action@")
        for line in str(with_.get("tags", "")).splitlines()
        if line.strip()
    ]


def chart_yaml() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
    return loaded


def test_release_tags_publish_semver_images_for_amd64_and_arm64(
    workflows: dict[str, dict[str, Any]],
) -> None:
    workflow = image_workflow(workflows)
    push = triggers(workflow)["push"]
    steps = [action for job in jobs_of(workflow).values() for action, _ in uses(job)]
    builds = [
        with_
        for job in jobs_of(workflow).values()
        for action, with_ in uses(job)
        if action.startswith("docker/build-push-action@")
    ]

    assert "v*.*.*" in push["tags"]
    assert "main" in push["branches"]
    # vX.Y.Z -> X.Y.Z and X.Y; sha-* on every push; latest on main only.
    assert {
        "type=semver,pattern={{version}}",
        "type=semver,pattern={{major}}.{{minor}}",
        "type=sha,format=short",
        "type=raw,value=latest,enable={{is_default_branch}}",
    } <= set(metadata_tags(workflow))
    assert any(a.startswith("docker/setup-qemu-action@") for a in steps)
    assert any(a.startswith("docker/setup-buildx-action@") for a in steps)
    assert builds
    for with_ in builds:
        assert set(with_["platforms"].split(",")) == {"linux/amd64", "linux/arm64"}


def chart_job(workflows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    found = [
        job
        for job in jobs_of(image_workflow(workflows)).values()
        if any("helm push" in script for script in run_scripts(job))
    ]
    assert len(found) == 1, "image.yml has no (or more than one) job that runs `helm push`"
    return found[0]


def test_release_tags_push_the_chart_to_ghcr_as_an_oci_artifact(
    workflows: dict[str, dict[str, Any]],
) -> None:
    job = chart_job(workflows)
    scripts = "\n".join(run_scripts(job))

    # Only on release tags, and only once the image it defaults to is pushed.
    assert "refs/tags/v" in job["if"]
    assert job["needs"] in ("push", ["push"])
    assert re.search(r"^\s*helm package helm/ticketing\b", scripts, re.M)
    assert re.search(r'^\s*helm push \S+ "?oci://ghcr\.io/\$\{owner\}/charts"?$', scripts, re.M)
    assert "helm registry login ghcr.io" in scripts
    assert any(a.startswith("azure/setup-helm@") for a, _ in uses(job))


def run_version_check(
    workflows: dict[str, dict[str, Any]], tag: str
) -> subprocess.CompletedProcess[str]:
    steps = [s for s in chart_job(workflows)["steps"] if "appVersion" in s.get("run", "")]
    assert len(steps) == 1, "the chart job has no step that checks Chart.yaml against the tag"
    env = {"PATH": os.environ["PATH"], "TAG": tag}
    return subprocess.run(
        ["bash", "-c", steps[0]["run"]],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_chart_job_fails_when_the_tag_differs_from_the_charts_version(
    workflows: dict[str, dict[str, Any]],
) -> None:
    if not shutil.which("bash") or not shutil.which("sed"):
        pytest.skip("needs bash and sed")
    chart = chart_yaml()
    assert chart["version"] == chart["appVersion"], "a release publishes one number for both"

    assert run_version_check(workflows, f"v{chart['version']}").returncode == 0
    wrong = run_version_check(workflows, "v99.0.0")
    assert wrong.returncode != 0
    assert "99.0.0" in wrong.stdout


def test_the_charts_default_image_tag_is_the_one_its_release_tag_publishes(
    default_release: Any, workflows: dict[str, dict[str, Any]]
) -> None:
    app_version = str(chart_yaml()["appVersion"])
    image = default_release.container("auth")["image"]

    # image.tag "" falls back to appVersion ...
    assert image.rsplit(":", 1)[1] == app_version
    # ... which is the plain X.Y.Z that the tag vX.Y.Z publishes ({{version}} drops the v).
    assert re.fullmatch(r"\d+\.\d+\.\d+", app_version)
    assert "type=semver,pattern={{version}}" in metadata_tags(image_workflow(workflows))
    readme = (CHART_DIR / "README.md").read_text()
    for tag in ("X.Y.Z", "sha-", "latest"):
        assert tag in readme


# ---------------------------------------------------------------------------- bundled backends


def image_refs(values: Any, path: str = "") -> dict[str, str]:
    """path -> "registry/repository" of every image block in a values tree."""
    found: dict[str, str] = {}
    if isinstance(values, dict):
        if "repository" in values and path.endswith("image"):
            found[path] = f"{values.get('registry', 'docker.io')}/{values['repository']}"
        for key, value in values.items():
            found |= image_refs(value, f"{path}.{key}" if path else str(key))
    return found


def test_bundled_backends_pull_images_that_still_exist() -> None:
    bundled = CHART_DIR / "bundled"
    values = yaml.safe_load((bundled / "values.yaml").read_text())
    refs = image_refs(values)

    # The main image of each community chart is overridden (their defaults are docker.io/bitnami).
    assert {"mongodb.image", "rabbitmq.image", "redis.image"} <= set(refs)
    for path, ref in refs.items():
        assert ref.startswith("docker.io/bitnamilegacy/"), (path, ref)
    # The charts reject substituted images without this.
    assert values["global"]["security"]["allowInsecureImages"] is True
    for name in ("values.yaml", "Chart.yaml"):
        text = (bundled / name).read_text()
        assert not re.search(r"docker\.io/bitnami/|(?<![\w./-])bitnami/", text), name
    readme = (CHART_DIR / "README.md").read_text()
    assert "bitnamilegacy" in readme
