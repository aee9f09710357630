"""The chart's gateways (issue 16): an optional Gateway API HTTPRoute beside the Ingress, and a
`helm test` hook that checks the gateway answers, its script run here against real servers."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import pytest

from deploy.tests.conftest import EMULATOR_VALUES, RELEASE, Release, deep_merge

ROUTES = {
    "/_emulator/3ds/": f"{RELEASE}-stripe-emulator",  # emulator mode: its challenge pages
    "/api/users": f"{RELEASE}-auth",
    "/api/tickets": f"{RELEASE}-tickets",
    "/api/orders": f"{RELEASE}-orders",
    "/api/payments": f"{RELEASE}-payments",
    "/": f"{RELEASE}-client",
}
PARENT = {"name": "public", "namespace": "gateway-system", "sectionName": "https"}


def with_gateway_api(**settings: Any) -> dict[str, Any]:
    return deep_merge(EMULATOR_VALUES, {"gatewayApi": {"enabled": True, **settings}})


# ---------------------------------------------------------------------------- HTTPRoute


def test_no_httproute_by_default(default_release: Release) -> None:
    assert default_release.of_kind("HTTPRoute") == []


def test_the_httproute_routes_every_path_of_the_ingress_to_the_same_service_port(
    render: Callable[..., Release],
) -> None:
    release = render(with_gateway_api(parentRefs=[PARENT]))
    route = release.get("HTTPRoute", RELEASE)
    ingress = release.get("Ingress", RELEASE)
    services = {s["metadata"]["name"]: s for s in release.of_kind("Service")}

    routed = {}
    for rule in route["spec"]["rules"]:
        [match] = rule["matches"]
        [backend] = rule["backendRefs"]
        assert match["path"]["type"] == "PathPrefix"
        routed[match["path"]["value"]] = backend
    ingress_paths = {
        p["path"]: p["backend"]["service"]["name"]
        for rule in ingress["spec"]["rules"]
        for p in rule["http"]["paths"]
    }

    assert {path: b["name"] for path, b in routed.items()} == ROUTES == ingress_paths
    for backend in routed.values():  # the Service's http port, never the management port
        [port] = services[backend["name"]]["spec"]["ports"]
        assert (port["name"], port["port"]) == ("http", backend["port"])
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["spec"]["parentRefs"] == [PARENT]
    assert route["spec"]["hostnames"] == ["ticketing.dev"]  # ingress.host by default


def test_the_httproute_takes_its_own_hostnames(render: Callable[..., Release]) -> None:
    release = render(with_gateway_api(parentRefs=[PARENT], hostnames=["tickets.example.com"]))

    assert release.get("HTTPRoute", RELEASE)["spec"]["hostnames"] == ["tickets.example.com"]


def test_an_httproute_without_a_gateway_to_attach_to_is_refused(chart: Any) -> None:
    with pytest.raises(Exception, match=r"gatewayApi\.parentRefs"):
        chart.render(with_gateway_api(), name=RELEASE)


def test_a_parent_ref_without_a_name_is_refused_by_the_schema(chart: Any) -> None:
    with pytest.raises(Exception, match="name"):
        chart.render(with_gateway_api(parentRefs=[{"namespace": "x"}]), name=RELEASE)


# ---------------------------------------------------------------------------- helm test


def hook_pod(release: Release) -> dict[str, Any]:
    return release.get("Pod", f"{RELEASE}-test-gateway")


def test_the_test_hook_asks_the_ingress_controller_with_the_public_host(
    default_release: Release,
) -> None:
    pod = hook_pod(default_release)
    [container] = pod["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}

    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["spec"]["restartPolicy"] == "Never"
    assert env == {
        "GATEWAY_URL": "http://ingress-nginx-controller.ingress-nginx.svc.cluster.local",
        "GATEWAY_HOST": "ticketing.dev",
    }
    # The app image: nothing else to pull, and the chart's hardened container settings.
    deployment = default_release.deployment("auth")["spec"]["template"]["spec"]
    assert container["image"] == deployment["containers"][0]["image"]
    assert container["securityContext"] == deployment["containers"][0]["securityContext"]


def test_the_test_hook_goes_to_a_given_gateway_url(render: Callable[..., Release]) -> None:
    values = deep_merge(
        with_gateway_api(parentRefs=[PARENT]),
        {
            "ingress": {"enabled": False},
            "tests": {"gateway": {"url": "https://gw.example.com/", "host": "t.example.com"}},
        },
    )
    [container] = hook_pod(render(values))["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}

    assert env == {"GATEWAY_URL": "https://gw.example.com", "GATEWAY_HOST": "t.example.com"}


def test_no_test_hook_without_a_gateway_to_ask_or_when_switched_off(
    render: Callable[..., Release],
) -> None:
    no_ingress = render(deep_merge(EMULATOR_VALUES, {"ingress": {"enabled": False}}))
    off = render(deep_merge(EMULATOR_VALUES, {"tests": {"enabled": False}}))

    assert no_ingress.of_kind("Pod") == off.of_kind("Pod") == []


class _Gateway(BaseHTTPRequestHandler):
    """Answers like the real gateway for Host: ticketing.dev, and 404 for any other host."""

    healthy = True

    def do_GET(self) -> None:
        if not self.healthy or self.headers["Host"] != "ticketing.dev":
            self._send(404, "text/html", b"<h1>404</h1>")
        elif self.path == "/api/users/currentuser":
            self._send(200, "application/json; charset=utf-8", b'{"currentUser": null}')
        elif self.path == "/":
            self._send(200, "text/html; charset=utf-8", b"<!doctype html><title>Tickets</title>")
        else:
            self._send(404, "application/json", b"{}")

    def _send(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def gateway() -> Iterator[tuple[str, type[_Gateway]]]:
    handler = type("Gateway", (_Gateway,), {"healthy": True})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def run_hook(release: Release, url: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The hook's container command, run here with its environment pointed at ``url``."""
    [container] = hook_pod(release)["spec"]["containers"]
    variables = {e["name"]: e["value"] for e in container["env"]}
    variables["GATEWAY_URL"] = url
    command = container["command"]
    assert command[:2] == ["python", "-c"]
    return subprocess.run(
        [sys.executable, "-c", command[2]],
        env={**os.environ, **variables, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_test_hook_passes_when_the_gateway_answers(
    default_release: Release, gateway: tuple[str, type[_Gateway]]
) -> None:
    url, _ = gateway
    result = run_hook(default_release, url)

    assert result.returncode == 0, result.stderr
    assert "answers" in result.stdout


def test_the_test_hook_fails_when_the_gateway_does_not_route_the_host(
    default_release: Release, gateway: tuple[str, type[_Gateway]]
) -> None:
    url, handler = gateway
    handler.healthy = False
    result = run_hook(default_release, url, GATEWAY_ATTEMPTS="2")

    assert result.returncode != 0
    assert "does not answer" in result.stderr
    assert "404" in result.stderr


def test_the_test_hook_fails_when_nothing_listens(default_release: Release) -> None:
    result = run_hook(default_release, "http://127.0.0.1:9", GATEWAY_ATTEMPTS="1")

    assert result.returncode != 0
    assert "does not answer" in result.stderr
