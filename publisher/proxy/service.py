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

CURVE (publisher/proxy/security.py) may be on either side: the XPUB socket as a CURVE server with
the proxy's own key pair and authorised subscriber keys, the XSUB socket as a CURVE client of the
publishers. An upstream counts as connected once its handshake succeeds (publisher/proxy/links.py),
so a publisher refusing the proxy's key shows as a refusal, not as a live link.

Not proxied: the snapshot (last-value cache) and the control socket. A snapshot reply carries one
``sid``, so it cannot speak for several publishers, and a lease is held at one publisher; late
joiners and on-demand requests go to each publisher's ``bus.snapshot`` and ``control.listen``.
"""

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Final

import zmq
from prometheus_client import CollectorRegistry
from zmq.utils.monitor import recv_monitor_message

from publisher.loop import EventLoop
from publisher.observability.httpd import MetricsServer, Readiness
from publisher.proxy.links import HANDSHAKE_FAILED, MONITORED, Link, Redials, UpstreamLinks
from publisher.proxy.metrics import ProxyMetrics, ProxyStatistics
from publisher.proxy.security import ProxySecurity
from publisher.proxy.settings import ProxySettings

log = logging.getLogger(__name__)

EXIT_OK: Final = 0
EXIT_FATAL: Final = 1
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


class ProxyService:
    """Binds, connects and runs the forwarder until :meth:`stop`.

    :meth:`start` binds and connects (separate from :meth:`run` so tests can bind port 0 and
    read :attr:`endpoints` first); :meth:`run` supervises until :meth:`stop` and cleans up.
    Construction loads the CURVE keys, so a bad key file raises ``ConfigError`` before any
    socket exists.
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
        self.security = ProxySecurity.from_settings(settings)
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
        self._xpub: zmq.Socket[Any] | None = None
        self._forwarder_control: zmq.Socket[Any] | None = None
        self._monitor: zmq.Socket[Any] | None = None
        self._control: zmq.Socket[Any] | None = None
        self._control_lock = threading.Lock()
        self._forwarding = False
        self._last_stats = ProxyStatistics()
        self._stats_base = ProxyStatistics()
        """The counts of the forwarder's earlier runs (it is paused to re-dial an upstream)."""
        self._pausing = False
        self._thread: threading.Thread | None = None
        self._links = UpstreamLinks()
        self._redials = Redials()
        self._clock = time.monotonic
        self._failure: str | None = None
        self._stopping = False
        self._loop = EventLoop()
        """The supervisor's loop: the socket monitor, and a wake-up for :meth:`stop`."""

    # -- public ------------------------------------------------------------------------------

    @property
    def upstreams(self) -> tuple[str, ...]:
        return self.settings.upstreams

    @property
    def upstreams_connected(self) -> int:
        """Upstream connections established now (handshake done, from the socket monitor)."""
        return self._links.up

    @property
    def upstream_refusals(self) -> int:
        """Upstream connections that closed before their handshake succeeded (a CURVE key the
        publisher refuses, a wrong server key, CURVE on one side only), since start."""
        return self._links.refusals

    def start(self) -> None:
        """Bind the XPUB side, connect the XSUB side, start the forwarder and the metrics."""
        if self._xsub is not None:
            return
        hwm = self.settings.hwm
        security = self.security
        security.start(self._context)
        security.warn_if_exposed(self.settings.binds, self.settings.upstreams)
        xpub = self._xpub = self._socket(zmq.XPUB)
        xpub.setsockopt(zmq.SNDHWM, hwm)
        security.secure_downstream(xpub)
        for endpoint in self.settings.binds:
            try:
                xpub.bind(endpoint)
            except zmq.ZMQError as exc:
                log.error("cannot bind", extra={"endpoint": endpoint, "error": exc.strerror})
                raise
            # A tcp port of 0 or * is resolved by the bind: report what subscribers must use.
            self.endpoints.append(xpub.getsockopt_string(zmq.LAST_ENDPOINT))
        xsub = self._xsub = self._socket(zmq.XSUB)
        xsub.setsockopt(zmq.RCVHWM, hwm)
        xsub.setsockopt(zmq.RECONNECT_IVL, RECONNECT_IVL_MS)
        xsub.setsockopt(zmq.RECONNECT_IVL_MAX, RECONNECT_IVL_MAX_MS)
        security.secure_upstream(xsub)
        # The monitor is attached before connecting so the first connection is not missed.
        self._monitor = xsub.get_monitor_socket(MONITORED)
        self._sockets.append(self._monitor)
        for endpoint in self.settings.upstreams:
            xsub.connect(endpoint)
        control_address = f"inproc://ibpub-proxy-control-{id(self):x}"
        self._forwarder_control = self._socket(zmq.PAIR)
        self._forwarder_control.bind(control_address)
        self._control = self._socket(zmq.PAIR)
        self._control.connect(control_address)
        self._start_forwarder()
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
        self._loop.stop()

    def readiness(self) -> Readiness:
        """Ready while at least one upstream publisher is connected."""
        connected, total = self._links.up, len(self.settings.upstreams)
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
                run = ProxyStatistics.from_reply(control.recv_multipart())
                self._last_stats = self._stats_base.plus(run)
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

    def _start_forwarder(self) -> None:
        xsub, xpub, control = self._xsub, self._xpub, self._forwarder_control
        assert xsub is not None and xpub is not None and control is not None
        with self._control_lock:
            self._forwarding = True
        self._thread = threading.Thread(
            target=self._forward,
            args=(xsub, xpub, control),
            name="ibpub-proxy-forwarder",
            daemon=True,
        )
        self._thread.start()

    def _stop_forwarder(self) -> bool:
        """TERMINATE the forwarder and join it, keeping its counts; False if it did not stop
        (its sockets must then be left alone)."""
        final = self.statistics()
        with self._control_lock:
            if self._forwarding and self._control is not None:
                self._control.send(b"TERMINATE")
            self._forwarding = False
            self._stats_base = final
        thread = self._thread
        if thread is not None:
            thread.join(STOP_TIMEOUT)
            if thread.is_alive():
                return False
        self._thread = None
        return True

    def _forward(
        self, xsub: zmq.Socket[Any], xpub: zmq.Socket[Any], control: zmq.Socket[Any]
    ) -> None:
        """The forwarder thread: returns when TERMINATE arrives on ``control``."""
        try:
            zmq.proxy_steerable(xsub, xpub, None, control)
        except zmq.ZMQError as exc:
            failure = f"forwarder: {exc}"
        else:
            failure = "forwarder stopped unexpectedly"
        if not (self._stopping or self._pausing):
            self._failure = failure
            self.stop()

    def _supervise(self) -> None:
        assert self._monitor is not None
        self._loop.add_socket(self._monitor, self._drain_monitor)
        self._loop.add_timer(_RedialTimer(self._redials, self._redial))
        self._loop.run()

    def _redial(self, endpoints: list[str]) -> None:
        """Dial refused upstreams again: the forwarder is paused meanwhile, since the XSUB
        socket may only be used by one thread at a time (queued messages wait in it)."""
        xsub = self._xsub
        if xsub is None or self._stopping:
            return
        self._pausing = True
        try:
            if not self._stop_forwarder():
                self._failure = "the forwarder did not pause to re-dial an upstream"
                self.stop()
                return
            for endpoint in endpoints:
                log.info("dialling a refused upstream again", extra={"endpoint": endpoint})
                with contextlib.suppress(zmq.ZMQError):
                    xsub.disconnect(endpoint)
                xsub.connect(endpoint)
        finally:
            self._pausing = False
        self._start_forwarder()

    def _drain_monitor(self) -> None:
        assert self._monitor is not None
        while True:
            try:
                event = recv_monitor_message(self._monitor, zmq.NOBLOCK)
            except zmq.Again:
                return
            endpoint = bytes(event["endpoint"]).decode("utf-8", "replace")
            kind = event["event"]
            change = self._links.on_event(endpoint, kind)
            if kind & HANDSHAKE_FAILED:
                # libzmq does not retry after these: the supervisor will.
                self._redials.refused(endpoint, self._clock())
            if change is None:
                continue
            if change.after is Link.UP:
                self._redials.connected(endpoint)
                log.info("upstream connected", extra={"endpoint": endpoint})
            elif change.before is Link.UP:
                log.warning("upstream disconnected", extra={"endpoint": endpoint})
            elif change.first_refusal:
                # Once per run of refusals: a refused link is dialled again and again.
                log.warning(
                    "upstream refused the connection before its handshake: check that both "
                    "sides use CURVE and the keys (--upstream-curve-server-key is the "
                    "publisher's server.key, the proxy's client key is in its "
                    "bus.curve_authorized_keys)",
                    extra={"endpoint": endpoint, "curve": self.security.client is not None},
                )

    def _shutdown(self) -> None:
        self._stopping = True
        if not self._stop_forwarder():
            # Closing sockets the forwarder still uses would be unsafe; leave them to exit.
            log.error("forwarder did not stop; leaving its sockets open")
            self._close_http()
            return
        final = self._last_stats
        if self._xsub is not None and self._monitor is not None:
            with contextlib.suppress(zmq.ZMQError):
                self._xsub.disable_monitor()
        for sock in self._sockets:
            sock.close(linger=0)
        self._sockets.clear()
        self.security.close()
        self._close_http()
        if self._own_context:
            self._context.term()
        log.info("proxy stopped", extra={"messages_forwarded": final.messages_forwarded})

    def _close_http(self) -> None:
        if self.metrics_server is not None:
            self.metrics_server.close()
            self.metrics_server = None
        self._loop.close()


class _RedialTimer:
    """The loop's :class:`~publisher.loop.Timer` for :class:`Redials`."""

    def __init__(self, redials: Redials, redial: Callable[[list[str]], None]) -> None:
        self._redials = redials
        self._redial = redial

    def run(self, now: float) -> None:
        due = self._redials.due(now)
        if due:
            self._redial(due)

    def deadline(self) -> float | None:
        return self._redials.deadline()
