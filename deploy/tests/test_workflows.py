""".github/workflows: valid GitHub Actions workflows that mirror `make test` (tox)."""

from __future__ import annotations

import re
from typing import Any

import pytest

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
