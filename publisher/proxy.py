"""``ibpub proxy``: fan one bus out to many hosts through ZeroMQ's own forwarder.

::

    publisher A  PUB (binds) ──┐                           ┌──> SUB  subscriber (host 1)
    publisher B  PUB (binds) ──┼──> XSUB ══ proxy ══ XPUB ──┼──> SUB  subscriber (host 2)
    publisher C  PUB (binds) ──┘   (connects)     (binds)  └──> ...

Messages flow down untouched (the topic and payload frames as each publisher sent them, so every
``sid`` and ``seq`` reaches subscribers unchanged) and subscriptions flow up: XPUB hands each new
prefix subscription to XSUB, which sends it to every upstream publisher, so a publisher only
sends what some subscriber behind the proxy asked for. XSUB resends its subscriptions whenever
an upstream (re)connects, so a restarted publisher picks them up again by itself.

The forwarding is libzmq's ``zmq_proxy_steerable`` in a thread of its own (pyzmq releases the
GIL for it). The calling thread supervises: it watches the upstream connections through a socket
monitor and stops the forwarder with ``TERMINATE`` on its control socket. Metrics (prefix
``ibpub_proxy_``, on the service's own registry) are read from the forwarder's ``STATISTICS``
when Prometheus scrapes, so the forwarding path carries no instrumentation at all.

Not proxied: the snapshot (last-value cache). A snapshot reply carries one ``sid``, so it cannot
speak for several publishers; late joiners ask each publisher's ``bus.snapshot`` directly.
"""

import argparse
import contextlib
import logging
import re
import socket
import struct
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import zmq
from prometheus_client import CollectorRegistry, Info
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from zmq.utils.monitor import recv_monitor_message

from publisher import __version__
from publisher.config import COMMAND_LINE
from publisher.errors import ConfigError
from publisher.observability.httpd import MetricsServer, Readiness

__all__ = [
    "DEFAULT_HWM",
    "DEFAULT_METRICS_LISTEN",
    "DESCRIPTION",
    "EPILOG",
    "ProxyMetrics",
    "ProxyService",
    "ProxySettings",
    "ProxyStatistics",
    "add_arguments",
    "endpoint_problem",
    "reaches_beyond_host",
    "settings_from_args",
]

log = logging.getLogger(__name__)

EXIT_OK: Final = 0
EXIT_FATAL: Final = 1

DEFAULT_METRICS_LISTEN: Final = "127.0.0.1:9710"
"""Beside a publisher's 9700, so both can run on one host with their defaults."""
DEFAULT_HWM: Final = 100_000
"""Messages queued per upstream (XSUB receive) and per subscriber (XPUB send), as ``send_hwm``."""
HEARTBEAT_IVL_MS: Final = 2_000
HEARTBEAT_TIMEOUT_MS: Final = 6_000
"""ZMTP heartbeats on both sides: a peer whose host died (no FIN, no RST) is dropped after this,
the upstream side then reconnects and a dead subscriber's queue is freed."""
RECONNECT_IVL_MS: Final = 100
RECONNECT_IVL_MAX_MS: Final = 2_000
"""An upstream publisher that restarts is reconnected within about this long."""
CONTROL_TIMEOUT_MS: Final = 1_000
"""How long a scrape waits for the forwarder to answer ``STATISTICS``."""
STOP_TIMEOUT: Final = 10.0
FRAMES_PER_MESSAGE: Final = 2
"""Every bus message is ``[topic, payload]`` (contract v1); libzmq's statistics count frames."""

_PORT: Final = re.compile(r"[0-9]{1,5}")

DESCRIPTION: Final = """\
Forward the bus of one or more publishers to subscribers on other hosts. The proxy connects an
XSUB socket to every --upstream publisher and binds an XPUB socket on every --bind endpoint;
subscribers connect to the proxy exactly as they would to a publisher. Subscriptions travel
upstream, so each publisher only sends what some subscriber asked for. Messages pass through
unchanged (topics, sid, seq). The snapshot endpoint is not proxied: late joiners ask each
publisher's snapshot endpoint directly."""

EPILOG: Final = """\
examples:
  ibpub proxy --upstream tcp://10.0.0.11:7700 tcp://10.0.0.12:7700 --bind tcp://0.0.0.0:7700
  ibpub proxy --upstream tcp://md-a:7700 --upstream tcp://md-b:7700 --bind tcp://*:7700 \\
      --metrics-listen 0.0.0.0:9710

metrics and health (HTTP on --metrics-listen): /metrics (ibpub_proxy_* counters and gauges),
/healthz, and /readyz (200 while at least one upstream is connected).

exit codes: 0 clean stop (also after Ctrl-C or SIGTERM), 2 usage error, 1 anything else fatal
(for example an endpoint that cannot be bound).
"""


# -- settings ----------------------------------------------------------------------------------


def endpoint_problem(endpoint: str, *, bind: bool) -> str | None:
    """Why ``endpoint`` cannot be connected to (``bind=False``) or bound, or None if it can.

    ``tcp://host:port`` or ``ipc://path``; a bind may use port ``*`` or ``0`` (any free port).
    """
    scheme, sep, rest = endpoint.partition("://")
    if not sep or scheme not in ("tcp", "ipc"):
        return f"{endpoint!r} must start with tcp:// or ipc://"
    if scheme == "ipc":
        return None if rest else f"{endpoint!r} needs a path after ipc://"
    host, sep, port = rest.rpartition(":")
    if not sep or not host:
        return f"{endpoint!r} needs host:port after tcp:// (e.g. tcp://10.0.0.11:7700)"
    if bind and port in ("*", "0"):
        return None
    if not _PORT.fullmatch(port) or not 0 < int(port) <= 65535:
        return f"{endpoint!r}: port {port!r} is not a number 1..65535"
    return None


def reaches_beyond_host(endpoint: str) -> bool:
    """Whether binding ``endpoint`` lets other machines connect (tcp on a non-loopback address)."""
    if not endpoint.startswith("tcp://"):
        return False
    host = endpoint.removeprefix("tcp://").rpartition(":")[0].strip("[]")
    return not (host == "localhost" or host == "::1" or host.startswith("127."))


def _check_endpoints(flag: str, endpoints: Sequence[str], *, bind: bool) -> None:
    if not endpoints:
        raise ConfigError(COMMAND_LINE, flag, "at least one endpoint is required")
    seen: set[str] = set()
    for endpoint in endpoints:
        problem = endpoint_problem(endpoint, bind=bind)
        if problem:
            raise ConfigError(COMMAND_LINE, flag, problem)
        if endpoint in seen:
            # Connecting twice to one publisher would deliver each of its messages twice.
            raise ConfigError(COMMAND_LINE, flag, f"{endpoint!r} is given twice")
        seen.add(endpoint)


@dataclass(frozen=True, slots=True)
class ProxySettings:
    """What ``ibpub proxy`` was asked to do, validated on construction (``ConfigError``)."""

    upstreams: tuple[str, ...]
    """Publisher PUB endpoints to connect the XSUB socket to."""
    binds: tuple[str, ...]
    """Endpoints to bind the XPUB socket on, for subscribers to connect to."""
    metrics_listen: str = DEFAULT_METRICS_LISTEN
    """``host:port`` for /metrics, /healthz, /readyz; port 0 picks a free one."""
    hwm: int = DEFAULT_HWM
    """High-water mark, in messages, on both sides (0: no limit)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "upstreams", tuple(self.upstreams))
        object.__setattr__(self, "binds", tuple(self.binds))
        _check_endpoints("--upstream", self.upstreams, bind=False)
        _check_endpoints("--bind", self.binds, bind=True)
        _, sep, port = self.metrics_listen.rpartition(":")
        if not sep or not _PORT.fullmatch(port) or int(port) > 65535:
            raise ConfigError(
                COMMAND_LINE,
                "--metrics-listen",
                f"expected host:port (e.g. 127.0.0.1:9710), got {self.metrics_listen!r}",
            )
        if self.hwm < 0:
            raise ConfigError(COMMAND_LINE, "--hwm", f"must be 0 or more, got {self.hwm}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``ibpub proxy`` flags (``--upstream`` and ``--bind`` take one or more endpoints)."""
    parser.add_argument(
        "--upstream",
        metavar="ENDPOINT",
        nargs="+",
        action="extend",
        required=True,
        help="a publisher's bus endpoint (its bus.pub) to forward; repeat or list several",
    )
    parser.add_argument(
        "--bind",
        metavar="ENDPOINT",
        nargs="+",
        action="extend",
        required=True,
        help="where subscribers connect, e.g. tcp://0.0.0.0:7700; repeat or list several",
    )
    parser.add_argument(
        "--metrics-listen",
        metavar="HOST:PORT",
        default=DEFAULT_METRICS_LISTEN,
        help="HTTP for /metrics, /healthz and /readyz (default: %(default)s)",
    )
    parser.add_argument(
        "--hwm",
        metavar="COUNT",
        type=int,
        default=DEFAULT_HWM,
        help="messages queued per upstream and per subscriber before dropping "
        "(default: %(default)s; 0: no limit)",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log verbosity on stderr (default: %(default)s)",
    )


def settings_from_args(args: argparse.Namespace) -> ProxySettings:
    """The parsed flags as settings (raises ``ConfigError`` naming the flag)."""
    return ProxySettings(
        upstreams=tuple(args.upstream),
        binds=tuple(args.bind),
        metrics_listen=args.metrics_listen,
        hwm=args.hwm,
    )


# -- statistics and metrics ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProxyStatistics:
    """The forwarder's cumulative counts since it started (libzmq counts frames, not messages)."""

    upstream_frames: int = 0
    """Frames received from the upstream publishers (and passed on to subscribers)."""
    upstream_bytes: int = 0
    downstream_frames: int = 0
    """Subscribe and unsubscribe frames received from subscribers (and passed upstream)."""
    downstream_bytes: int = 0

    @property
    def messages_forwarded(self) -> int:
        """Bus messages forwarded to subscribers (each is two frames)."""
        return self.upstream_frames // FRAMES_PER_MESSAGE

    @classmethod
    def from_reply(cls, frames: Sequence[bytes]) -> "ProxyStatistics":
        """Parse the ``STATISTICS`` reply: eight native-endian uint64 frames, frontend (XSUB)
        messages in, bytes in, messages out, bytes out, then the same for the backend (XPUB)."""
        if len(frames) != 8 or any(len(frame) != 8 for frame in frames):
            raise ValueError(f"unexpected STATISTICS reply: {len(frames)} frames")
        values = [struct.unpack("=Q", frame)[0] for frame in frames]
        return cls(
            upstream_frames=values[0],
            upstream_bytes=values[1],
            downstream_frames=values[4],
            downstream_bytes=values[5],
        )


class ProxyView(Protocol):
    """What the scrape-time collector reads from the service."""

    @property
    def upstreams(self) -> tuple[str, ...]: ...
    @property
    def upstreams_connected(self) -> int: ...
    def statistics(self) -> ProxyStatistics: ...


class _ScrapeTimeCollector(Collector):
    def __init__(self, view: ProxyView) -> None:
        self._view = view

    def collect(self) -> Iterable[Metric]:
        stats = self._view.statistics()
        yield CounterMetricFamily(
            "ibpub_proxy_messages_forwarded",
            "Bus messages received from the upstream publishers and passed to subscribers.",
            value=stats.messages_forwarded,
        )
        yield CounterMetricFamily(
            "ibpub_proxy_bytes_forwarded",
            "Bytes of those messages (topic and payload frames).",
            value=stats.upstream_bytes,
        )
        yield CounterMetricFamily(
            "ibpub_proxy_subscription_messages",
            "Subscribe and unsubscribe messages from subscribers passed to the publishers.",
            value=stats.downstream_frames,
        )
        yield GaugeMetricFamily(
            "ibpub_proxy_upstreams",
            "Upstream publisher endpoints configured.",
            value=len(self._view.upstreams),
        )
        yield GaugeMetricFamily(
            "ibpub_proxy_upstreams_connected",
            "Upstream publisher connections currently established.",
            value=self._view.upstreams_connected,
        )

    def describe(self) -> Iterable[Metric]:
        # Describing lets the registry check names without calling collect() at registration.
        yield CounterMetricFamily("ibpub_proxy_messages_forwarded", "")
        yield CounterMetricFamily("ibpub_proxy_bytes_forwarded", "")
        yield CounterMetricFamily("ibpub_proxy_subscription_messages", "")
        yield GaugeMetricFamily("ibpub_proxy_upstreams", "")
        yield GaugeMetricFamily("ibpub_proxy_upstreams_connected", "")


class ProxyMetrics:
    """The proxy's metrics on ``registry``: scrape-time values from ``view`` and build info."""

    def __init__(self, registry: CollectorRegistry, view: ProxyView) -> None:
        self.registry = registry
        registry.register(_ScrapeTimeCollector(view))
        info = Info("ibpub_proxy_build", "Build information.", registry=registry)
        info.info({"version": __version__})


# -- the service ----------------------------------------------------------------------------------


class ProxyService:
    """Binds, connects and runs the forwarder until :meth:`stop`.

    :meth:`start` binds and connects (separate from :meth:`run` so tests can bind port 0 and
    read :attr:`endpoints` first); :meth:`run` supervises until :meth:`stop` and cleans up.
    """

    def __init__(
        self,
        settings: ProxySettings,
        *,
        context: zmq.Context[Any] | None = None,
        registry: CollectorRegistry | None = None,
        serve_metrics: bool = True,
    ) -> None:
        self.settings = settings
        self._own_context = context is None
        self._context: zmq.Context[Any] = zmq.Context() if context is None else context
        self.registry = registry or CollectorRegistry()
        self.metrics = ProxyMetrics(self.registry, self)
        self._serve_metrics = serve_metrics
        self.metrics_server: MetricsServer | None = None
        self.endpoints: list[str] = []
        """The bound XPUB endpoints, with any port 0 or * resolved."""
        self._sockets: list[zmq.Socket[Any]] = []
        self._xsub: zmq.Socket[Any] | None = None
        self._monitor: zmq.Socket[Any] | None = None
        self._control: zmq.Socket[Any] | None = None
        self._control_lock = threading.Lock()
        self._forwarding = False
        self._last_stats = ProxyStatistics()
        self._thread: threading.Thread | None = None
        self._connected: dict[str, bool] = {}
        self._connected_count = 0
        self._failure: str | None = None
        self._stopping = False
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)

    # -- public ------------------------------------------------------------------------------

    @property
    def upstreams(self) -> tuple[str, ...]:
        return self.settings.upstreams

    @property
    def upstreams_connected(self) -> int:
        """Upstream connections established now (from the socket monitor's events)."""
        return self._connected_count

    def start(self) -> None:
        """Bind the XPUB side, connect the XSUB side, start the forwarder and the metrics."""
        if self._xsub is not None:
            return
        hwm = self.settings.hwm
        xpub = self._socket(zmq.XPUB)
        xpub.setsockopt(zmq.SNDHWM, hwm)
        for endpoint in self.settings.binds:
            try:
                xpub.bind(endpoint)
            except zmq.ZMQError as exc:
                log.error("cannot bind", extra={"endpoint": endpoint, "error": exc.strerror})
                raise
            # A tcp port of 0 or * is resolved by the bind: report what subscribers must use.
            self.endpoints.append(xpub.getsockopt_string(zmq.LAST_ENDPOINT))
            if reaches_beyond_host(endpoint):
                # The proxy has no CURVE yet: say so where an operator will look.
                log.warning(
                    "serving beyond this host without encryption or authentication; keep the "
                    "network private or tunnel it (docs/deploy.md)",
                    extra={"endpoint": endpoint},
                )
        xsub = self._xsub = self._socket(zmq.XSUB)
        xsub.setsockopt(zmq.RCVHWM, hwm)
        xsub.setsockopt(zmq.RECONNECT_IVL, RECONNECT_IVL_MS)
        xsub.setsockopt(zmq.RECONNECT_IVL_MAX, RECONNECT_IVL_MAX_MS)
        # The monitor is attached before connecting so the first connection is not missed.
        self._monitor = xsub.get_monitor_socket(zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED)
        self._sockets.append(self._monitor)
        for endpoint in self.settings.upstreams:
            xsub.connect(endpoint)
        control_address = f"inproc://ibpub-proxy-control-{id(self):x}"
        forwarder_control = self._socket(zmq.PAIR)
        forwarder_control.bind(control_address)
        self._control = self._socket(zmq.PAIR)
        self._control.connect(control_address)
        self._forwarding = True
        self._thread = threading.Thread(
            target=self._forward,
            args=(xsub, xpub, forwarder_control),
            name="ibpub-proxy-forwarder",
            daemon=True,
        )
        self._thread.start()
        if self._serve_metrics:
            self.metrics_server = MetricsServer(
                self.settings.metrics_listen, self.registry, self.readiness
            )
        log.info(
            "proxy started",
            extra={"upstreams": list(self.settings.upstreams), "endpoints": self.endpoints},
        )

    def run(self) -> int:
        """Run until :meth:`stop`; returns the exit code (0 clean stop, 1 fatal)."""
        try:
            self.start()
            self._supervise()
        except zmq.ZMQError as exc:
            self._failure = str(exc)
        finally:
            self._shutdown()
        if self._failure is not None:
            log.error("proxy failed", extra={"error": self._failure})
            return EXIT_FATAL
        return EXIT_OK

    def stop(self) -> None:
        """Ask :meth:`run` to stop; safe from a signal handler or another thread."""
        self._stopping = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def readiness(self) -> Readiness:
        """Ready while at least one upstream publisher is connected."""
        connected, total = self._connected_count, len(self.settings.upstreams)
        if connected == 0:
            return Readiness(False, f"no upstream connected (0 of {total})")
        return Readiness(True, f"{connected} of {total} upstreams connected")

    def statistics(self) -> ProxyStatistics:
        """The forwarder's counts now (the last ones known once it has stopped)."""
        with self._control_lock:
            control = self._control
            if control is None or not self._forwarding:
                return self._last_stats
            # A reply that arrived after an earlier request timed out must not be read as
            # the answer to this one.
            while control.poll(0):
                control.recv_multipart()
            control.send(b"STATISTICS")
            if control.poll(CONTROL_TIMEOUT_MS):
                self._last_stats = ProxyStatistics.from_reply(control.recv_multipart())
            return self._last_stats

    # -- internals ---------------------------------------------------------------------------

    def _socket(self, kind: int) -> zmq.Socket[Any]:
        sock: zmq.Socket[Any] = self._context.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        if kind in (zmq.XSUB, zmq.XPUB):
            sock.setsockopt(zmq.HEARTBEAT_IVL, HEARTBEAT_IVL_MS)
            sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, HEARTBEAT_TIMEOUT_MS)
        self._sockets.append(sock)
        return sock

    def _forward(
        self, xsub: zmq.Socket[Any], xpub: zmq.Socket[Any], control: zmq.Socket[Any]
    ) -> None:
        """The forwarder thread: returns when TERMINATE arrives on ``control``."""
        try:
            zmq.proxy_steerable(xsub, xpub, None, control)
        except zmq.ZMQError as exc:
            if not self._stopping:
                self._failure = f"forwarder: {exc}"
        else:
            if not self._stopping:
                self._failure = "forwarder stopped unexpectedly"
        if not self._stopping:
            self.stop()

    def _supervise(self) -> None:
        assert self._monitor is not None
        poller = zmq.Poller()
        poller.register(self._monitor, zmq.POLLIN)
        poller.register(self._wake_r.fileno(), zmq.POLLIN)
        while not self._stopping:
            for ready, _ in poller.poll():
                if ready is self._monitor:
                    self._drain_monitor()
                else:
                    with contextlib.suppress(BlockingIOError):
                        self._wake_r.recv(4096)

    def _drain_monitor(self) -> None:
        assert self._monitor is not None
        while True:
            try:
                event = recv_monitor_message(self._monitor, zmq.NOBLOCK)
            except zmq.Again:
                return
            endpoint = bytes(event["endpoint"]).decode("utf-8", "replace")
            up = event["event"] == zmq.EVENT_CONNECTED
            # Keyed by endpoint so a repeated event cannot push the count off by one.
            if self._connected.get(endpoint, False) == up:
                continue
            self._connected[endpoint] = up
            self._connected_count += 1 if up else -1
            if up:
                log.info("upstream connected", extra={"endpoint": endpoint})
            else:
                log.warning("upstream disconnected", extra={"endpoint": endpoint})

    def _shutdown(self) -> None:
        self._stopping = True
        final = self.statistics()
        with self._control_lock:
            if self._forwarding and self._control is not None:
                self._control.send(b"TERMINATE")
            self._forwarding = False
        thread = self._thread
        if thread is not None:
            thread.join(STOP_TIMEOUT)
            if thread.is_alive():
                # Closing sockets the forwarder still uses would be unsafe; leave them to exit.
                log.error("forwarder did not stop; leaving its sockets open")
                self._close_http()
                return
        if self._xsub is not None and self._monitor is not None:
            with contextlib.suppress(zmq.ZMQError):
                self._xsub.disable_monitor()
        for sock in self._sockets:
            sock.close(linger=0)
        self._sockets.clear()
        self._close_http()
        if self._own_context:
            self._context.term()
        log.info("proxy stopped", extra={"messages_forwarded": final.messages_forwarded})

    def _close_http(self) -> None:
        if self.metrics_server is not None:
            self.metrics_server.close()
            self.metrics_server = None
        self._wake_r.close()
        self._wake_w.close()
