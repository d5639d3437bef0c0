"""The subscription machine: what to request for each instrument, as events in, actions out.

No sockets and no clocks: :meth:`Subscriptions.handle` takes a :data:`SubscriptionEvent` and
the current monotonic time and returns the :data:`SubscriptionAction` values the service must
carry out, in order (requests go to the gateway through the pacer, statuses to the bus). The
machine owns the instrument records and both request-id maps (contract details request ->
instrument, market data request -> instrument); the tick path reads the second through
:attr:`Subscriptions.by_data_req`, a read-only view (a ``MappingProxyType``: about 16 ns more
per tick than a plain dict lookup, the price of no one else writing it).

Instruments come and go at run time (:class:`Add`, :class:`Remove`): one added while the API
session is up is requested at once, one added before waits for :class:`SessionReady`.

::

    Add --(session up)--> Qualify --ContractMatched*, DetailsEnded--> Subscribe --> pending
    pending/stale --Ticking--> subscribed (or delayed: market data type 3/4)
    RequestCode: 354/10089 -> delayed fallback or failed; 200/101/... -> failed;
                 10167 -> delayed; 10182 -> pending, re-requested; 10197 -> stale;
                 10090 -> the same state said again with the advisory code
    CheckStale --find_stale--> re-request (bounded), then left stale
    SessionLost: every request void, instruments pending; StreamsLost (1101): re-request all
"""

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Final, Protocol

from publisher.config import InstrumentSpec
from publisher.core.instruments import (
    DELAYED,
    DELAYED_MDT,
    DELAYED_MDTS,
    FAILED,
    PENDING,
    STALE,
    SUBSCRIBED,
    Instrument,
    InstrumentState,
    Stream,
    TickCounter,
)
from publisher.core.stale import Verdict, find_stale
from publisher.core.subscriptions.messages import (
    Add,
    BookInvalid,
    Cancel,
    CancelAll,
    CancelStream,
    CheckStale,
    CodeKind,
    ContractMatched,
    DetailsEnded,
    Extend,
    InstrumentStatus,
    MarketDataType,
    Qualify,
    Remove,
    RequestCode,
    SessionLost,
    SessionReady,
    SetMarketDataType,
    StreamsKept,
    StreamsLost,
    Subscribe,
    SubscribeStream,
    SubscriptionAction,
    SubscriptionEvent,
    SubscriptionPolicy,
    Ticking,
)
from subscribers.kinds import DataKind

FIRST_REQ_ID: Final = 1001


class CounterFactory(Protocol):
    """Makes the tick counter of a new instrument (``PublisherMetrics.instrument_counter``)."""

    def __call__(self, key: str) -> TickCounter: ...


class Subscriptions:
    """Every instrument's lifecycle; :meth:`handle` is the only way anything changes."""

    def __init__(
        self,
        policy: SubscriptionPolicy,
        counter_for: CounterFactory,
        *,
        first_req_id: int = FIRST_REQ_ID,
    ) -> None:
        self._policy = policy
        self._counter_for = counter_for
        self._next_req_id = first_req_id
        self._session_up = False
        self._instruments: dict[str, Instrument] = {}
        self._by_details: dict[int, Instrument] = {}
        self._by_data: dict[int, Instrument] = {}
        self.by_data_req: Mapping[int, Instrument] = MappingProxyType(self._by_data)
        """Market data request id -> instrument, read-only (the tick path's lookup)."""
        self._by_stream: dict[int, tuple[Instrument, Stream]] = {}
        self.by_stream_req: Mapping[int, tuple[Instrument, Stream]] = MappingProxyType(
            self._by_stream
        )
        """Tick-by-tick, depth and bar request id -> (instrument, stream), read-only."""
        self._out: list[SubscriptionAction] = []

    # -- queries ---------------------------------------------------------------------------

    @property
    def policy(self) -> SubscriptionPolicy:
        return self._policy

    @property
    def instruments(self) -> tuple[Instrument, ...]:
        """The instruments, in the order they were added."""
        return tuple(self._instruments.values())

    def __contains__(self, key: object) -> bool:
        return key in self._instruments

    def __iter__(self) -> Iterator[Instrument]:
        return iter(self.instruments)

    def __len__(self) -> int:
        return len(self._instruments)

    def get(self, key: str) -> Instrument | None:
        return self._instruments.get(key)

    def owns(self, req_id: int) -> bool:
        """Whether ``req_id`` is a live request of some instrument."""
        return req_id in self._by_data or req_id in self._by_details or req_id in self._by_stream

    def streams_in_use(self, family: str) -> int:
        """Streams of one kind family (``tbt``, ``depth``) held and not failed: IB's limits
        count these."""
        return sum(
            1
            for inst in self._instruments.values()
            if inst.state != FAILED
            for stream in inst.streams.values()
            if stream.kind.family == family and not stream.failed
        )

    # -- events ----------------------------------------------------------------------------

    def handle(self, event: SubscriptionEvent, now: float) -> list[SubscriptionAction]:
        """Apply one event; returns the actions to carry out, in order."""
        out: list[SubscriptionAction] = []
        self._out = out
        match event:
            case Add(spec=spec, qualify=qualify):
                self._add(spec, now, qualify=qualify)
            case Remove(key=key):
                self._remove(key)
            case Extend(key=key, kinds=kinds):
                self._extend(key, kinds, now)
            case BookInvalid(req_id=req_id):
                self._book_invalid(req_id)
            case SessionReady():
                self._session_up = True
                self._emit(SetMarketDataType(self._policy.market_data_type))
                for inst in self._instruments.values():
                    self._request(inst, now)
            case SessionLost():
                self._session_up = False
                self._forget_requests()
            case StreamsLost():
                self._request_all_again(now)
            case StreamsKept():
                for inst in self._instruments.values():
                    if inst.lost and inst.con_id and inst.state != FAILED:
                        self._rerequest(inst, now)
                    inst.lost = False
            case ContractMatched(req_id=req_id, match=match):
                matched = self._by_details.get(req_id)
                if matched is not None:
                    matched.matches.append(match)
            case DetailsEnded(req_id=req_id):
                self._details_ended(req_id, now)
            case MarketDataType(req_id=req_id, mdt=mdt):
                self._market_data_type(req_id, mdt)
            case RequestCode():
                self._on_code(event, now)
            case Ticking(req_id=req_id):
                self._ticking(req_id)
            case CheckStale(wall_ns=wall_ns):
                self._check_stale(now, wall_ns)
            case CancelAll():
                for req_id in list(self._by_data):
                    self._emit(Cancel(req_id))
                for req_id, (_, stream) in list(self._by_stream.items()):
                    self._emit(CancelStream(req_id, stream.kind))
                    stream.req_id = 0
                for inst in self._instruments.values():
                    inst.data_req = 0
                self._by_data.clear()
                self._by_stream.clear()
        self._out = []
        return out

    # -- lifecycle -------------------------------------------------------------------------

    def _add(self, spec: InstrumentSpec, now: float, *, qualify: bool = False) -> None:
        if spec.key in self._instruments:
            raise ValueError(f"instrument {spec.key!r} is already subscribed")
        inst = self._instruments[spec.key] = Instrument(spec, self._counter_for(spec.key))
        if qualify:
            inst.con_id = 0  # known once IB's contract details confirm the spec's con_id
        if self._session_up:
            self._request(inst, now)

    def _remove(self, key: str) -> None:
        inst = self._instruments.pop(key, None)
        if inst is None:
            return
        self._by_details.pop(inst.details_req, None)
        if inst.data_req and self._by_data.pop(inst.data_req, None) is not None:
            self._emit(Cancel(inst.data_req))
        inst.data_req = 0
        for stream in inst.streams.values():
            self._cancel_stream(stream)

    def _extend(self, key: str, kinds: tuple[DataKind, ...], now: float) -> None:
        inst = self._instruments.get(key)
        if inst is None:
            return
        had_market_data = inst.wants_market_data
        new = inst.take_kinds(kinds)
        if not (self._session_up and inst.con_id and inst.state != FAILED):
            return  # requested with the rest once qualified
        if inst.wants_market_data and not had_market_data:
            self._subscribe(inst, now, delayed=self._needs_delayed(inst))
        for stream in new:
            self._subscribe_stream(inst, stream)

    def _book_invalid(self, req_id: int) -> None:
        found = self._by_stream.get(req_id)
        if found is None:
            return
        inst, stream = found
        self._emit(
            InstrumentStatus(
                inst.key,
                inst.state,
                f"{stream.kind.name}: the book took an impossible change; re-requesting it "
                "(the book restarts empty)",
            )
        )
        self._cancel_stream(stream)
        self._subscribe_stream(inst, stream)

    def _request(self, inst: Instrument, now: float) -> None:
        """A new session's request for one instrument: subscribe if qualified, else qualify."""
        if inst.state == FAILED:
            return
        if inst.con_id:
            self._start(inst, now, delayed=self._needs_delayed(inst))
        else:
            self._qualify(inst)

    def _start(self, inst: Instrument, now: float, *, delayed: bool = False) -> None:
        """A qualified instrument's requests: reqMktData if it needs it, and its streams."""
        if inst.wants_market_data:
            self._subscribe(inst, now, delayed=delayed)
        for stream in inst.streams.values():
            if not stream.failed:
                self._subscribe_stream(inst, stream)

    def _forget_requests(self) -> None:
        self._by_data.clear()
        self._by_details.clear()
        self._by_stream.clear()
        for inst in self._instruments.values():
            for stream in inst.streams.values():
                stream.req_id = 0
            inst.data_req = 0
            inst.requested_at = None
            inst.stale_retries = 0
            inst.lost = False
            if inst.state != FAILED:
                self._set(inst, PENDING, "waiting for the gateway")

    def _request_all_again(self, now: float) -> None:
        for inst in self._instruments.values():
            inst.lost = False
            if inst.state == FAILED:
                continue
            self._set(inst, PENDING, "re-subscribing: the gateway lost market data")
            if inst.con_id:
                if inst.wants_market_data:
                    self._rerequest(inst, now, delayed=self._needs_delayed(inst))
                for stream in inst.streams.values():
                    if not stream.failed:
                        self._cancel_stream(stream)
                        self._subscribe_stream(inst, stream)
            else:
                self._by_details.pop(inst.details_req, None)
                self._qualify(inst)

    def _details_ended(self, req_id: int, now: float) -> None:
        inst = self._by_details.pop(req_id, None)
        if inst is None:
            return
        if len(inst.matches) == 1:
            inst.con_id = inst.matches[0].con_id
            self._start(inst, now)
        elif not inst.matches:
            self._set(inst, FAILED, "no contract matches", code=200)
        else:
            found = ", ".join(f"{m.local_symbol or m.symbol}@{m.exchange}" for m in inst.matches)
            self._set(inst, FAILED, f"ambiguous contract: {len(inst.matches)} match ({found})")

    def _market_data_type(self, req_id: int, mdt: int) -> None:
        inst = self._by_data.get(req_id)
        if inst is not None:
            inst.mdt = mdt
            if mdt in DELAYED_MDTS:
                self._set(inst, DELAYED, f"market data type {mdt} (delayed)")

    def _ticking(self, req_id: int) -> None:
        inst = self._by_data.get(req_id)
        if inst is None and req_id in self._by_stream:
            inst = self._by_stream[req_id][0]
        if inst is not None and inst.state in (PENDING, STALE):
            state = DELAYED if inst.mdt in DELAYED_MDTS else SUBSCRIBED
            self._set(inst, state, f"streaming (conid {inst.con_id}, market data type {inst.mdt})")

    def _on_code(self, event: RequestCode, now: float) -> None:
        if event.req_id in self._by_stream:
            self._stream_code(*self._by_stream[event.req_id], event)
            return
        inst = self._by_data.get(event.req_id) or self._by_details.get(event.req_id)
        if inst is None:
            return
        kind, code, message = event.kind, event.code, event.message
        if kind is CodeKind.NO_LIVE_PERMISSION and self._may_fall_back(inst):
            inst.mdt = DELAYED_MDT
            text = f"no live market data permission ({message}); falling back to delayed data"
            self._set(inst, DELAYED, text, code=code)
            self._rerequest(inst, now, delayed=True)
        elif kind in (CodeKind.REQUEST_FAILED, CodeKind.NO_LIVE_PERMISSION):
            self._by_data.pop(inst.data_req, None)
            self._by_details.pop(inst.details_req, None)
            inst.data_req = 0
            self._set(inst, FAILED, message, code=code)
        elif kind is CodeKind.DELAYED_INSTEAD:
            inst.mdt = DELAYED_MDT
            self._set(inst, DELAYED, message, code=code)
        elif kind is CodeKind.REQUEST_LOST:
            self._set(inst, PENDING, f"{message}; re-requesting", code=code)
            if event.link_up:
                self._rerequest(inst, now)
            else:
                inst.lost = True  # re-requested when the link is back (1102)
        elif kind is CodeKind.COMPETING_SESSION:
            self._set(inst, STALE, message, code=code)
        elif kind is CodeKind.ADVISORY:  # said on the status, the state unchanged
            inst.code = code
            self._emit(InstrumentStatus(inst.key, inst.state, message, code))

    def _stream_code(self, inst: Instrument, stream: Stream, event: RequestCode) -> None:
        """An IB code about one stream: it fails or is re-requested alone, the instrument's
        other data carry on (its state is said again, with the stream named)."""
        kind, name = event.kind, stream.kind.name
        if kind in (CodeKind.REQUEST_FAILED, CodeKind.NO_LIVE_PERMISSION):
            self._by_stream.pop(stream.req_id, None)
            stream.req_id, stream.failed = 0, True
            text = f"{name} failed: {event.message}"
            if not inst.wants_market_data and all(s.failed for s in inst.streams.values()):
                self._set(inst, FAILED, text, code=event.code)
            else:
                self._emit(InstrumentStatus(inst.key, inst.state, text, event.code))
        elif kind is CodeKind.REQUEST_LOST and event.link_up:
            self._emit(
                InstrumentStatus(inst.key, inst.state, f"{name}: {event.message}", event.code)
            )
            self._cancel_stream(stream)
            self._subscribe_stream(inst, stream)
        else:  # advisory and the like: said, nothing changes
            self._emit(
                InstrumentStatus(inst.key, inst.state, f"{name}: {event.message}", event.code)
            )

    def _check_stale(self, now: float, wall_ns: int) -> None:
        policy = self._policy.stale
        for finding in find_stale(self._instruments.values(), now, wall_ns, policy):
            inst = self._instruments[finding.key]
            if finding.verdict is Verdict.RECOVERED:
                inst.stale_retries = 0
            elif finding.verdict is Verdict.RETRY:
                inst.stale_retries = finding.attempt
                text = (
                    f"no ticks for {policy.after:g} s while others tick; "
                    f"re-requesting ({finding.attempt} of {policy.max_retries})"
                )
                self._set(inst, STALE, text)
                self._rerequest(inst, now, delayed=self._needs_delayed(inst))
            else:  # GIVE_UP: said once, even if a re-request's initial quote set subscribed
                inst.stale_retries = policy.max_retries + 1
                inst.state, inst.code = STALE, None
                text = (
                    f"still no ticks after {policy.max_retries} re-requests; "
                    "left stale until the next reconnect"
                )
                self._emit(InstrumentStatus(inst.key, STALE, text))

    # -- requests --------------------------------------------------------------------------

    def _req_id(self) -> int:
        req_id = self._next_req_id
        self._next_req_id += 1
        return req_id

    def _qualify(self, inst: Instrument) -> None:
        inst.matches = []
        req_id = inst.details_req = self._req_id()
        self._by_details[req_id] = inst
        self._emit(Qualify(req_id, inst.spec))

    def _subscribe(self, inst: Instrument, now: float, *, delayed: bool = False) -> None:
        req_id = inst.data_req = self._req_id()
        self._by_data[req_id] = inst
        inst.requested_at = now
        request = Subscribe(req_id, inst.spec, inst.con_id, delayed)
        if delayed:  # reqMarketDataType is session-wide: switch for this one request only
            self._emit(SetMarketDataType(DELAYED_MDT))
            self._emit(request)
            self._emit(SetMarketDataType(self._policy.market_data_type))
        else:
            self._emit(request)

    def _subscribe_stream(self, inst: Instrument, stream: Stream) -> None:
        req_id = stream.req_id = self._req_id()
        self._by_stream[req_id] = (inst, stream)
        self._emit(SubscribeStream(req_id, stream.kind, inst.spec, inst.con_id, stream.topic))

    def _cancel_stream(self, stream: Stream) -> None:
        if stream.req_id and self._by_stream.pop(stream.req_id, None) is not None:
            self._emit(CancelStream(stream.req_id, stream.kind))
        stream.req_id = 0

    def _rerequest(self, inst: Instrument, now: float, *, delayed: bool = False) -> None:
        """Cancel an instrument's stream (if any) and request it again under a new id."""
        old = inst.data_req
        if old:
            self._by_data.pop(old, None)
            self._emit(Cancel(old))
        self._subscribe(inst, now, delayed=delayed)

    def _needs_delayed(self, inst: Instrument) -> bool:
        """Whether it runs on the delayed fallback (re-requests keep it there)."""
        return inst.mdt == DELAYED_MDT and not self._policy.delayed_configured

    def _may_fall_back(self, inst: Instrument) -> bool:
        return (
            self._policy.allow_delayed_fallback
            and inst.state != DELAYED
            and not self._policy.delayed_configured
        )

    # -- statuses --------------------------------------------------------------------------

    def _set(
        self, inst: Instrument, state: InstrumentState, message: str, *, code: int | None = None
    ) -> None:
        """Change state and say so; the same state is said again only with a new IB code (a
        10167 after market data type 3 names the code the first ``delayed`` lacked)."""
        if inst.state == state and (code is None or code == inst.code):
            return
        inst.state, inst.code = state, code
        self._emit(InstrumentStatus(inst.key, state, message, code))

    def _emit(self, action: SubscriptionAction) -> None:
        self._out.append(action)
