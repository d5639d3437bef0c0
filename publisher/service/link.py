"""The gateway link: one connection at a time, carried out for the connection machine.

Every decision about the connection (connect, time out, back off, probe, rotate client ids,
degrade, restore) is made by the pure machine in :mod:`publisher.gateway.connection`;
:class:`GatewayLink` feeds it events and carries out the actions that need the socket
(open, close, probe, count a reconnect). The actions about the rest of the publisher (report
a gateway state, forget or make requests, give up) go to the owner's ``on_action``.

Every request to the gateway goes through the :class:`~publisher.gateway.pacing.RequestPacer`,
so IB's 50 messages per second are never exceeded. The link is both a loop
:class:`~publisher.loop.Source` (the gateway socket) and a
:class:`~publisher.loop.Timer` (the machine's deadlines, the pacer).
"""

import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Final

import zmq

from publisher.config import GatewaySettings
from publisher.core.subscriptions import (
    Cancel,
    CancelStream,
    Qualify,
    SetMarketDataType,
    Subscribe,
    SubscribeStream,
)
from publisher.gateway.adapter import Adapter, GatewayEvents, contract_from_spec
from publisher.gateway.backlog import BacklogWatch
from publisher.gateway.client import (
    FrameDecodeError,
    GatewayClient,
    GatewayClosedError,
    Phase,
    TickHandler,
)
from publisher.gateway.connection import (
    Action,
    ApiReady,
    CloseConnection,
    ConnState,
    CountReconnect,
    Dropped,
    Event,
    ForgetRequests,
    OpenConnection,
    Policy,
    ProbeAnswered,
    SendProbe,
    TimerFired,
    next_deadline,
    transition,
)
from publisher.gateway.connection import Phase as ConnPhase
from publisher.gateway.framing import FramingError
from publisher.gateway.pacing import RequestPacer
from publisher.observability.metrics import PublisherMetrics

log = logging.getLogger(__name__)

READS_PER_TURN: Final = 8
"""Chunks read per loop turn before timers run: bounded, so heartbeats survive a flood."""

GatewayRequest = Qualify | Subscribe | Cancel | SubscribeStream | CancelStream | SetMarketDataType
"""The subscription machine's actions that are gateway requests."""


class GatewayLink:
    """The current gateway connection, its machine and its request pacer."""

    def __init__(
        self,
        settings: GatewaySettings,
        events: GatewayEvents,
        tick_path: Callable[[Callable[[], int]], TickHandler],
        metrics: PublisherMetrics,
        *,
        on_action: Callable[[Action], None],
        on_backlog: Callable[[str], None],
        behind_after: float,
        clock: Callable[[], float],
        wall_ns: Callable[[], int],
        jitter: Callable[[], float],
    ) -> None:
        self._settings = settings
        self._ticks = tick_path(self.receive_time)
        """The tick path, built here because its ``ts_recv`` is the current client's read."""
        self._adapter = Adapter(events, self._ticks)
        self._metrics = metrics
        self._on_action = on_action
        self._on_backlog = on_backlog
        self._behind_after = behind_after
        """Seconds of reads that all leave data waiting before "behind" is reported."""
        self._clock = clock
        self._wall_ns = wall_ns
        self._jitter = jitter
        self.policy = Policy(
            client_ids=settings.client_ids,
            connect_timeout=settings.connect_timeout,
            backoff_initial=settings.reconnect_initial,
            backoff_max=settings.reconnect_max,
            probe_interval=settings.probe_interval,
            probe_timeout=settings.probe_timeout,
        )
        self.state = ConnState()
        """The connection machine's state (read it, never write it from outside)."""
        self.pacer = RequestPacer(clock=clock)
        self._client: GatewayClient | None = None
        self._events: deque[Event] = deque()
        self._draining = False
        self._probe_wire_at = 0.0
        self._decode_kinds_logged: set[str] = set()
        self._watch = BacklogWatch(behind_after)
        metrics.gateway_behind.set_function(self._behind_seconds)
        metrics.gateway_backlog.set_function(self.backlog_bytes)

    @property
    def connected(self) -> bool:
        """Whether the session is up and the gateway in touch with IB (not degraded)."""
        return self.state.phase is ConnPhase.CONNECTED

    # -- the machine -----------------------------------------------------------------------

    def post(self, event: Event) -> None:
        """Feed the connection machine one event and carry out its actions.

        Actions may post further events (a connect that fails at once); those are queued and
        handled after the current action list, so transitions never nest.
        """
        self._events.append(event)
        if self._draining:
            return  # the outer post handles it after the current actions
        self._draining = True
        try:
            while self._events:
                current = self._events.popleft()
                step = transition(self.state, current, self.policy, self._clock(), self._jitter())
                self.state, actions = step
                for action in actions:
                    self._execute(action)
        finally:
            self._draining = False
            self._events.clear()

    def _execute(self, action: Action) -> None:
        match action:
            case OpenConnection(client_id=client_id):
                self._open(client_id)
            case CloseConnection():
                self.close()
            case CountReconnect():
                self._metrics.reconnects.inc()
            case SendProbe():
                self.pacer.submit(self._send_probe, urgent=True)
            case ForgetRequests():
                self.pacer.clear()
                self._on_action(action)
            case _:  # Report, SubscribeAll, ResubscribeAll, GiveUp: the owner's business
                self._on_action(action)

    def _open(self, client_id: int) -> None:
        gw = self._settings
        # One watch per connection: a new connection starts neither behind nor caught up.
        self._watch = BacklogWatch(self._behind_after)
        client = GatewayClient(
            self._adapter,
            decode_error=self._on_decode_failure,
            ticks=self._ticks,
            on_backlog=self._observe_backlog,
        )
        try:
            client.begin_connect(gw.host, gw.port, client_id)
        except (GatewayClosedError, OSError) as exc:
            self.post(Dropped(f"connect to {gw.host}:{gw.port} failed: {exc}"))
            return
        self._client = client
        log.info("connecting", extra={"host": gw.host, "port": gw.port, "client_id": client_id})

    def api_ready(self) -> None:
        """nextValidId: the API session is up."""
        if self._client is not None:
            self.post(ApiReady(self._client.serverVersion()))

    def probe_answered(self) -> None:
        """currentTime: the answer to the liveness probe."""
        if self._probe_wire_at:
            self._metrics.gateway_rtt.observe(self._clock() - self._probe_wire_at)
            self._probe_wire_at = 0.0
        self.post(ProbeAnswered())

    # -- requests --------------------------------------------------------------------------

    def send(self, request: Callable[[GatewayClient], None], *, urgent: bool = False) -> None:
        """Queue a request for the current connection behind the pacer (dropped if the
        connection is replaced before its turn)."""
        client = self._client

        def paced() -> None:
            if self._client is client and client is not None:
                try:
                    request(client)
                except OSError as exc:  # reset, broken pipe, or a send that timed out
                    self.post(Dropped(f"sending to the gateway failed: {exc}"))

        self.pacer.submit(paced, urgent=urgent)

    def request(self, action: GatewayRequest) -> None:
        """Send one of the subscription machine's requests, paced."""
        match action:
            case SetMarketDataType(mdt=mdt):
                self.send(lambda c: c.reqMarketDataType(mdt))
            case Qualify(req_id=req_id, spec=spec):
                contract = contract_from_spec(spec)
                self.send(lambda c: c.reqContractDetails(req_id, contract))
            case Subscribe(req_id=req_id, spec=spec, con_id=con_id, delayed=delayed):
                contract = contract_from_spec(spec, con_id)
                ticks = spec.generic_ticks
                self.send(lambda c: c.reqMktData(req_id, contract, ticks, False, False, []))
                log.info(
                    "subscribing", extra={"key": spec.key, "conid": con_id, "delayed": delayed}
                )
            case Cancel(req_id=req_id):
                self.send(lambda c: c.cancelMktData(req_id))
            case SubscribeStream():
                self._subscribe_stream(action)
            case CancelStream(req_id=req_id, kind=kind):
                if kind.family == "tbt":
                    self.send(lambda c: c.cancelTickByTickData(req_id))
                elif kind.family == "depth":
                    self.send(lambda c: c.cancelMktDepth(req_id, kind.smart))
                else:
                    self.send(lambda c: c.cancelRealTimeBars(req_id))

    def _subscribe_stream(self, action: SubscribeStream) -> None:
        """reqTickByTickData, reqMktDepth or reqRealTimeBars for one stream, paced."""
        req_id, kind = action.req_id, action.kind
        contract = contract_from_spec(action.spec, action.con_id)
        if kind.family == "tbt":
            self.send(lambda c: c.reqTickByTickData(req_id, contract, kind.tbt_type, 0, False))
        elif kind.family == "depth":
            self.send(lambda c: c.reqMktDepth(req_id, contract, kind.rows, kind.smart, []))
        else:
            self.send(lambda c: c.reqRealTimeBars(req_id, contract, 5, kind.what, kind.rth, []))
        log.info(
            "subscribing",
            extra={"key": action.spec.key, "conid": action.con_id, "kind": kind.name},
        )

    def _send_probe(self) -> None:
        if self._client is not None:
            self._probe_wire_at = self._clock()
            self._client.reqCurrentTime()

    def flush(self, budget: float) -> None:
        """Send what is queued, paced, for at most ``budget`` seconds (at shutdown; whatever
        is left is void once the socket closes)."""
        give_up = self._clock() + budget
        with contextlib.suppress(Exception):  # a broken socket must not stop the shutdown
            while len(self.pacer) and self._clock() < give_up:
                self.pacer.drain()
                ready = self.pacer.next_ready()
                if ready is not None:
                    time.sleep(max(0.0, min(ready, give_up) - self._clock()))

    # -- the loop's source and timer -------------------------------------------------------

    def interest(self) -> tuple[int, int]:
        client = self._client
        if client is None:
            return -1, 0
        writable = zmq.POLLOUT if client.phase is Phase.CONNECTING else 0
        return client.fileno(), zmq.POLLIN | writable

    def on_events(self, events: int) -> None:
        client = self._client
        if client is None:
            return
        try:
            if client.phase is Phase.CONNECTING and events & zmq.POLLOUT:
                client.on_writable()
                return
            if events & zmq.POLLIN:
                for _ in range(READS_PER_TURN):
                    client.on_readable()
                    if not client.more_waiting or self._client is not client:
                        break
        except GatewayClosedError as exc:
            self.post(Dropped(str(exc)))
        except FramingError as exc:
            self.decode_error("framing", exc.head)
            self.post(Dropped(f"gateway stream cannot be framed: {exc}"))

    def run(self, now: float) -> None:
        machine = next_deadline(self.state, self.policy)
        if machine is not None and now >= machine:
            self.post(TimerFired())
        if self.state.session_up:
            self.pacer.drain()

    def deadline(self) -> float | None:
        deadlines = [next_deadline(self.state, self.policy)]
        if self.state.session_up:
            deadlines.append(self.pacer.next_ready())
        known = [d for d in deadlines if d is not None]
        return min(known) if known else None

    # -- reading ---------------------------------------------------------------------------

    def receive_time(self) -> int:
        """Wall-clock ns when the chunk being decoded was read (a tick's ``ts_recv``)."""
        client = self._client
        return client.last_read_ns if client is not None else self._wall_ns()

    def backlog_bytes(self) -> int:
        """``ibpub_gateway_backlog_bytes``, read at scrape time (any thread)."""
        client = self._client
        return client.backlog_bytes() if client is not None else 0

    def _behind_seconds(self) -> float:
        """``ibpub_gateway_behind_seconds`` (0 without a connection: nothing is being read)."""
        return self._watch.behind_seconds(self._clock()) if self._client is not None else 0.0

    def _observe_backlog(self, more_waiting: bool) -> None:
        change = self._watch.observe(self._clock(), more_waiting)
        if change is not None:
            self._on_backlog(change.message(self.backlog_bytes()))

    def _on_decode_failure(self, failure: FrameDecodeError) -> None:
        self.decode_error(f"message {failure.msg_id}", failure.payload, failure.cause)

    def decode_error(self, kind: str, data: bytes, cause: BaseException | None = None) -> None:
        """Count an undecodable frame; log the first of each kind."""
        self._metrics.decode_errors.inc()
        if kind not in self._decode_kinds_logged:
            self._decode_kinds_logged.add(kind)
            log.warning(
                "undecodable gateway frame (logged once per kind)",
                extra={"kind": kind, "bytes": data[:64].hex(), "cause": repr(cause)},
            )

    def close(self) -> None:
        """Close the current connection, if any."""
        if self._client is not None:
            self._client.close()
            self._client = None
