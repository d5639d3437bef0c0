"""The publisher's composition root: builds every part in one step and wires them together.

::

    gateway socket -> GatewayClient (framing, ibapi Decoder) -> Adapter -> TickPath -> Bus (PUB)
                                                                 \\-> this service (control)
    control: Adapter callbacks -> Subscriptions (pure) -> actions -> GatewayLink (paced requests)
                                                                  \\-> StatusPublisher (status)
    connection: GatewayLink <-> connection machine (pure); heartbeats, stale checks: EventLoop

One thread owns the gateway socket, the PUB socket and the snapshot ROUTER: it runs the
:class:`~publisher.loop.EventLoop`. The decisions live in pure machines
(:mod:`publisher.gateway.connection`, :mod:`publisher.core.subscriptions`,
:mod:`publisher.core.stale`); this module routes the gateway's callbacks to them as events and
carries out their actions. Everything is bound when the service is constructed, so a test can
bind port 0 and read the resolved endpoints before :meth:`PublisherService.run`.
"""

import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping
from importlib.metadata import version as package_version
from typing import Any, Final

import zmq
from prometheus_client import CollectorRegistry

from publisher import __version__
from publisher.bus.curve import BusSecurity
from publisher.bus.publish import SCHEMA_VERSION, Bus
from publisher.bus.snapshot import SnapshotServer
from publisher.compiled import status
from publisher.config import Settings
from publisher.core.instruments import STREAMING, ContractMatch, Instrument
from publisher.core.stale import StalePolicy
from publisher.core.subscriptions import (
    Add,
    BookInvalid,
    CancelAll,
    CheckStale,
    CodeKind,
    ContractMatched,
    DetailsEnded,
    InstrumentStatus,
    MarketDataType,
    RequestCode,
    SessionLost,
    SessionReady,
    StreamsKept,
    StreamsLost,
    SubscribeStream,
    SubscriptionAction,
    SubscriptionEvent,
    SubscriptionPolicy,
    Subscriptions,
    Ticking,
)
from publisher.core.tickpath import TickPath
from publisher.gateway.backlog import BEHIND_AFTER
from publisher.gateway.codes import Action as CodeAction
from publisher.gateway.codes import classify
from publisher.gateway.connection import Action as ConnAction
from publisher.gateway.connection import (
    ClientIdRejected,
    Dropped,
    ForgetRequests,
    GiveUp,
    LinkLost,
    LinkRestored,
    Report,
    ResubscribeAll,
    Start,
    Stop,
    SubscribeAll,
)
from publisher.gateway.ticktypes import IBAPI_TICK_NAMES
from publisher.loop import EventLoop, Periodic
from publisher.observability.httpd import MetricsServer, Readiness
from publisher.observability.metrics import BuildInfo, PublisherMetrics
from publisher.service.control import ControlDesk
from publisher.service.link import GatewayLink
from publisher.service.status import StatusPublisher

log = logging.getLogger(__name__)

SHUTDOWN_CANCEL_BUDGET: Final = 1.0
"""Seconds spent sending cancelMktData at shutdown; closing the socket cancels the rest."""

_CODE_KINDS: Final = {
    CodeAction.NO_LIVE_PERMISSION: CodeKind.NO_LIVE_PERMISSION,
    CodeAction.REQUEST_FAILED: CodeKind.REQUEST_FAILED,
    CodeAction.DELAYED_INSTEAD: CodeKind.DELAYED_INSTEAD,
    CodeAction.REQUEST_LOST: CodeKind.REQUEST_LOST,
    CodeAction.COMPETING_SESSION: CodeKind.COMPETING_SESSION,
    CodeAction.ADVISORY: CodeKind.ADVISORY,
}
"""The code table's actions that concern one request, as the subscription machine names them."""


def _ibapi_version() -> str:
    try:
        return package_version("ibapi-stable")
    except Exception:  # an unusual install (from source): the build info says so
        return "unknown"


class PublisherService:
    """Connects to the gateway, qualifies and subscribes instruments, publishes every tick.

    ``clock`` (monotonic seconds), ``wall_ns`` (epoch ns) and ``rng`` (backoff jitter) are
    injected so that tests can drive time and chance; the defaults are the real ones.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        context: zmq.Context[Any] | None = None,
        registry: CollectorRegistry | None = None,
        serve_metrics: bool = True,
        behind_after: float = BEHIND_AFTER,
        clock: Callable[[], float] = time.monotonic,
        wall_ns: Callable[[], int] = time.time_ns,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._jitter = (rng or random.Random()).random
        self._wall_ns = wall_ns
        self._exit_code = 0
        self._warned_codes: set[int] = set()
        self.gateway_state = "disconnected"
        context = context or zmq.Context.instance()
        self.registry = registry or CollectorRegistry()
        self.metrics = metrics = PublisherMetrics(
            self.registry,
            BuildInfo(__version__, _ibapi_version(), SCHEMA_VERSION),
            per_instrument=settings.metrics.per_instrument,
        )
        gw = settings.gateway
        stale = StalePolicy(after=gw.stale_after, max_retries=gw.max_stale_retries)
        self.subscriptions = Subscriptions(
            SubscriptionPolicy(gw.market_data_type_id, gw.allow_delayed_fallback, stale),
            metrics.instrument_counter,
        )
        for spec in settings.instruments:  # no session yet: nothing is requested
            self.subscriptions.handle(Add(spec), clock())
        with contextlib.ExitStack() as undo:  # a bind that fails closes what was bound
            self.loop = EventLoop(clock)
            undo.callback(self.loop.close)
            self._bind(context, undo)
            self._wire(behind_after, clock, self._jitter)
            metrics.watch(self)
            self.metrics_server = (
                MetricsServer(settings.metrics.listen, self.registry, self.readiness, self._doors())
                if serve_metrics
                else None
            )
            undo.pop_all()  # built: run() closes everything when it ends
        log.info(
            "publisher started",
            # read_path: the compiled (mypyc) hot path or the pure-Python one, and why.
            extra={"sid": self.bus.sid, "endpoints": self.bus.endpoints, "read_path": status()},
        )

    def _doors(self) -> dict[str, Callable[[], Mapping[str, int]]]:
        """The sockets' refusal counts for ``ibpub_refused_total`` (read at scrape time)."""
        doors: dict[str, Callable[[], Mapping[str, int]]] = {
            "snapshot": lambda: dict(self.snapshot.refused)
        }
        server = self.control.server
        if server is not None:
            doors["control"] = lambda: dict(server.refused)
        return doors

    def _bind(self, context: zmq.Context[Any], undo: contextlib.ExitStack) -> None:
        """The bus (PUB) and the snapshot (ROUTER), with CURVE when it is configured."""
        settings, messages = self.settings, self.metrics.messages
        bus_cfg = settings.bus
        self.security = BusSecurity.start(bus_cfg, context, settings.source)
        undo.callback(self.security.close)
        self.bus = Bus(
            name=settings.publisher.name,
            endpoints=bus_cfg.pub,
            send_hwm=bus_cfg.send_hwm,
            context=context,
            clock_ns=self._wall_ns,
            on_sent=lambda kind: messages[kind].inc(),
            before_bind=self.security.secure,
        )
        undo.callback(self.bus.close)
        self.snapshot = SnapshotServer.for_bus(self.bus, bus_cfg.snapshot, self.security.secure)
        undo.callback(self.snapshot.close)
        self.status = StatusPublisher(self.bus)
        self.snapshot.states = self.status.latest
        self.control = ControlDesk(  # the control socket and the holdings book
            settings, self.subscriptions, self.status, self.metrics, context, self.security,
            carry_out=self._carry_out, clock=self._clock, wall_ns=self._wall_ns,
            jitter=self._jitter,
        )  # fmt: skip
        undo.callback(self.control.close)

    def _wire(
        self, behind_after: float, clock: Callable[[], float], jitter: Callable[[], float]
    ) -> None:
        """The gateway link (which builds the tick path and the adapter) and the loop."""
        metrics, messages = self.metrics, self.metrics.messages

        def tick_path(receive_time: Callable[[], int]) -> TickPath:
            path = TickPath(
                self.bus,
                metrics.tick_latency,
                receive_time,
                self._on_ticking,
                self.snapshot.cache.record,
                by_req=self.subscriptions.by_data_req,
                tick_names=IBAPI_TICK_NAMES,
                tick_messages=messages["tick"],
                by_stream=self.subscriptions.by_stream_req,
                record_slot=self.snapshot.cache.record_slot,
                books=self.snapshot.cache.books,
                on_book_invalid=lambda req_id: self._feed(BookInvalid(req_id)),
                count_resync=metrics.depth_resync,
                kind_messages=messages,
            )
            self._tick_path = path
            return path

        self.link = GatewayLink(
            self.settings.gateway,
            self,
            tick_path,
            metrics,
            on_action=self._on_connection_action,
            on_backlog=self._on_backlog,
            behind_after=behind_after,
            clock=clock,
            wall_ns=self._wall_ns,
            jitter=jitter,
        )
        stale = self.subscriptions.policy.stale
        self.loop.add_source(self.link)
        self.loop.add_socket(self.snapshot.socket, self.snapshot.on_readable)
        self.control.attach(self.loop)
        self.loop.add_timer(Periodic(self.settings.bus.heartbeat_interval, self._heartbeat))
        self.loop.add_timer(self.link)
        self.loop.add_timer(
            Periodic(
                stale.interval,
                self._check_stale,
                lambda: stale.enabled and self.link.state.session_up,
            )
        )

    # -- public ----------------------------------------------------------------------------

    @property
    def instruments(self) -> tuple[Instrument, ...]:
        """Every instrument's record, in the order added (read them, never write them)."""
        return self.subscriptions.instruments

    def run(self) -> int:
        """Run until :meth:`stop`; returns the process exit code (0 on a clean stop)."""
        self.status.status("publisher", "starting", message=f"sid {self.bus.sid}")
        try:
            self.link.post(Start())
            self.loop.run()
        finally:
            self._shutdown()
        return self._exit_code

    def add_pollable(self, sock: zmq.Socket[Any], on_readable: Callable[[], None]) -> None:
        """Serve another ZeroMQ socket on the service thread; ``on_readable`` must do a
        bounded amount of work per call."""
        self.loop.add_socket(sock, on_readable)

    def stop(self) -> None:
        """Ask the loop to stop; safe from a signal handler or another thread."""
        self.loop.stop()

    def readiness(self) -> Readiness:
        """Ready while the gateway is connected and at least one instrument streams."""
        if self.gateway_state != "connected":
            return Readiness(False, f"gateway {self.gateway_state}")
        instruments = self.instruments
        streaming = sum(1 for i in instruments if i.state in STREAMING)
        if streaming == 0:
            return Readiness(False, "no instrument subscribed yet")
        return Readiness(True, f"{streaming} of {len(instruments)} instruments streaming")

    # StateView for the scrape-time metrics collector.
    def instrument_states(self) -> Mapping[str, str]:
        return {i.key: i.state for i in self.instruments}

    def last_tick_times(self) -> Mapping[str, float]:
        return {i.key: i.last_tick_ns / 1e9 for i in self.instruments if i.last_tick_ns}

    # -- GatewayEvents: the adapter's control callbacks ------------------------------------

    def on_api_ready(self, next_order_id: int) -> None:
        self.link.api_ready()

    def on_current_time(self, epoch_seconds: int) -> None:
        self.link.probe_answered()

    def on_contract_match(self, req_id: int, match: ContractMatch) -> None:
        self._feed(ContractMatched(req_id, match))

    def on_contract_end(self, req_id: int) -> None:
        self._feed(DetailsEnded(req_id))

    def on_market_data_type(self, req_id: int, mdt: int) -> None:
        self._feed(MarketDataType(req_id, mdt))

    def on_gateway_message(self, req_id: int, code: int, message: str) -> None:
        """One error/status message from the gateway, handled as :mod:`codes` classifies it."""
        self.metrics.gateway_error(code)
        info = classify(code)
        action = info.action
        if action is CodeAction.INFO:
            log.debug("gateway info", extra={"code": code, "text": message})
            return
        kind = _CODE_KINDS.get(action)
        if kind is not None and self.subscriptions.owns(req_id):
            self._feed(RequestCode(req_id, kind, code, message, link_up=self.link.connected))
            return
        link = self.link
        if action is CodeAction.CONNECTIVITY_LOST:
            link.post(LinkLost(code, message))
        elif action is CodeAction.RESTORED_DATA_KEPT:
            link.post(LinkRestored(code, message, data_lost=False))
            self._feed(StreamsKept())
        elif action is CodeAction.RESTORED_DATA_LOST:
            link.post(LinkRestored(code, message, data_lost=True))
        elif action is CodeAction.CLIENT_ID_IN_USE:
            link.post(ClientIdRejected(message))
        elif action is CodeAction.NOT_CONNECTED:
            link.post(Dropped(message, code))
        elif action is CodeAction.DECODE_ERROR:  # ibapi skipped a frame it has no decoder for
            link.decode_error(f"code {code}", message.encode(), None)
        elif action is CodeAction.PACING:
            link.pacer.slow_down()
            log.warning(
                "gateway pacing violation: slowing requests down",
                extra={"code": code, "text": message, "rate": link.pacer.rate},
            )
        elif code not in self._warned_codes:  # unknown and merely noteworthy codes: log once
            self._warned_codes.add(code)
            log.warning(
                "gateway message (logged once per code)",
                extra={"code": code, "text": message, "req_id": req_id, "meaning": info.meaning},
            )

    # -- carrying out the machines' actions --------------------------------------------------

    def _feed(self, event: SubscriptionEvent) -> None:
        """Hand the subscription machine one event (through the control book, which waits for
        qualifications) and carry out what it decides."""
        self.control.feed(event)

    def _carry_out(self, actions: list[SubscriptionAction]) -> None:
        for action in actions:
            if isinstance(action, SubscribeStream) and action.kind.family == "depth":
                found = self.subscriptions.by_stream_req.get(action.req_id)
                if found is not None:  # IB sends the book afresh: subscribers' empty first
                    self._tick_path.kinds.reset_book(*found)
            if isinstance(action, InstrumentStatus):
                self.status.status(
                    "instrument",
                    action.state,
                    key=action.key,
                    code=action.code,
                    message=action.message,
                )
            else:
                self.link.request(action)

    def _on_connection_action(self, action: ConnAction) -> None:
        """The connection machine's actions that are not about the socket."""
        match action:
            case Report(state=state, message=message, code=code):
                self._set_gateway(state, message=message, code=code)
            case ForgetRequests():
                self._feed(SessionLost())
            case SubscribeAll():
                self._feed(SessionReady())
            case ResubscribeAll():
                self._feed(StreamsLost())
            case GiveUp(message=message):
                log.error("giving up on the gateway", extra={"text": message})
                self._exit_code = 1
                self.loop.stop()

    def _set_gateway(self, state: str, *, message: str, code: int | None = None) -> None:
        if state == self.gateway_state and code is None and state != "disconnected":
            return
        self.gateway_state = state
        self.metrics.gateway_connected.set(1 if state == "connected" else 0)
        self.status.status("gateway", state, code=code, message=message)

    def _on_ticking(self, inst: Instrument) -> None:
        """The tick path saw the first tick of a pending or stale instrument."""
        self._feed(Ticking(inst.data_req))

    def _on_backlog(self, message: str) -> None:
        """The reader fell behind the gateway, or caught up."""
        self.status.status("gateway", self.gateway_state, message=message)

    def _heartbeat(self, now: float) -> None:
        self.status.heartbeat(self.gateway_state)

    def _check_stale(self, now: float) -> None:
        self._carry_out(self.subscriptions.handle(CheckStale(self._wall_ns()), now))

    # -- shutdown ---------------------------------------------------------------------------

    def _shutdown(self) -> None:
        link = self.link
        if link.state.session_up:  # cancelMktData for each stream, paced, within the budget
            link.pacer.clear()
            self._feed(CancelAll())
            link.flush(SHUTDOWN_CANCEL_BUDGET)
        self.status.status("publisher", "stopping", message="shutting down")
        link.post(Stop())
        link.close()  # the machine closes it; this covers a failed machine
        self.bus.close()
        self.snapshot.close()
        self.control.close()
        self.security.close()
        if self.metrics_server is not None:
            self.metrics_server.close()
        self.loop.close()
        log.info("publisher stopped")
