"""The resilience tests' stack: a simulated gateway, the real publisher in a thread, and a real
ZeroMQ subscriber that records every message, all on loopback sockets and all torn down.

Timeouts in :func:`settings` are short (sub-second probes, quick backoff) so faults are
detected and recovered from within a second or two; waits are generous deadlines, never sleeps.
"""

import contextlib
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import msgpack
import zmq

from publisher.config import (
    BusSettings,
    GatewaySettings,
    InstrumentSpec,
    MetricsSettings,
    PublisherSettings,
    Settings,
)
from publisher.gateway.backlog import BEHIND_AFTER
from publisher.service.root import PublisherService
from publisher.sim import AsyncGateway, SimulatedGateway
from tests.helpers import free_port, wait_for

KEYS = ("AAPL", "MSFT", "EUR.USD")
INSTRUMENTS = (
    InstrumentSpec(key="", sec_type="STK", symbol="AAPL", primary_exchange="NASDAQ"),
    InstrumentSpec(key="", sec_type="STK", symbol="MSFT"),
    InstrumentSpec(key="", sec_type="CASH", symbol="EUR", exchange="IDEALPRO"),
)
WAIT = 30.0

Message = dict[str, Any]


def settings(
    gateway_port: int,
    *,
    instruments: tuple[InstrumentSpec, ...] = INSTRUMENTS,
    **gateway: Any,
) -> Settings:
    """Publisher settings with fast fault detection; ``gateway`` overrides [gateway] keys."""
    options: dict[str, Any] = {
        "port": gateway_port,
        "client_id": 11,
        "connect_timeout": 2.0,
        "reconnect_initial": 0.2,
        "reconnect_max": 1.0,
        "probe_interval": 0.3,
        "probe_timeout": 2.0,
        "stale_after": 0.0,
    }
    options.update(gateway)
    return Settings(
        source="tests/resilience",
        publisher=PublisherSettings(name="res"),
        gateway=GatewaySettings(**options),
        bus=BusSettings(
            pub=("tcp://127.0.0.1:0",), snapshot="tcp://127.0.0.1:0", heartbeat_interval=0.2
        ),
        metrics=MetricsSettings(listen="127.0.0.1:0"),
        instruments=instruments,
    )


class Listener:
    """A SUB socket on the publisher's bus that keeps every message, in order."""

    def __init__(
        self, context: zmq.Context[Any], endpoint: str, prefixes: tuple[bytes, ...] = (b"",)
    ) -> None:
        self.socket = context.socket(zmq.SUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        for prefix in prefixes:
            self.socket.setsockopt(zmq.SUBSCRIBE, prefix)
        self.socket.connect(endpoint)
        self.messages: list[Message] = []

    def pump(self, timeout: float = 0.05) -> None:
        """Receive whatever arrives within ``timeout`` seconds."""
        if self.socket.poll(int(timeout * 1000)):
            while True:
                try:
                    topic, payload = self.socket.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    return
                message = msgpack.unpackb(payload)
                message["topic"] = topic.decode()
                self.messages.append(message)

    def until(
        self, condition: Callable[[list[Message]], Any], what: str, timeout: float = WAIT
    ) -> Any:
        """Receive until ``condition(messages)`` is truthy; fails naming ``what``."""
        deadline = time.monotonic() + timeout
        while True:
            result = condition(self.messages)
            if result:
                return result
            if time.monotonic() > deadline:
                tail = [m for m in self.messages if m["type"] == "status"][-6:]
                raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; {tail}")
            self.pump()

    def statuses(self, scope: str | None = None) -> list[Message]:
        return [m for m in self.messages if m["type"] == "status" and scope in (None, m["scope"])]

    def ticks(self, key: str | None = None) -> list[Message]:
        return [m for m in self.messages if m["type"] == "tick" and key in (None, m["key"])]

    def close(self) -> None:
        self.socket.close(linger=0)


def status_seen(
    scope: str, state: str, since: int = 0, **fields: Any
) -> Callable[[list[Message]], int]:
    """A condition: a status with this scope, state and fields arrived at or after message
    number ``since``; its value is the position just after that status (0 while unseen)."""

    def seen(messages: list[Message]) -> int:
        for position in range(since, len(messages)):
            m = messages[position]
            if (
                m["type"] == "status"
                and m["scope"] == scope
                and m["state"] == state
                and all(m.get(k) == v for k, v in fields.items())
            ):
                return position + 1
        return 0

    return seen


def ticks_after(index: int, keys: tuple[str, ...] = KEYS) -> Callable[[list[Message]], bool]:
    """A condition: every key has a tick after message number ``index``."""

    def seen(messages: list[Message]) -> bool:
        later = {m["key"] for m in messages[index:] if m["type"] == "tick"}
        return set(keys) <= later

    return seen


def assert_seq_continues(messages: list[Message]) -> None:
    """One sid throughout, and every tick topic's seq runs 1, 2, 3 ... without a gap."""
    assert len({m["sid"] for m in messages}) == 1, "the sid changed"
    seqs: dict[str, list[int]] = defaultdict(list)
    for m in messages:
        if m["type"] == "tick":
            seqs[m["topic"]].append(m["seq"])
    for topic, got in seqs.items():
        assert got == list(range(1, len(got) + 1)), topic


class Stack:
    """A publisher in a thread, a listener on its bus, and simulated gateways on one port."""

    def __init__(self) -> None:
        self.gateway_port = free_port()
        self.context: zmq.Context[Any] = zmq.Context()
        self.gateways: list[SimulatedGateway] = []
        self.service: PublisherService | None = None
        self.thread: threading.Thread | None = None
        self.exit_code: int | None = None
        self.listener: Listener | None = None

    def start_gateway(
        self,
        rate: float = 300.0,
        prepare: Callable[[AsyncGateway], Any] | None = None,
        **options: Any,
    ) -> SimulatedGateway:
        """Start a gateway on the stack's port; ``prepare(core)`` runs before it listens (to
        arm faults before the publisher's first connection can arrive)."""
        gateway = SimulatedGateway(port=self.gateway_port, rate=rate, seed=3, **options)
        if prepare is not None:
            prepare(gateway.core)  # safe: its loop does not run yet
        self.gateways.append(gateway)
        return gateway.start()

    @property
    def gateway(self) -> SimulatedGateway:
        return self.gateways[-1]

    def faults(self, fn: Callable[[Any], Any]) -> Any:
        """Run ``fn(core.faults)`` on the current gateway's loop."""
        return self.gateway.call(lambda core: fn(core.faults))

    def core(self, fn: Callable[[AsyncGateway], Any]) -> Any:
        return self.gateway.call(fn)

    def start_publisher(self, *, behind_after: float = BEHIND_AFTER, **options: Any) -> Listener:
        """Start the publisher and a listener that has seen a heartbeat (so it misses nothing
        that follows); start the gateway afterwards."""
        service = PublisherService(
            settings(self.gateway_port, **options),
            context=self.context,
            serve_metrics=False,
            behind_after=behind_after,
        )
        service.start()
        self.service = service

        def run() -> None:
            self.exit_code = service.run()

        self.thread = threading.Thread(target=run, name="test-publisher", daemon=True)
        self.thread.start()
        assert service.bus is not None
        self.listener = Listener(self.context, service.bus.endpoints[0])
        self.listener.until(lambda ms: any(m["type"] == "hb" for m in ms), "a heartbeat")
        return self.listener

    def value(self, name: str, **labels: str) -> float:
        assert self.service is not None
        return self.service.registry.get_sample_value(name, labels) or 0.0

    def stop_publisher(self) -> None:
        if self.service is not None and self.thread is not None:
            self.service.stop()
            self.thread.join(timeout=30)
            assert not self.thread.is_alive(), "the publisher did not stop"
            self.thread = None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stop_publisher()
        if self.listener is not None:
            self.listener.close()
        for gateway in self.gateways:
            gateway.stop()
        self.context.destroy(linger=0)


@contextlib.contextmanager
def stack() -> Iterator[Stack]:
    running = Stack()
    try:
        yield running
    finally:
        running.close()


def wait_value(stack: Stack, name: str, at_least: float, **labels: str) -> None:
    wait_for(lambda: stack.value(name, **labels) >= at_least, f"{name}{labels} >= {at_least}")
