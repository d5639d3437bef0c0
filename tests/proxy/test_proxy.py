"""``ProxyService`` in-process against real ZeroMQ sockets on 127.0.0.1.

The upstreams here are plain PUB and XPUB sockets standing in for publishers, so a test can see
exactly what crosses the proxy in each direction; tests/proxy/test_fanout.py runs the
real publishers.
"""

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import zmq
from prometheus_client import CollectorRegistry

from publisher.endpoints import reaches_beyond_host
from publisher.errors import ConfigError
from publisher.proxy import ProxyService, ProxySettings
from tests.support.processes import free_port
from tests.support.waiting import wait_for


class RunningProxy:
    """A ProxyService bound on a free port, running in a thread until :meth:`stop`."""

    def __init__(self, upstreams: list[str]) -> None:
        self.registry = CollectorRegistry()
        settings = ProxySettings(
            upstreams=tuple(upstreams),
            binds=("tcp://127.0.0.1:0",),
            metrics_listen="127.0.0.1:0",
        )
        self.service = ProxyService(settings, registry=self.registry, serve_metrics=False)
        self.service.start()
        self.endpoint = self.service.endpoints[0]
        self.exit_code: int | None = None
        self._thread = threading.Thread(target=self._run, name="test-proxy")
        self._thread.start()

    def _run(self) -> None:
        self.exit_code = self.service.run()

    def stop(self) -> int | None:
        self.service.stop()
        self._thread.join(timeout=30)
        assert not self._thread.is_alive(), "the proxy did not stop"
        return self.exit_code

    def sample(self, name: str) -> float | None:
        return self.registry.get_sample_value(name)


class Sockets:
    """Raw ZeroMQ sockets standing in for publishers and subscribers; all closed at teardown."""

    def __init__(self) -> None:
        self.context: zmq.Context[Any] = zmq.Context()
        self._opened: list[zmq.Socket[Any]] = []

    def _open(self, kind: int) -> zmq.Socket[Any]:
        sock: zmq.Socket[Any] = self.context.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        self._opened.append(sock)
        return sock

    def bound(self, kind: int) -> tuple[zmq.Socket[Any], str]:
        """A socket of ``kind`` bound on a free port, and its endpoint."""
        sock = self._open(kind)
        port = sock.bind_to_random_port("tcp://127.0.0.1")
        return sock, f"tcp://127.0.0.1:{port}"

    def subscriber(self, endpoint: str, prefix: bytes) -> zmq.Socket[Any]:
        sub = self._open(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, prefix)
        sub.connect(endpoint)
        return sub

    def close(self) -> None:
        for sock in self._opened:
            sock.close(linger=0)
        self.context.term()


@pytest.fixture
def sockets() -> Iterator[Sockets]:
    group = Sockets()
    yield group
    group.close()


@pytest.fixture
def proxies() -> Iterator[list[RunningProxy]]:
    started: list[RunningProxy] = []
    yield started
    for proxy in started:
        proxy.stop()


def test_a_subscription_reaches_every_upstream(
    sockets: Sockets, proxies: list[RunningProxy]
) -> None:
    """A prefix subscribed at the proxy arrives as a subscribe message at each upstream."""
    upstream_a, endpoint_a = sockets.bound(zmq.XPUB)
    upstream_b, endpoint_b = sockets.bound(zmq.XPUB)
    proxy = RunningProxy([endpoint_a, endpoint_b])
    proxies.append(proxy)
    sockets.subscriber(proxy.endpoint, b"tick.AAPL")
    for upstream in (upstream_a, upstream_b):
        assert upstream.poll(30_000), "no subscription reached an upstream"
        assert upstream.recv() == b"\x01tick.AAPL"


def test_only_subscribed_topics_cross_the_proxy(
    sockets: Sockets, proxies: list[RunningProxy]
) -> None:
    """With one subscriber to tick.AAPL, the proxy forwards exactly the messages it receives."""
    upstream, endpoint = sockets.bound(zmq.PUB)
    proxy = RunningProxy([endpoint])
    proxies.append(proxy)
    sub = sockets.subscriber(proxy.endpoint, b"tick.AAPL")

    def send_round(marker: bytes) -> None:
        for _ in range(20):
            upstream.send_multipart([b"tick.MSFT", b"other"])
        upstream.send_multipart([b"tick.AAPL", marker])

    def received_one() -> bool:
        # Until the subscription has reached the upstream, everything is dropped there.
        send_round(b"probe")
        return bool(sub.poll(50))

    wait_for(received_one, "the first tick.AAPL through the proxy")
    for _ in range(10):
        send_round(b"data")
    upstream.send_multipart([b"tick.AAPL", b"end"])
    received: list[list[bytes]] = []
    while not received or received[-1][1] != b"end":
        assert sub.poll(30_000), "the end marker never arrived"
        received.append(sub.recv_multipart())

    assert {topic for topic, _ in received} == {b"tick.AAPL"}
    # Per-upstream order is kept, so everything before "end" has been forwarded by now: had
    # any tick.MSFT crossed, the count would exceed what the subscriber received.
    assert proxy.service.statistics().messages_forwarded == len(received)


def test_the_connected_gauge_follows_the_upstream(
    sockets: Sockets, proxies: list[RunningProxy]
) -> None:
    """ibpub_proxy_upstreams_connected goes to 1 when the upstream is up and 0 when it goes."""
    upstream, endpoint = sockets.bound(zmq.PUB)
    proxy = RunningProxy([endpoint, f"tcp://127.0.0.1:{free_port()}"])
    proxies.append(proxy)
    assert proxy.sample("ibpub_proxy_upstreams") == 2
    wait_for(lambda: proxy.sample("ibpub_proxy_upstreams_connected") == 1, "a connection")
    assert proxy.service.readiness().ready
    upstream.close(linger=0)
    wait_for(lambda: proxy.sample("ibpub_proxy_upstreams_connected") == 0, "the disconnect")
    assert not proxy.service.readiness().ready


def test_stop_ends_run_with_exit_code_0(proxies: list[RunningProxy]) -> None:
    """stop() makes run() return 0 even while no upstream ever connected."""
    proxy = RunningProxy([f"tcp://127.0.0.1:{free_port()}"])
    assert proxy.stop() == 0


def test_a_bind_that_fails_makes_run_return_1(sockets: Sockets) -> None:
    """run() returns 1, without raising, when a bind endpoint is taken."""
    _taken, endpoint = sockets.bound(zmq.PUB)
    settings = ProxySettings(
        upstreams=(f"tcp://127.0.0.1:{free_port()}",),
        binds=(endpoint,),
        metrics_listen="127.0.0.1:0",
    )
    service = ProxyService(settings, registry=CollectorRegistry(), serve_metrics=False)
    assert service.run() == 1


@pytest.mark.parametrize(
    ("changes", "flag"),
    [
        ({"upstreams": ("127.0.0.1:7700",)}, "--upstream"),
        ({"upstreams": ("tcp://127.0.0.1:0",)}, "--upstream"),
        ({"upstreams": ("tcp://a:7700", "tcp://a:7700")}, "--upstream"),
        ({"upstreams": ()}, "--upstream"),
        ({"binds": ("udp://0.0.0.0:7700",)}, "--bind"),
        ({"binds": ()}, "--bind"),
        ({"metrics_listen": "9710"}, "--metrics-listen"),
        ({"metrics_listen": ":9710"}, "--metrics-listen"),
        ({"metrics_listen": "::1:9710"}, "--metrics-listen"),
        ({"hwm": -1}, "--hwm"),
        ({"curve_secret_key": "k"}, "--curve-authorized-keys"),
        ({"curve_authorized_keys": "d"}, "--curve-secret-key"),
        ({"curve_secret_key": " ", "curve_authorized_keys": "d"}, "--curve-secret-key"),
        ({"upstream_curve_server_key": "k"}, "--upstream-curve-client-key"),
        ({"upstream_curve_client_key": "k"}, "--upstream-curve-server-key"),
    ],
)
def test_bad_settings_name_the_flag(changes: dict[str, Any], flag: str) -> None:
    """Each invalid setting raises ConfigError naming the command-line flag to fix."""
    given: dict[str, Any] = {
        "upstreams": ("tcp://127.0.0.1:7700",),
        "binds": ("tcp://*:7710",),
        **changes,
    }
    with pytest.raises(ConfigError) as caught:
        ProxySettings(**given)
    assert caught.value.key == flag


@pytest.mark.parametrize(
    ("endpoint", "beyond"),
    [
        ("tcp://0.0.0.0:7700", True),
        ("tcp://*:7700", True),
        ("tcp://10.0.0.5:7700", True),
        ("tcp://[::]:7700", True),
        ("tcp://127.0.0.1:7700", False),
        ("tcp://127.0.1.1:7700", False),
        ("tcp://localhost:7700", False),
        ("tcp://[::1]:7700", False),
        ("ipc:///run/ibpub/bus", False),
    ],
)
def test_binds_reaching_other_machines_are_recognised(endpoint: str, beyond: bool) -> None:
    """Only tcp binds on a non-loopback address count as reaching beyond the host."""
    assert reaches_beyond_host(endpoint) is beyond
