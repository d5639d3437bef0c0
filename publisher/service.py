"""The publisher: one thread that owns the gateway socket and the PUB socket.

The loop polls the gateway socket (a plain descriptor in a ``zmq.Poller``) and a wake-up
socket, reads at most one bounded chunk per turn, and runs its timers (heartbeats, connect
timeout, reconnect, RTT probe) between reads, so control work is never starved by a busy feed
and a busy feed is never queued behind control work.

    gateway socket -> GatewayClient (framing, ibapi Decoder) -> Adapter -> this service
      -> normalise -> Bus (envelope, seq, msgpack, PUB)      \\-> PublisherMetrics
"""

import contextlib
import logging
import random
import socket
import time
from collections.abc import Callable, Mapping
from importlib.metadata import version as package_version
from typing import Any, Final

import zmq
from prometheus_client import CollectorRegistry

from publisher import __version__
from publisher.bus import SCHEMA_VERSION, Bus
from publisher.config import Settings
from publisher.gateway.adapter import Adapter, ContractMatch, contract_from_spec
from publisher.gateway.client import FrameDecodeError, GatewayClient, GatewayClosedError, Phase
from publisher.gateway.codes import Action, classify
from publisher.gateway.framing import FramingError
from publisher.httpd import MetricsServer, Readiness
from publisher.instruments import DELAYED, FAILED, PENDING, STREAMING, Instrument
from publisher.metrics import BuildInfo, PublisherMetrics
from publisher.tickpath import TickPath

log = logging.getLogger(__name__)

RECONNECT_INITIAL: Final = 1.0
RECONNECT_MAX: Final = 30.0
PROBE_INTERVAL: Final = 5.0
"""Seconds between reqCurrentTime probes (RTT metric and liveness)."""
PROBE_TIMEOUT: Final = 15.0
"""A gateway that leaves a probe unanswered this long is treated as dead and reconnected."""
READS_PER_TURN: Final = 8
"""Chunks read per loop turn before timers run: bounded, so heartbeats survive a flood."""


def _ibapi_version() -> str:
    try:
        return package_version("ibapi-stable")
    except Exception:  # an unusual install (from source): the build info says so
        return "unknown"


class PublisherService:
    """Connects to the gateway, qualifies and subscribes instruments, publishes every tick."""

    def __init__(
        self,
        settings: Settings,
        *,
        context: zmq.Context[Any] | None = None,
        registry: CollectorRegistry | None = None,
        serve_metrics: bool = True,
    ) -> None:
        self.settings = settings
        self._context = context or zmq.Context.instance()
        self.registry = registry or CollectorRegistry()
        self.metrics = PublisherMetrics(
            self.registry, BuildInfo(__version__, _ibapi_version(), SCHEMA_VERSION)
        )
        self.instruments = [
            Instrument(spec, self.metrics.instrument_counter(spec.key))
            for spec in settings.instruments
        ]
        self._by_details_req: dict[int, Instrument] = {}
        self._next_req_id = 1000
        self.gateway_state = "disconnected"
        self._client: GatewayClient | None = None
        self._ticks: TickPath | None = None
        self._adapter: Adapter | None = None
        self._pollables: list[tuple[zmq.Socket[Any], Callable[[], None]]] = []
        self._stopping = False
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._serve_metrics = serve_metrics
        self.metrics_server: MetricsServer | None = None
        self.bus: Bus | None = None
        self._connect_deadline = 0.0
        self._reconnect_at = 0.0
        self._backoff = RECONNECT_INITIAL
        self._ever_connected = False
        self._next_heartbeat = 0.0
        self._next_probe = 0.0
        self._probe_sent_at = 0.0
        self._warned_codes: set[int] = set()
        self._decode_kinds_logged: set[str] = set()

    # -- public ----------------------------------------------------------------------------

    def start(self) -> None:
        """Bind the bus and the metrics endpoint (separate from :meth:`run` so tests can bind
        on port 0 and read the resolved endpoints before the loop runs)."""
        if self.bus is not None:
            return
        bus_cfg = self.settings.bus
        messages = self.metrics.messages
        self.bus = Bus(
            name=self.settings.publisher.name,
            endpoints=bus_cfg.pub,
            send_hwm=bus_cfg.send_hwm,
            context=self._context,
            on_sent=lambda kind: messages[kind].inc(),
        )
        self._ticks = TickPath(
            self.bus, self.metrics.tick_latency, self._receive_time, self._set_instrument
        )
        self._adapter = Adapter(self, self._ticks)
        self.metrics.watch(self)
        if self._serve_metrics:
            self.metrics_server = MetricsServer(
                self.settings.metrics.listen, self.registry, self.readiness
            )
        log.info(
            "publisher started",
            extra={"sid": self.bus.sid, "endpoints": self.bus.endpoints},
        )

    def run(self) -> int:
        """Run until :meth:`stop`; returns the process exit code (0 on a clean stop)."""
        self.start()
        assert self.bus is not None
        self._status("publisher", "starting", message=f"sid {self.bus.sid}")
        self._reconnect_at = time.monotonic()
        self._next_heartbeat = time.monotonic()
        try:
            self._loop()
        finally:
            self._shutdown()
        return 0

    def add_pollable(self, sock: zmq.Socket[Any], on_readable: Callable[[], None]) -> None:
        """Serve another ZeroMQ socket on the service thread (for example the snapshot
        ROUTER); ``on_readable`` must do a bounded amount of work per call."""
        self._pollables.append((sock, on_readable))

    def stop(self) -> None:
        """Ask the loop to stop; safe from a signal handler or another thread."""
        self._stopping = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def readiness(self) -> Readiness:
        """Ready while the gateway is connected and at least one instrument streams."""
        if self.gateway_state != "connected":
            return Readiness(False, f"gateway {self.gateway_state}")
        streaming = sum(1 for i in self.instruments if i.state in STREAMING)
        if streaming == 0:
            return Readiness(False, "no instrument subscribed yet")
        return Readiness(True, f"{streaming} of {len(self.instruments)} instruments streaming")

    # StateView for the scrape-time metrics collector.
    def instrument_states(self) -> Mapping[str, str]:
        return {i.key: i.state for i in self.instruments}

    def last_tick_times(self) -> Mapping[str, float]:
        return {i.key: i.last_tick_ns / 1e9 for i in self.instruments if i.last_tick_ns}

    # -- the loop -------------------------------------------------------------------------

    def _loop(self) -> None:
        poller = zmq.Poller()
        poller.register(self._wake_r.fileno(), zmq.POLLIN)
        for sock, _ in self._pollables:
            poller.register(sock, zmq.POLLIN)
        registered_fd = -1
        registered_mask = 0
        while not self._stopping:
            now = time.monotonic()
            self._run_timers(now)
            client = self._client
            fd = client.fileno() if client is not None else -1
            mask = 0
            if client is not None and fd >= 0:
                mask = zmq.POLLIN | (zmq.POLLOUT if client.phase is Phase.CONNECTING else 0)
            if (fd, mask) != (registered_fd, registered_mask):
                if registered_fd >= 0:
                    with contextlib.suppress(KeyError):
                        poller.unregister(registered_fd)
                if fd >= 0:
                    poller.register(fd, mask)
                registered_fd, registered_mask = fd, mask
            timeout_ms = max(0, int((self._next_deadline(now) - now) * 1000)) + 1
            events = dict(poller.poll(timeout_ms))
            if self._wake_r.fileno() in events:
                with contextlib.suppress(BlockingIOError):
                    self._wake_r.recv(4096)
            if fd >= 0 and fd in events and client is self._client:
                self._service_gateway(events[fd])
            for sock, on_readable in self._pollables:
                if sock in events:
                    on_readable()

    def _next_deadline(self, now: float) -> float:
        deadlines = [self._next_heartbeat]
        if self._client is None:
            deadlines.append(self._reconnect_at)
        elif self.gateway_state == "connected":
            deadlines.append(self._next_probe)
            if self._probe_sent_at:
                deadlines.append(self._probe_sent_at + PROBE_TIMEOUT)
        else:
            deadlines.append(self._connect_deadline)
        return min(deadlines)

    def _run_timers(self, now: float) -> None:
        if now >= self._next_heartbeat:
            self._heartbeat()
            self._next_heartbeat = now + self.settings.bus.heartbeat_interval
        if self._client is None:
            if now >= self._reconnect_at:
                self._connect()
            return
        if self.gateway_state != "connected":
            if now >= self._connect_deadline:
                self._drop_connection(
                    f"no API session within {self.settings.gateway.connect_timeout:g} s"
                )
            return
        if self._probe_sent_at and now - self._probe_sent_at >= PROBE_TIMEOUT:
            self._drop_connection(f"gateway did not answer reqCurrentTime in {PROBE_TIMEOUT:g} s")
            return
        if now >= self._next_probe and not self._probe_sent_at:
            self._probe_sent_at = now
            self._next_probe = now + PROBE_INTERVAL
            self._client.reqCurrentTime()

    def _service_gateway(self, event: int) -> None:
        client = self._client
        assert client is not None
        try:
            if client.phase is Phase.CONNECTING and event & zmq.POLLOUT:
                client.on_writable()
                return
            if event & zmq.POLLIN:
                for _ in range(READS_PER_TURN):
                    if client.on_readable() == 0 or self._client is not client:
                        break
        except GatewayClosedError as exc:
            self._drop_connection(str(exc))
        except FramingError as exc:
            self._decode_error("framing", exc.head)
            self._drop_connection(f"gateway stream cannot be framed: {exc}")

    # -- connection lifecycle ---------------------------------------------------------------

    def _connect(self) -> None:
        gw = self.settings.gateway
        self._set_gateway("connecting", message=f"connecting to {gw.host}:{gw.port}")
        client = GatewayClient(self._adapter, decode_error=self._on_decode_failure)
        try:
            client.begin_connect(gw.host, gw.port, gw.client_id)
        except (GatewayClosedError, OSError) as exc:
            self._client = None
            self._schedule_reconnect(str(exc))
            return
        self._client = client
        self._connect_deadline = time.monotonic() + gw.connect_timeout

    def _drop_connection(self, reason: str) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        self._data_reqs.clear()
        self._by_details_req.clear()
        for inst in self.instruments:
            if inst.state != FAILED:
                self._set_instrument(inst, PENDING, "waiting for the gateway")
        self._probe_sent_at = 0.0
        self._schedule_reconnect(reason)

    def _schedule_reconnect(self, reason: str) -> None:
        delay = self._backoff * random.uniform(0.8, 1.2)  # jitter: restarts don't sync up
        self._backoff = min(self._backoff * 2, RECONNECT_MAX)
        self._reconnect_at = time.monotonic() + delay
        self._set_gateway("disconnected", message=f"{reason}; retrying in {delay:.1f} s")

    def on_api_ready(self, next_order_id: int) -> None:
        client = self._client
        if client is None or self.gateway_state == "connected":
            return
        if self._ever_connected:
            self.metrics.reconnects.inc()
        self._ever_connected = True
        self._backoff = RECONNECT_INITIAL
        self._next_probe = time.monotonic()
        self._set_gateway(
            "connected",
            message=f"API session up (server version {client.serverVersion()})",
        )
        client.reqMarketDataType(self.settings.gateway.market_data_type_id)
        for inst in self.instruments:
            if inst.state == FAILED:
                continue
            if inst.con_id:
                self._subscribe(inst)
            else:
                self._qualify(inst)

    def _req_id(self) -> int:
        self._next_req_id += 1
        return self._next_req_id

    def _qualify(self, inst: Instrument) -> None:
        assert self._client is not None
        inst.matches = []
        inst.details_req = self._req_id()
        self._by_details_req[inst.details_req] = inst
        self._client.reqContractDetails(inst.details_req, contract_from_spec(inst.spec))

    def _subscribe(self, inst: Instrument) -> None:
        assert self._client is not None
        inst.data_req = self._req_id()
        self._data_reqs[inst.data_req] = inst
        self._client.reqMktData(
            inst.data_req,
            contract_from_spec(inst.spec, inst.con_id),
            inst.spec.generic_ticks,
            False,
            False,
            [],
        )
        log.info("subscribed", extra={"key": inst.key, "conid": inst.con_id})

    def on_contract_match(self, req_id: int, match: ContractMatch) -> None:
        inst = self._by_details_req.get(req_id)
        if inst is not None:
            inst.matches.append(match)

    def on_contract_end(self, req_id: int) -> None:
        inst = self._by_details_req.pop(req_id, None)
        if inst is None:
            return
        if len(inst.matches) == 1:
            inst.con_id = inst.matches[0].con_id
            self._subscribe(inst)
        elif not inst.matches:
            self._set_instrument(inst, FAILED, "no contract matches", code=200)
        else:
            found = ", ".join(f"{m.local_symbol or m.symbol}@{m.exchange}" for m in inst.matches)
            self._set_instrument(
                inst, FAILED, f"ambiguous contract: {len(inst.matches)} match ({found})"
            )

    def on_current_time(self, epoch_seconds: int) -> None:
        if self._probe_sent_at:
            self.metrics.gateway_rtt.observe(time.monotonic() - self._probe_sent_at)
            self._probe_sent_at = 0.0

    def on_market_data_type(self, req_id: int, mdt: int) -> None:
        inst = self._data_reqs.get(req_id)
        if inst is None:
            return
        inst.mdt = mdt
        if mdt in (3, 4):
            self._set_instrument(inst, DELAYED, f"market data type {mdt} (delayed)")

    def on_gateway_message(self, req_id: int, code: int, message: str) -> None:
        self.metrics.gateway_error(code)
        info = classify(code)
        action = info.action
        inst = self._data_reqs.get(req_id) or self._by_details_req.get(req_id)
        if action is Action.INFO:
            log.debug("gateway info", extra={"code": code, "text": message})
            return
        if inst is not None and action in (Action.REQUEST_FAILED, Action.NO_LIVE_PERMISSION):
            self._data_reqs.pop(inst.data_req, None)
            self._by_details_req.pop(inst.details_req, None)
            self._set_instrument(inst, FAILED, message, code=code)
            return
        if inst is not None and action is Action.DELAYED_INSTEAD:
            inst.mdt = 3
            self._set_instrument(inst, DELAYED, message, code=code)
            return
        if action is Action.CONNECTIVITY_LOST:
            self._set_gateway("degraded", message=message, code=code)
        elif action is Action.RESTORED_DATA_KEPT:
            self._set_gateway("connected", message=message, code=code)
        elif action is Action.RESTORED_DATA_LOST:
            self._set_gateway("connected", message=message, code=code)
            self._resubscribe_all()
        elif action is Action.CLIENT_ID_IN_USE:
            log.error("client id in use", extra={"client_id": self.settings.gateway.client_id})
            self._drop_connection(f"client id {self.settings.gateway.client_id} in use: {message}")
        elif code not in self._warned_codes:
            self._warned_codes.add(code)
            log.warning(
                "gateway message",
                extra={"code": code, "text": message, "req_id": req_id, "meaning": info.meaning},
            )

    def _resubscribe_all(self) -> None:
        client = self._client
        if client is None:
            return
        for inst in self.instruments:
            if inst.data_req:
                self._data_reqs.pop(inst.data_req, None)
                client.cancelMktData(inst.data_req)
            if inst.con_id and inst.state != FAILED:
                self._subscribe(inst)

    # -- ticks ----------------------------------------------------------------------------

    @property
    def _data_reqs(self) -> dict[int, Instrument]:
        """Market-data request id -> instrument, shared with the tick path."""
        assert self._ticks is not None
        return self._ticks.by_req

    def _receive_time(self) -> int:
        client = self._client
        return client.last_read_ns if client is not None else time.time_ns()

    # -- bad input -------------------------------------------------------------------------

    def _on_decode_failure(self, failure: FrameDecodeError) -> None:
        self._decode_error(f"message {failure.msg_id}", failure.payload, failure.cause)

    def _decode_error(self, kind: str, data: bytes, cause: BaseException | None = None) -> None:
        self.metrics.decode_errors.inc()
        if kind not in self._decode_kinds_logged:
            self._decode_kinds_logged.add(kind)
            log.warning(
                "undecodable gateway frame (logged once per kind)",
                extra={"kind": kind, "bytes": data[:64].hex(), "cause": repr(cause)},
            )

    # -- status and heartbeat ------------------------------------------------------------------

    def _status(
        self,
        scope: str,
        state: str,
        *,
        key: str | None = None,
        code: int | None = None,
        message: str = "",
    ) -> None:
        assert self.bus is not None
        self.bus.publish(
            self.bus.status_topic,
            "status",
            {"scope": scope, "state": state, "key": key, "code": code, "message": message},
        )
        log.info(
            "status",
            extra={"scope": scope, "state": state, "key": key, "code": code, "text": message},
        )

    def _set_gateway(self, state: str, *, message: str, code: int | None = None) -> None:
        if state == self.gateway_state and code is None and state != "disconnected":
            return
        self.gateway_state = state
        self.metrics.gateway_connected.set(1 if state == "connected" else 0)
        self._status("gateway", state, code=code, message=message)

    def _set_instrument(
        self, inst: Instrument, state: str, message: str, *, code: int | None = None
    ) -> None:
        if inst.state == state:
            return
        inst.state = state
        self._status("instrument", state, key=inst.key, code=code, message=message)

    def _heartbeat(self) -> None:
        assert self.bus is not None
        self.bus.publish(
            self.bus.heartbeat_topic,
            "hb",
            {"gateway": self.gateway_state, "seqs": self.bus.tick_seqs()},
        )

    # -- shutdown ---------------------------------------------------------------------------

    def _shutdown(self) -> None:
        client = self._client
        if client is not None and self.gateway_state in ("connected", "degraded"):
            for req_id in list(self._data_reqs):
                with contextlib.suppress(Exception):
                    client.cancelMktData(req_id)
        if self.bus is not None:
            self._status("publisher", "stopping", message="shutting down")
        if client is not None:
            client.close()
            self._client = None
        if self.bus is not None:
            self.bus.close()
        if self.metrics_server is not None:
            self.metrics_server.close()
        self._wake_r.close()
        self._wake_w.close()
        log.info("publisher stopped")
