"""The publisher: one thread that owns the gateway socket and the PUB socket.

The loop polls the gateway socket (a plain descriptor in a ``zmq.Poller``) and a wake-up
socket, reads at most one bounded chunk per turn, and runs its timers (heartbeats, the
connection machine's deadlines, the request pacer, the stale-instrument check) between reads,
so control work is never starved by a busy feed and a busy feed is never queued behind control
work.

Every decision about the connection (connect, time out, back off, probe, rotate client ids,
degrade, restore) is made by the pure machine in :mod:`publisher.gateway.connection`; this
module feeds it events and carries out the actions it returns. Every request to the gateway goes
through the :class:`~publisher.gateway.pacing.RequestPacer`, so IB's 50 messages per second are
never exceeded.

    gateway socket -> GatewayClient (framing, ibapi Decoder) -> Adapter -> this service
      -> normalise -> Bus (envelope, seq, msgpack, PUB)      \\-> PublisherMetrics
"""

import contextlib
import logging
import random
import socket
import time
from collections import deque
from collections.abc import Callable, Mapping
from importlib.metadata import version as package_version
from typing import Any, Final

import zmq
from prometheus_client import CollectorRegistry

from publisher import __version__
from publisher.bus.curve import BusSecurity
from publisher.bus.publish import SCHEMA_VERSION, Bus
from publisher.bus.snapshot import SnapshotServer
from publisher.config import Settings
from publisher.core.instruments import DELAYED, FAILED, PENDING, STALE, STREAMING, Instrument
from publisher.core.tickpath import TickPath
from publisher.gateway.adapter import Adapter, ContractMatch, contract_from_spec
from publisher.gateway.backlog import BEHIND_AFTER, BacklogWatch
from publisher.gateway.client import FrameDecodeError, GatewayClient, GatewayClosedError, Phase
from publisher.gateway.codes import Action, classify
from publisher.gateway.connection import Action as ConnAction
from publisher.gateway.connection import (
    ApiReady,
    ClientIdRejected,
    CloseConnection,
    ConnState,
    CountReconnect,
    Dropped,
    Event,
    ForgetRequests,
    GiveUp,
    LinkLost,
    LinkRestored,
    OpenConnection,
    Policy,
    ProbeAnswered,
    Report,
    ResubscribeAll,
    SendProbe,
    Start,
    Stop,
    SubscribeAll,
    TimerFired,
    next_deadline,
    transition,
)
from publisher.gateway.connection import Phase as ConnPhase
from publisher.gateway.framing import FramingError
from publisher.gateway.pacing import RequestPacer
from publisher.gateway.ticktypes import IBAPI_TICK_NAMES
from publisher.observability.httpd import MetricsServer, Readiness
from publisher.observability.metrics import BuildInfo, PublisherMetrics

log = logging.getLogger(__name__)

READS_PER_TURN: Final = 8
"""Chunks read per loop turn before timers run: bounded, so heartbeats survive a flood."""
SHUTDOWN_CANCEL_BUDGET: Final = 1.0
"""Seconds spent sending cancelMktData at shutdown; closing the socket cancels the rest."""
DELAYED_MDT: Final = 3


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
        behind_after: float = BEHIND_AFTER,
    ) -> None:
        self.settings = settings
        self._behind_after = behind_after
        """Seconds of reads that all leave data waiting before "behind" is reported."""
        self._context = context or zmq.Context.instance()
        self.registry = registry or CollectorRegistry()
        self.metrics = PublisherMetrics(
            self.registry,
            BuildInfo(__version__, _ibapi_version(), SCHEMA_VERSION),
            per_instrument=settings.metrics.per_instrument,
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
        self.snapshot: SnapshotServer | None = None
        self.security = BusSecurity()
        gw = settings.gateway
        self._policy = Policy(
            client_ids=gw.client_ids,
            connect_timeout=gw.connect_timeout,
            backoff_initial=gw.reconnect_initial,
            backoff_max=gw.reconnect_max,
            probe_interval=gw.probe_interval,
            probe_timeout=gw.probe_timeout,
        )
        self.connection = ConnState()
        """The connection machine's state (read it, never write it from outside)."""
        self._events: deque[Event] = deque()
        self._draining = False
        self.pacer = RequestPacer()
        self._next_heartbeat = 0.0
        self._probe_wire_at = 0.0
        self._next_stale_check = 0.0
        self._requested_at: dict[str, float] = {}  # key -> monotonic time of the last reqMktData
        self._stale_retries: dict[str, int] = {}
        self._lost: set[str] = set()  # keys whose stream died with the link (10182)
        self._exit_code = 0
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
        self.security = BusSecurity.start(bus_cfg, self._context, self.settings.source)
        self.bus = Bus(
            name=self.settings.publisher.name,
            endpoints=bus_cfg.pub,
            send_hwm=bus_cfg.send_hwm,
            context=self._context,
            on_sent=lambda kind: messages[kind].inc(),
            before_bind=self.security.secure,
        )
        self.snapshot = SnapshotServer.for_bus(self.bus, bus_cfg.snapshot, self.security.secure)
        self.add_pollable(self.snapshot.socket, self.snapshot.on_readable)
        self._ticks = TickPath(
            self.bus,
            self.metrics.tick_latency,
            self._receive_time,
            self._set_instrument,
            self.snapshot.cache.record,
            tick_names=IBAPI_TICK_NAMES,
            tick_messages=messages["tick"],
        )
        self._adapter = Adapter(self, self._ticks)
        self.metrics.watch(self)
        self.metrics.gateway_backlog.set_function(self._backlog_bytes)
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
        self._next_heartbeat = time.monotonic()
        try:
            self._post(Start())
            self._loop()
        finally:
            self._shutdown()
        return self._exit_code

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
        machine = next_deadline(self.connection, self._policy)
        if machine is not None:
            deadlines.append(machine)
        paced = self.pacer.next_ready()
        if paced is not None:
            deadlines.append(paced)
        if self._stale_check_on():
            deadlines.append(self._next_stale_check)
        return min(deadlines)

    def _run_timers(self, now: float) -> None:
        if now >= self._next_heartbeat:
            self._heartbeat()
            self._next_heartbeat = now + self.settings.bus.heartbeat_interval
        machine = next_deadline(self.connection, self._policy)
        if machine is not None and now >= machine:
            self._post(TimerFired())
        if self.connection.session_up:
            self.pacer.drain()
            if self._stale_check_on() and now >= self._next_stale_check:
                self._next_stale_check = now + min(1.0, self.settings.gateway.stale_after / 4)
                self._check_stale(now)

    def _service_gateway(self, event: int) -> None:
        client = self._client
        assert client is not None
        try:
            if client.phase is Phase.CONNECTING and event & zmq.POLLOUT:
                client.on_writable()
                return
            if event & zmq.POLLIN:
                for _ in range(READS_PER_TURN):
                    client.on_readable()
                    if not client.more_waiting or self._client is not client:
                        break
        except GatewayClosedError as exc:
            self._post(Dropped(str(exc)))
        except FramingError as exc:
            self._decode_error("framing", exc.head)
            self._post(Dropped(f"gateway stream cannot be framed: {exc}"))

    # -- connection lifecycle ---------------------------------------------------------------

    def _post(self, event: Event) -> None:
        """Feed the connection machine one event and carry out its actions.

        Actions may post further events (a connect that fails at once); those are queued and
        handled after the current action list, so transitions never nest.
        """
        self._events.append(event)
        if self._draining:
            return  # the outer _post handles it after the current actions
        self._draining = True
        try:
            while self._events:
                current = self._events.popleft()
                step = transition(
                    self.connection, current, self._policy, time.monotonic(), random.random()
                )
                self.connection, actions = step
                for action in actions:
                    self._execute(action)
        finally:
            self._draining = False
            self._events.clear()

    def _execute(self, action: ConnAction) -> None:
        match action:
            case Report(state=state, message=message, code=code):
                self._set_gateway(state, message=message, code=code)
            case OpenConnection(client_id=client_id):
                self._open_connection(client_id)
            case CloseConnection():
                if self._client is not None:
                    self._client.close()
                    self._client = None
            case ForgetRequests():
                self._forget_requests()
            case CountReconnect():
                self.metrics.reconnects.inc()
            case SubscribeAll():
                self._subscribe_all()
            case ResubscribeAll():
                self._resubscribe_all()
            case SendProbe():
                self.pacer.submit(self._send_probe, urgent=True)
            case GiveUp(message=message):
                log.error("giving up on the gateway", extra={"text": message})
                self._exit_code = 1
                self._stopping = True

    def _open_connection(self, client_id: int) -> None:
        gw = self.settings.gateway
        client = GatewayClient(
            self._adapter,
            decode_error=self._on_decode_failure,
            ticks=self._ticks,
            on_backlog=self._backlog_reporter(),
        )
        try:
            client.begin_connect(gw.host, gw.port, client_id)
        except (GatewayClosedError, OSError) as exc:
            self._post(Dropped(f"connect to {gw.host}:{gw.port} failed: {exc}"))
            return
        self._client = client
        log.info("connecting", extra={"host": gw.host, "port": gw.port, "client_id": client_id})

    def _forget_requests(self) -> None:
        """The connection is gone: its requests are void and every instrument waits."""
        self.pacer.clear()
        self._data_reqs.clear()
        self._by_details_req.clear()
        self._requested_at.clear()
        self._stale_retries.clear()
        self._lost.clear()
        for inst in self.instruments:
            inst.data_req = 0
            if inst.state != FAILED:
                self._set_instrument(inst, PENDING, "waiting for the gateway")

    def on_api_ready(self, next_order_id: int) -> None:
        client = self._client
        if client is None:
            return
        self._post(ApiReady(client.serverVersion()))

    def _subscribe_all(self) -> None:
        self._send(lambda c: c.reqMarketDataType(self.settings.gateway.market_data_type_id))
        for inst in self.instruments:
            if inst.state == FAILED:
                continue
            if inst.con_id:
                self._subscribe(inst, delayed=self._needs_delayed(inst))
            else:
                self._qualify(inst)

    def _send(self, request: Callable[[GatewayClient], None], *, urgent: bool = False) -> None:
        """Queue a request for the current connection behind the pacer."""
        client = self._client

        def paced() -> None:
            if self._client is client and client is not None:
                try:
                    request(client)
                except OSError as exc:  # reset, broken pipe, or a send that timed out
                    self._post(Dropped(f"sending to the gateway failed: {exc}"))

        self.pacer.submit(paced, urgent=urgent)

    def _send_probe(self) -> None:
        if self._client is not None:
            self._probe_wire_at = time.monotonic()
            self._client.reqCurrentTime()

    def _req_id(self) -> int:
        self._next_req_id += 1
        return self._next_req_id

    def _qualify(self, inst: Instrument) -> None:
        inst.matches = []
        req_id = inst.details_req = self._req_id()
        self._by_details_req[req_id] = inst
        contract = contract_from_spec(inst.spec)
        self._send(lambda c: c.reqContractDetails(req_id, contract))

    def _subscribe(self, inst: Instrument, *, delayed: bool = False) -> None:
        req_id = inst.data_req = self._req_id()
        self._data_reqs[req_id] = inst
        self._requested_at[inst.key] = time.monotonic()
        contract = contract_from_spec(inst.spec, inst.con_id)
        ticks = inst.spec.generic_ticks
        if delayed:  # reqMarketDataType is session-wide: switch for this one request only
            self._send(lambda c: c.reqMarketDataType(DELAYED_MDT))
        self._send(lambda c: c.reqMktData(req_id, contract, ticks, False, False, []))
        if delayed:
            self._send(lambda c: c.reqMarketDataType(self.settings.gateway.market_data_type_id))
        log.info("subscribing", extra={"key": inst.key, "conid": inst.con_id, "delayed": delayed})

    def _rerequest(self, inst: Instrument, *, delayed: bool = False) -> None:
        """Cancel an instrument's stream (if any) and request it again under a new id."""
        old = inst.data_req
        if old:
            self._data_reqs.pop(old, None)
            self._send_cancel(old)
        self._subscribe(inst, delayed=delayed)

    def _send_cancel(self, req_id: int) -> None:
        self._send(lambda c: c.cancelMktData(req_id))

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
        if self._probe_wire_at:
            self.metrics.gateway_rtt.observe(time.monotonic() - self._probe_wire_at)
            self._probe_wire_at = 0.0
        self._post(ProbeAnswered())

    def on_market_data_type(self, req_id: int, mdt: int) -> None:
        inst = self._data_reqs.get(req_id)
        if inst is None:
            return
        inst.mdt = mdt
        if mdt in (3, 4):
            self._set_instrument(inst, DELAYED, f"market data type {mdt} (delayed)")

    def on_gateway_message(self, req_id: int, code: int, message: str) -> None:
        """One error/status message from the gateway, handled as :mod:`codes` classifies it."""
        self.metrics.gateway_error(code)
        info = classify(code)
        action = info.action
        inst = self._data_reqs.get(req_id) or self._by_details_req.get(req_id)
        if action is Action.INFO:
            log.debug("gateway info", extra={"code": code, "text": message})
            return
        if inst is not None and self._on_instrument_message(inst, action, code, message):
            return
        if action is Action.CONNECTIVITY_LOST:
            self._post(LinkLost(code, message))
        elif action is Action.RESTORED_DATA_KEPT:
            self._post(LinkRestored(code, message, data_lost=False))
            self._rerequest_lost()
        elif action is Action.RESTORED_DATA_LOST:
            self._post(LinkRestored(code, message, data_lost=True))
        elif action is Action.CLIENT_ID_IN_USE:
            self._post(ClientIdRejected(message))
        elif action is Action.NOT_CONNECTED:
            self._post(Dropped(message, code))
        elif action is Action.DECODE_ERROR:  # ibapi skipped a frame it has no decoder for
            self._decode_error(f"code {code}", message.encode(), None)
        elif action is Action.PACING:
            self.pacer.slow_down()
            log.warning(
                "gateway pacing violation: slowing requests down",
                extra={"code": code, "text": message, "rate": self.pacer.rate},
            )
        elif code not in self._warned_codes:  # unknown and merely noteworthy codes: log once
            self._warned_codes.add(code)
            log.warning(
                "gateway message (logged once per code)",
                extra={"code": code, "text": message, "req_id": req_id, "meaning": info.meaning},
            )

    def _on_instrument_message(
        self, inst: Instrument, action: Action, code: int, message: str
    ) -> bool:
        """Handle a message about one instrument's request; False if it is not about that."""
        if action is Action.NO_LIVE_PERMISSION and self._may_fall_back(inst):
            inst.mdt = DELAYED_MDT
            self._set_instrument(
                inst,
                DELAYED,
                f"no live market data permission ({message}); falling back to delayed data",
                code=code,
            )
            self._rerequest(inst, delayed=True)
            return True
        if action in (Action.REQUEST_FAILED, Action.NO_LIVE_PERMISSION):
            self._data_reqs.pop(inst.data_req, None)
            self._by_details_req.pop(inst.details_req, None)
            inst.data_req = 0
            self._set_instrument(inst, FAILED, message, code=code)
            return True
        if action is Action.DELAYED_INSTEAD:
            inst.mdt = DELAYED_MDT
            self._set_instrument(inst, DELAYED, message, code=code)
            return True
        if action is Action.REQUEST_LOST:
            self._set_instrument(inst, PENDING, f"{message}; re-requesting", code=code)
            if self.connection.phase is ConnPhase.CONNECTED:
                self._rerequest(inst)
            else:
                self._lost.add(inst.key)  # re-requested when the link is back (1102)
            return True
        if action is Action.COMPETING_SESSION:
            self._set_instrument(inst, STALE, message, code=code)
            return True
        return False

    def _needs_delayed(self, inst: Instrument) -> bool:
        """Whether this instrument runs on the delayed fallback (re-requests keep it there)."""
        return inst.mdt == DELAYED_MDT and self.settings.gateway.market_data_type_id not in (3, 4)

    def _may_fall_back(self, inst: Instrument) -> bool:
        return (
            self.settings.gateway.allow_delayed_fallback
            and inst.state != DELAYED
            and self.settings.gateway.market_data_type_id not in (3, 4)
        )

    def _resubscribe_all(self) -> None:
        """1101: the gateway lost every stream; cancel and request them all again."""
        for inst in self.instruments:
            if inst.state == FAILED:
                continue
            self._set_instrument(inst, PENDING, "re-subscribing: the gateway lost market data")
            if inst.con_id:
                self._rerequest(inst, delayed=self._needs_delayed(inst))
            else:
                self._by_details_req.pop(inst.details_req, None)
                self._qualify(inst)
        self._lost.clear()

    def _rerequest_lost(self) -> None:
        for inst in self.instruments:
            if inst.key in self._lost and inst.con_id and inst.state != FAILED:
                self._rerequest(inst)
        self._lost.clear()

    # -- stale instruments -----------------------------------------------------------------

    def _stale_check_on(self) -> bool:
        return self.settings.gateway.stale_after > 0 and self.connection.session_up

    def _check_stale(self, now: float) -> None:
        """Re-request instruments that stopped ticking while others tick (bounded retries)."""
        stale_after = self.settings.gateway.stale_after
        wall_now = time.time_ns()
        newest = max((i.last_tick_ns for i in self.instruments), default=0)
        if wall_now - newest > stale_after * 1e9:
            return  # nothing ticks: a quiet market (or a dead feed, which the probe catches)
        for inst in self.instruments:
            if not inst.data_req or inst.state not in (*STREAMING, STALE):
                continue
            if now - self._requested_at.get(inst.key, now) < stale_after:
                continue  # requested recently (its first ticks may be the initial quote only)
            if wall_now - inst.last_tick_ns < stale_after * 1e9:
                if inst.state in STREAMING:  # ticking for a whole period since the request
                    self._stale_retries.pop(inst.key, None)
                continue
            retries = self._stale_retries.get(inst.key, 0)
            limit = self.settings.gateway.max_stale_retries
            if retries >= limit:
                if retries == limit:  # say it once
                    self._stale_retries[inst.key] = retries + 1
                    inst.state = STALE  # a re-request's initial quote may have set subscribed
                    self._status(
                        "instrument",
                        STALE,
                        key=inst.key,
                        message=f"still no ticks after {limit} re-requests; "
                        "left stale until the next reconnect",
                    )
                continue
            self._stale_retries[inst.key] = retries + 1
            self._set_instrument(
                inst,
                STALE,
                f"no ticks for {stale_after:g} s while others tick; "
                f"re-requesting ({retries + 1} of {limit})",
            )
            self._rerequest(inst, delayed=self._needs_delayed(inst))

    # -- ticks ----------------------------------------------------------------------------

    @property
    def _data_reqs(self) -> dict[int, Instrument]:
        """Market-data request id -> instrument, shared with the tick path."""
        assert self._ticks is not None
        return self._ticks.by_req

    def _receive_time(self) -> int:
        client = self._client
        return client.last_read_ns if client is not None else time.time_ns()

    def _backlog_reporter(self) -> Callable[[bool], None]:
        """For one connection: watch every read and publish a status when the reader falls
        behind the gateway and when it catches up (``ibpub_gateway_behind_seconds`` reads the
        same watch at scrape time)."""
        watch = BacklogWatch(self._behind_after)

        def behind_seconds() -> float:  # 0 without a connection: nothing is being read
            return watch.behind_seconds(time.monotonic()) if self._client is not None else 0.0

        self.metrics.gateway_behind.set_function(behind_seconds)

        def report(more_waiting: bool) -> None:
            change = watch.observe(time.monotonic(), more_waiting)
            if change is not None:
                message = change.message(self._backlog_bytes())
                self._status("gateway", self.gateway_state, message=message)

        return report

    def _backlog_bytes(self) -> int:
        """``ibpub_gateway_backlog_bytes``, read at scrape time (any thread)."""
        client = self._client
        return client.backlog_bytes() if client is not None else 0

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

    def _cancel_subscriptions(self) -> None:
        """cancelMktData for each stream, paced, for at most SHUTDOWN_CANCEL_BUDGET seconds;
        whatever is left is cancelled by the gateway when the socket closes."""
        self.pacer.clear()
        for req_id in list(self._data_reqs):
            self._send_cancel(req_id)
        give_up = time.monotonic() + SHUTDOWN_CANCEL_BUDGET
        with contextlib.suppress(Exception):  # a broken socket must not stop the shutdown
            while len(self.pacer) and time.monotonic() < give_up:
                self.pacer.drain()
                ready = self.pacer.next_ready()
                if ready is not None:
                    time.sleep(max(0.0, min(ready, give_up) - time.monotonic()))

    def _shutdown(self) -> None:
        if self.connection.session_up:
            self._cancel_subscriptions()
        if self.bus is not None:
            self._status("publisher", "stopping", message="shutting down")
        self._post(Stop())
        if self._client is not None:  # the machine closes it; this covers a failed machine
            self._client.close()
            self._client = None
        if self.bus is not None:
            self.bus.close()
        if self.snapshot is not None:
            self.snapshot.close()
            self.security.close()
        if self.metrics_server is not None:
            self.metrics_server.close()
        self._wake_r.close()
        self._wake_w.close()
        log.info("publisher stopped")
