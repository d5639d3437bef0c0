"""The one publisher harness: simulated gateways and the real publisher in this process.

:class:`Stack` is a running pipeline on loopback sockets: :class:`SimulatedGateway` threads on
one gateway port (started, stopped and restarted at will), a :class:`Publisher` (the real
``PublisherService`` on its own thread, configured by a TOML file read by the real loader) and
listeners on its bus. Nothing in the pipeline is mocked; only the process boundary is saved
(tests that need it run ``ibpub`` with :meth:`Publisher.config_text` written to a file).

The publisher retries its gateway, so a test can start the publisher first, connect its
subscribers, and only then start the gateway: they then see every tick from ``seq`` 1.
"""

import contextlib
import subprocess
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Self

import zmq

from publisher.config import load_settings
from publisher.gateway.backlog import BEHIND_AFTER
from publisher.service.root import PublisherService
from publisher.sim import AsyncGateway, SimulatedGateway
from tests.support.config import LIVE, THREE, THREE_KEYS, Table, toml
from tests.support.listener import Listener, heartbeat_seen
from tests.support.metrics import MetricReader
from tests.support.processes import BIN, Processes, free_port, port_open
from tests.support.waiting import wait_for

JOIN = 30.0
"""Seconds a stopping publisher thread is given to finish."""


class Publisher:
    """One ``PublisherService`` thread fed by the gateway on ``gateway_port``.

    Its bus and snapshot ports are chosen once, so a restart (:meth:`stop` then :meth:`start`:
    a new session and sid) keeps the endpoints subscribers are connected to; each start uses
    the next client id, so it never waits for the gateway to free the previous one.
    """

    def __init__(
        self,
        directory: Path,
        gateway_port: int,
        *,
        name: str = "test",
        client_id: int = 11,
        instruments: tuple[Table, ...] = THREE,
        pub_endpoint: str | None = None,
        behind_after: float = BEHIND_AFTER,
        gateway: Mapping[str, Any] | None = None,
        bus: Mapping[str, Any] | None = None,
        metrics: Mapping[str, Any] | None = None,
        control: Mapping[str, Any] | None = None,
    ) -> None:
        self.directory = directory
        self.gateway_port = gateway_port
        self.name = name
        self.client_id = client_id
        self.instruments = instruments
        self.endpoint = pub_endpoint or f"tcp://127.0.0.1:{free_port()}"
        self.snapshot_endpoint = f"tcp://127.0.0.1:{free_port()}"
        self._behind_after = behind_after
        self._gateway = dict(gateway or {})
        self._bus = dict(bus or {})
        self._metrics = dict(metrics or {})
        self.control_endpoint = f"tcp://127.0.0.1:{free_port()}"
        self._control = {"listen": self.control_endpoint, **(control or {})}
        self._starts = 0
        self._service: PublisherService | None = None
        self._thread: threading.Thread | None = None
        self._context: zmq.Context[Any] | None = None
        self.exit_code: int | None = None

    def config_text(self) -> str:
        """The configuration of the next start, as a user would write it."""
        gateway = {
            "host": "127.0.0.1",
            "port": self.gateway_port,
            "client_id": self.client_id + self._starts,
            "connect_timeout": 5.0,
            "reconnect_initial": 0.2,
            "reconnect_max": 1.0,
            **self._gateway,
        }
        bus = {
            "pub": [self.endpoint],
            "snapshot": self.snapshot_endpoint,
            "heartbeat_interval": 0.2,
            **self._bus,
        }
        metrics = {"listen": "127.0.0.1:0", **self._metrics}
        sections = {"publisher": {"name": self.name}, "gateway": gateway, "bus": bus}
        return toml({**sections, "metrics": metrics, "control": self._control}, self.instruments)

    def config_file(self) -> Path:
        """:meth:`config_text` written to a file (for ``ibpub run --config``)."""
        path = self.directory / f"{self.name}-process.toml"
        path.write_text(self.config_text())
        return path

    def start(self) -> Self:
        """Bind the sockets and run the service thread (a new session, a new sid)."""
        assert self._service is None, "already running"
        path = self.directory / f"{self.name}-{self._starts + 1}.toml"
        path.write_text(self.config_text())
        self._starts += 1
        self._context = zmq.Context()
        service = PublisherService(
            load_settings(path), context=self._context, behind_after=self._behind_after
        )
        self._service = service
        self.exit_code = None

        def run() -> None:
            self.exit_code = service.run()

        self._thread = threading.Thread(target=run, name=f"publisher-{self.name}", daemon=True)
        self._thread.start()
        return self

    @property
    def service(self) -> PublisherService:
        assert self._service is not None, "the publisher is not running"
        return self._service

    def join(self, timeout: float = JOIN) -> int | None:
        """Wait for the service thread to end by itself; its exit code."""
        assert self._thread is not None
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the publisher did not stop"
        return self.exit_code

    @property
    def metrics(self) -> MetricReader:
        return MetricReader(self.service.registry)

    @property
    def sid(self) -> int:
        bus = self.service.bus
        assert bus is not None
        return bus.sid

    @property
    def url(self) -> str:
        """Base URL of the publisher's HTTP endpoint."""
        server = self.service.metrics_server
        assert server is not None
        return f"http://127.0.0.1:{server.port}"

    def stop(self) -> None:
        """Stop the service, join its thread and close its context (idempotent); the metrics
        stay readable."""
        if self._thread is None:
            return
        self.service.stop()
        self._thread.join(JOIN)
        assert not self._thread.is_alive(), "the publisher did not stop"
        self._thread = None
        assert self._context is not None
        self._context.destroy(linger=0)
        self._context = None

    def forget(self) -> None:
        """Drop the stopped service (before a restart)."""
        self.stop()
        self._service = None

    def restart(self) -> None:
        self.forget()
        self.start()


def start_gateway(port: int = 0, rate: float = 300.0) -> SimulatedGateway:
    """A simulated gateway on ``port`` (0: any free one), for a module-scoped fixture that
    outlives one test's :class:`Stack`; stop it when done."""
    return SimulatedGateway(port=port, rate=rate, seed=7).start()


def live_publisher(
    directory: Path,
    gateway_port: int,
    *,
    curve: tuple[Path, Path] | None = None,
    **options: Any,
) -> Publisher:
    """A :class:`Publisher` with :data:`~tests.support.config.LIVE`'s options (four instruments,
    the subscriber tests' heartbeat); ``curve`` is (secret key file, authorised keys directory)
    for the bus's CURVE settings. Not started."""
    bus = dict(options.pop("bus", {}))
    if curve is not None:
        bus.update(curve_secret_key=str(curve[0]), curve_authorized_keys=str(curve[1]))
    return Publisher(directory, gateway_port, **{**LIVE, **options, "bus": bus})


class Stack:
    """Simulated gateways on one port, a publisher, and listeners; :meth:`close` ends them all."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.gateway_port = free_port()
        self.gateways: list[SimulatedGateway] = []
        self.publishers: list[Publisher] = []
        self.context: zmq.Context[Any] = zmq.Context()
        self.listeners: list[Listener] = []

    # -- gateways --------------------------------------------------------------------------

    def start_gateway(
        self,
        rate: float = 300.0,
        *,
        seed: int = 7,
        prepare: Callable[[AsyncGateway], Any] | None = None,
        **options: Any,
    ) -> SimulatedGateway:
        """Start a gateway on the stack's port; ``prepare(core)`` runs before it listens (to
        arm faults before the publisher's first connection can arrive)."""
        gateway = SimulatedGateway(port=self.gateway_port, rate=rate, seed=seed, **options)
        if prepare is not None:
            prepare(gateway.core)  # safe: its loop does not run yet
        self.gateways.append(gateway)
        return gateway.start()

    def start_gateway_process(
        self, procs: Processes, rate: float = 300.0, *args: str
    ) -> subprocess.Popen[bytes]:
        """``ibpub sim`` on the stack's port, as a user starts it (``args``: more options);
        returns once it listens."""
        port = str(self.gateway_port)
        proc = procs.start(
            [str(BIN / "ibpub"), "sim", "--port", port, "--rate", f"{rate:g}", *args]
        )
        wait_for(lambda: port_open(self.gateway_port), "the simulator to listen")
        return proc

    @property
    def gateway(self) -> SimulatedGateway:
        """The gateway started last."""
        return self.gateways[-1]

    def core(self, fn: Callable[[AsyncGateway], Any]) -> Any:
        """Run ``fn(core)`` on the current gateway's loop."""
        return self.gateway.call(fn)

    def faults(self, fn: Callable[[Any], Any]) -> Any:
        """Run ``fn(core.faults)`` on the current gateway's loop."""
        return self.gateway.call(lambda core: fn(core.faults))

    # -- the publisher ---------------------------------------------------------------------

    def publisher_for(self, **options: Any) -> Publisher:
        """A publisher on this stack's gateway port, not started (see :class:`Publisher`)."""
        publisher = Publisher(self.directory, self.gateway_port, **options)
        self.publishers.append(publisher)
        return publisher

    def start_publisher(self, **options: Any) -> Publisher:
        """Start a publisher; its endpoints are bound when this returns."""
        return self.publisher_for(**options).start()

    @property
    def publisher(self) -> Publisher:
        """The publisher started last."""
        return self.publishers[-1]

    @property
    def service(self) -> PublisherService:
        return self.publisher.service

    @property
    def metrics(self) -> MetricReader:
        return self.publisher.metrics

    @property
    def url(self) -> str:
        return self.publisher.url

    def stop_publisher(self) -> None:
        self.publisher.stop()

    def wait_streaming(self, keys: tuple[str, ...] = THREE_KEYS) -> None:
        """Wait until every key has published ticks."""
        metrics = self.metrics
        wait_for(
            lambda: all(metrics.count("ibpub_ticks_total", instrument=k) > 0 for k in keys),
            f"ticks from {', '.join(keys)}",
        )

    # -- listeners -------------------------------------------------------------------------

    def listen(self, prefixes: tuple[bytes, ...] = (b"",), *, hb: bool = True) -> Listener:
        """A listener on the publisher's bus; with ``hb`` (and ``hb.`` among its prefixes) it
        has heard a heartbeat when returned, so it misses nothing published afterwards."""
        listener = Listener(self.context, self.publisher.endpoint, prefixes)
        self.listeners.append(listener)
        if hb:
            listener.until(heartbeat_seen, "a heartbeat")
        return listener

    def close(self) -> None:
        """Stop everything this stack started."""
        for publisher in self.publishers:
            with contextlib.suppress(Exception):
                publisher.stop()
        for listener in self.listeners:
            listener.close()
        for gateway in self.gateways:
            gateway.stop()
        self.context.destroy(linger=0)
