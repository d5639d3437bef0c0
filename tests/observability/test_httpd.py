"""The HTTP endpoint on a real loopback socket: /metrics, /healthz, /readyz, 404, shutdown."""

import json
import socket
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Counter

from publisher.errors import EndpointError
from publisher.observability.httpd import MetricsServer, Readiness
from tests.support.metrics import http_get


class Switch:
    """A readiness callable the test flips."""

    def __init__(self) -> None:
        self.state = Readiness(False, "gateway disconnected")

    def __call__(self) -> Readiness:
        return self.state


@pytest.fixture
def registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    Counter("demo_ticks", "Ticks.", ["instrument"], registry=registry).labels("AAPL").inc(3)
    return registry


@pytest.fixture
def switch() -> Switch:
    return Switch()


@pytest.fixture
def server(registry: CollectorRegistry, switch: Switch) -> Iterator[MetricsServer]:
    server = MetricsServer("127.0.0.1:0", registry, switch)
    yield server
    server.close()


def url(server: MetricsServer, path: str) -> str:
    return f"http://127.0.0.1:{server.port}{path}"


def test_metrics_serves_the_registry_as_prometheus_text(server: MetricsServer) -> None:
    """/metrics answers 200 with the registry's samples in the text format."""
    status, body = http_get(url(server, "/metrics"))
    assert status == 200
    assert 'demo_ticks_total{instrument="AAPL"} 3.0' in body


def test_metrics_leaves_out_created_series(server: MetricsServer) -> None:
    """No *_created series: only what the contract names is exported."""
    _, body = http_get(url(server, "/metrics"))
    assert "_created" not in body


def test_metrics_honours_a_name_filter(registry: CollectorRegistry, server: MetricsServer) -> None:
    """/metrics?name[]=x returns only that metric (and still no *_created)."""
    Counter("other", "Other.", registry=registry).inc()
    _, body = http_get(url(server, "/metrics?name[]=other_total"))
    assert "other_total 1.0" in body
    assert "demo_ticks" not in body
    assert "_created" not in body


def test_healthz_is_200_while_the_process_serves(server: MetricsServer) -> None:
    """/healthz answers 200 with a JSON status, whatever the readiness."""
    status, body = http_get(url(server, "/healthz"))
    assert (status, json.loads(body)) == (200, {"status": "ok"})


def test_readyz_is_503_with_the_reason_when_not_ready(server: MetricsServer) -> None:
    """/readyz answers 503 and says why while the readiness callable says not ready."""
    status, body = http_get(url(server, "/readyz"))
    assert status == 503
    assert json.loads(body) == {"ready": False, "reason": "gateway disconnected"}


def test_readyz_follows_the_readiness_callable(server: MetricsServer, switch: Switch) -> None:
    """/readyz is asked afresh on every request: 200 once the callable says ready."""
    switch.state = Readiness(True, "3 of 3 instruments streaming")
    status, body = http_get(url(server, "/readyz"))
    assert status == 200
    assert json.loads(body) == {"ready": True, "reason": "3 of 3 instruments streaming"}


def test_health_answers_are_not_cacheable(server: MetricsServer) -> None:
    """/readyz says Cache-Control: no-store, so no proxy serves a stale answer."""
    request = urllib.request.Request(url(server, "/healthz"))
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Cache-Control"] == "no-store"


def test_unknown_path_is_404(server: MetricsServer) -> None:
    """Any other path answers 404 with a JSON error."""
    status, body = http_get(url(server, "/nope"))
    assert status == 404
    assert "no such path" in json.loads(body)["error"]


def test_close_releases_the_port(registry: CollectorRegistry, switch: Switch) -> None:
    """After close() the port can be bound again at once."""
    server = MetricsServer("127.0.0.1:0", registry, switch)
    port = server.port
    server.close()
    again = MetricsServer(f"127.0.0.1:{port}", registry, switch)
    again.close()


def test_a_malformed_listen_address_is_refused(registry: CollectorRegistry, switch: Switch) -> None:
    """A listen address that is not host:port raises EndpointError naming it, binding nothing."""
    with pytest.raises(EndpointError) as caught:
        MetricsServer("9700", registry, switch)
    assert caught.value.text == "9700"


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="this host has no IPv6 loopback (::1)")
def test_serves_on_ipv6_loopback(registry: CollectorRegistry, switch: Switch) -> None:
    """listen = "[::1]:0" binds an IPv6 socket and serves on it."""
    server = MetricsServer("[::1]:0", registry, switch)
    try:
        status, _ = http_get(f"http://[::1]:{server.port}/healthz")
        assert status == 200
        assert server.address == f"[::1]:{server.port}"
    finally:
        server.close()
