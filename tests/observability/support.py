"""Helpers of the observability tests: HTTP probes, metric parsing, a publisher in a thread.

The in-process stack is the real pipeline (simulated gateway on TCP, ``PublisherService`` with
its own ZeroMQ context, the real HTTP endpoint); only the process boundary is saved.
"""

import contextlib
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import zmq
from prometheus_client.parser import text_string_to_metric_families

from publisher.config import (
    BusSettings,
    GatewaySettings,
    InstrumentSpec,
    MetricsSettings,
    PublisherSettings,
    Settings,
)
from publisher.service.root import PublisherService
from publisher.sim import SimulatedGateway
from tests.helpers import free_port, wait_for

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"

GOOD = (
    InstrumentSpec(key="", sec_type="STK", symbol="AAPL", primary_exchange="NASDAQ"),
    InstrumentSpec(key="", sec_type="STK", symbol="MSFT"),
    InstrumentSpec(key="", sec_type="CASH", symbol="EUR", exchange="IDEALPRO"),
)
GOOD_KEYS = ("AAPL", "MSFT", "EUR.USD")
BOGUS = InstrumentSpec(key="BOGUS", sec_type="STK", symbol="NOSUCHSYMBOL")


def tool(name: str) -> str:
    """The path of ``prometheus`` or ``promtool``; fails (never skips) when it is missing."""
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if path is None:
        pytest.fail(
            f"{name} is not installed: run 'make prometheus' (as root it installs Debian's "
            "prometheus package; otherwise 'sudo apt-get install prometheus')",
            pytrace=False,
        )
    return path


def http_get(url: str, timeout: float = 10.0) -> tuple[int, str]:
    """(status, body) of a GET; HTTP error statuses are returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return int(exc.code), exc.read().decode()


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Prometheus text -> {(sample name, labels): value}."""
    found: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def make_settings(
    gateway_port: int,
    *,
    instruments: tuple[InstrumentSpec, ...] = GOOD,
    per_instrument: bool = True,
) -> Settings:
    """Settings for an in-process publisher: every socket on a free loopback port."""
    return Settings(
        source="tests/observability",
        publisher=PublisherSettings(name="obs"),
        gateway=GatewaySettings(port=gateway_port, client_id=11, connect_timeout=5.0),
        bus=BusSettings(
            pub=("tcp://127.0.0.1:0",), snapshot="tcp://127.0.0.1:0", heartbeat_interval=0.2
        ),
        metrics=MetricsSettings(listen="127.0.0.1:0", per_instrument=per_instrument),
        instruments=instruments,
    )


@dataclass
class Stack:
    """A simulated gateway (started on demand) and a publisher running in a thread."""

    gateway_port: int = field(default_factory=free_port)
    gateways: list[SimulatedGateway] = field(default_factory=list)
    service: PublisherService | None = None
    thread: threading.Thread | None = None
    context: zmq.Context[Any] = field(default_factory=zmq.Context)

    def start_gateway(self, rate: float = 200.0) -> SimulatedGateway:
        """Start a simulated gateway on this stack's gateway port."""
        gateway = SimulatedGateway(port=self.gateway_port, rate=rate, seed=7).start()
        self.gateways.append(gateway)
        return gateway

    def start_publisher(self, **settings: Any) -> PublisherService:
        """Start the publisher on its own thread; its endpoints are bound when this returns."""
        service = PublisherService(
            make_settings(self.gateway_port, **settings), context=self.context
        )
        service.start()
        self.service = service
        self.thread = threading.Thread(target=service.run, name="test-publisher", daemon=True)
        self.thread.start()
        return service

    @property
    def url(self) -> str:
        """Base URL of the publisher's HTTP endpoint."""
        assert self.service is not None and self.service.metrics_server is not None
        return f"http://127.0.0.1:{self.service.metrics_server.port}"

    def value(self, name: str, **labels: str) -> float | None:
        """One sample of the publisher's registry (None when absent)."""
        assert self.service is not None
        return self.service.registry.get_sample_value(name, labels)

    def wait_streaming(self, keys: tuple[str, ...] = GOOD_KEYS) -> None:
        """Wait until every key has published ticks."""
        wait_for(
            lambda: all((self.value("ibpub_ticks_total", instrument=k) or 0) > 0 for k in keys),
            "ticks from every instrument",
        )

    def stop_publisher(self) -> None:
        """Stop the publisher and join its thread (idempotent)."""
        if self.service is not None and self.thread is not None:
            self.service.stop()
            self.thread.join(timeout=30)
            assert not self.thread.is_alive(), "the publisher thread did not stop"
            self.thread = None

    def close(self) -> None:
        """Stop everything this stack started."""
        with contextlib.suppress(Exception):
            self.stop_publisher()
        for gateway in self.gateways:
            gateway.stop()
        self.context.destroy(linger=0)


@contextlib.contextmanager
def stack() -> Iterator[Stack]:
    """A :class:`Stack` that is always torn down."""
    running = Stack()
    try:
        yield running
    finally:
        running.close()
