"""One session's data-kind subscriptions: requests in, frames out, limits and errors as IB's.

A :class:`~publisher.sim.session.Session` hands every request of
:data:`~publisher.sim.protocol.data_requests.DataRequest` to :meth:`DataKinds.handle` and calls
:meth:`DataKinds.close` when the connection goes. Checks run in IB's order: a duplicate ticker id
(322), an unknown or ambiguous contract (200), no depth for the contract (10092), then the
gateway-wide limits (10190 tick-by-tick, 309 depth).
"""

import asyncio
import logging
from collections.abc import Callable
from typing import Final, Protocol, TypeVar

from publisher.sim.catalogue import Catalogue, Instrument
from publisher.sim.kinds.bars import BarStream
from publisher.sim.kinds.book import SimBook
from publisher.sim.kinds.limits import (
    BAD_BAR_CODE,
    BAD_TBT_TYPE_CODE,
    BAR_SIZE,
    MAX_DEPTH_CODE,
    MAX_TBT_CODE,
    MAX_TBT_TEXT,
    NO_DEPTH_CODE,
    NO_DEPTH_TEXT,
    DataLimits,
    max_depth_text,
)
from publisher.sim.kinds.options import OptionStream
from publisher.sim.kinds.tbt import TbtStream
from publisher.sim.market import Market
from publisher.sim.protocol import (
    DUPLICATE_TICKER_ID,
    NO_SECURITY_DEFINITION,
    NO_SECURITY_DEFINITION_TEXT,
    ContractQuery,
    Encoder,
    TickEvent,
)
from publisher.sim.protocol.data_encoding import (
    bar_frame,
    depth_exchanges_frame,
    depth_frame,
    option_frame,
    tbt_frame,
)
from publisher.sim.protocol.data_events import (
    TBT_TYPES,
    DepthExchange,
    OptionComputation,
    TbtEvent,
)
from publisher.sim.protocol.data_requests import (
    CancelMktDepth,
    CancelRealTimeBars,
    CancelTickByTick,
    DataRequest,
    ReqMktDepth,
    ReqMktDepthExchanges,
    ReqRealTimeBars,
    ReqTickByTick,
)

log = logging.getLogger(__name__)

DEPTH_EXCHANGES: Final = (
    DepthExchange("NASDAQ", "STK", "NASDAQ", "Deep2", 1),
    DepthExchange("ARCA", "STK", "ARCA", "Deep", 1),
    DepthExchange("NYSE", "STK", "NYSE", "Deep", 1),
    DepthExchange("BATS", "STK", "BATS", "Deep", 1),
    DepthExchange("IEX", "STK", "IEX", "Deep", 1),
    DepthExchange("CME", "FUT", "", "Deep", 2),
    DepthExchange("NYMEX", "FUT", "", "Deep", 2),
    DepthExchange("COMEX", "FUT", "", "Deep", 2),
)
"""mktDepthExchanges' answer: the venues the simulator serves depth for."""
BAR_WHATS: Final = ("TRADES", "MIDPOINT", "BID", "ASK")


class KindsSession(Protocol):
    """What the handler needs of its session."""

    @property
    def encoder(self) -> Encoder | None: ...

    @property
    def writable(self) -> bool: ...

    def write(self, data: bytes) -> None: ...

    def send_error(self, req_id: int, code: int, message: str) -> None: ...


class KindsHost(Protocol):
    """What the handler needs of its gateway."""

    @property
    def catalogue(self) -> Catalogue: ...

    @property
    def market(self) -> Market: ...

    @property
    def clock(self) -> Callable[[], float]: ...

    @property
    def data_limits(self) -> DataLimits: ...

    def feed_started(self) -> None:
        """A walk may have started ticking: wake the pacing loop."""
        ...


_S = TypeVar("_S", TbtStream, SimBook, BarStream, OptionStream)


class DataKinds:
    """The tick-by-tick, depth and bar subscriptions of one session."""

    def __init__(self, session: KindsSession, host: KindsHost) -> None:
        self._session = session
        self._host = host
        self.tbt: dict[int, TbtStream] = {}
        self.depth: dict[int, SimBook] = {}
        self.bars: dict[int, BarStream] = {}
        self.options: dict[int, OptionStream] = {}
        self.tbt_dropped = 0

    def handle(self, request: DataRequest) -> None:
        """Answer one data-kind request."""
        match request:
            case ReqTickByTick():
                self._req_tbt(request)
            case CancelTickByTick(req_id=req_id):
                self._stop(self.tbt, req_id)
            case ReqMktDepth():
                self._req_depth(request)
            case CancelMktDepth(req_id=req_id):
                self._stop(self.depth, req_id)
            case ReqMktDepthExchanges():
                self._write(depth_exchanges_frame(self._encoder(), DEPTH_EXCHANGES))
            case ReqRealTimeBars():
                self._req_bars(request)
            case CancelRealTimeBars(req_id=req_id):
                self._stop(self.bars, req_id)

    def close(self) -> None:
        """The session is gone: stop every subscription."""
        for req_id in list(self.tbt):
            self._stop(self.tbt, req_id)
        for req_id in list(self.depth):
            self._stop(self.depth, req_id)
        for req_id in list(self.bars):
            self._stop(self.bars, req_id)
        for req_id in list(self.options):
            self._stop(self.options, req_id)

    # -- helpers -------------------------------------------------------------------------------

    def _encoder(self) -> Encoder:
        encoder = self._session.encoder
        assert encoder is not None  # requests arrive after the handshake
        return encoder

    def _write(self, data: bytes) -> None:
        self._session.write(data)

    def _error(self, req_id: int, code: int, text: str) -> None:
        self._session.send_error(req_id, code, text)
        log.info("data request refused req_id=%d code=%d: %s", req_id, code, text)

    def _resolve(self, req_id: int, query: ContractQuery) -> Instrument | None:
        matches = self._host.catalogue.match(query)
        if len(matches) != 1:
            text = NO_SECURITY_DEFINITION_TEXT
            if matches:
                text = f"The contract description specified for {query.symbol} is ambiguous"
            self._error(req_id, NO_SECURITY_DEFINITION, text)
            return None
        return matches[0]

    def _in_use(self, req_id: int, streams: dict[int, TbtStream] | dict[int, SimBook]) -> bool:
        if req_id in streams:
            self._error(req_id, DUPLICATE_TICKER_ID, "Duplicate ticker id")
            return True
        return False

    def _stop(self, streams: dict[int, _S], req_id: int) -> None:
        stream = streams.pop(req_id, None)
        if stream is None:
            log.debug("cancel of unknown data request req_id=%d ignored", req_id)
            return
        if isinstance(stream, BarStream):
            stream.stop()
        self._host.market.release(stream.walk, stream)
        if isinstance(stream, TbtStream):
            self._host.data_limits.tick_by_tick_live -= 1
        elif isinstance(stream, SimBook):
            self._host.data_limits.depth_live -= 1
        log.info("data stream cancelled req_id=%d kind=%s", req_id, type(stream).__name__)

    # -- options -------------------------------------------------------------------------------

    def start_option(self, req_id: int, instrument: Instrument, *, delayed: bool) -> None:
        """Stream an OPT contract (reqMktData): its quotes and greeks follow the underlying.

        The session has checked the request id and sent tickReqParams and marketDataType; the
        first quote and computations are written at once.
        """
        underlying = self._host.catalogue.by_con_id(instrument.spec.under_con_id)
        if underlying is None:  # a file catalogue's option without its stock: model on itself
            underlying = instrument
        encoder = self._encoder()
        session = self._session

        def ticks(events: list[TickEvent]) -> None:
            if events and session.writable:
                session.write(b"".join(encoder.tick(e, delayed=delayed) for e in events))

        def computations(values: list[OptionComputation]) -> None:
            if session.writable:
                session.write(b"".join(option_frame(encoder, v) for v in values))

        walk = self._host.market.feed(underlying)
        stream = OptionStream(
            req_id,
            instrument,
            walk,
            ticks,
            computations,
            self._host.clock,
            reference=underlying.price,
            delayed=delayed,
        )
        self.options[req_id] = stream
        stream.start()
        self._host.feed_started()

    def stop_option(self, req_id: int) -> bool:
        """cancelMktData of an option stream; False if ``req_id`` is not one."""
        if req_id not in self.options:
            return False
        self._stop(self.options, req_id)
        return True

    # -- tick-by-tick --------------------------------------------------------------------------

    def _req_tbt(self, request: ReqTickByTick) -> None:
        req_id = request.req_id
        if self._in_use(req_id, self.tbt):
            return
        tick_type = TBT_TYPES.get(request.tick_type)
        if tick_type is None:
            text = f"Invalid tick-by-tick type: {request.tick_type!r}"
            self._error(req_id, BAD_TBT_TYPE_CODE, text)
            return
        instrument = self._resolve(req_id, request.contract)
        if instrument is None:
            return
        if self._host.data_limits.tick_by_tick_live >= self._host.data_limits.max_tick_by_tick:
            self._error(req_id, MAX_TBT_CODE, MAX_TBT_TEXT)
            return
        encoder = self._encoder()
        session = self._session

        def send(event: TbtEvent) -> None:
            if session.writable:
                session.write(tbt_frame(encoder, event))
            else:
                self.tbt_dropped += 1

        walk = self._host.market.feed(instrument)
        stream = TbtStream(req_id, tick_type, walk, send, self._host.clock)
        self.tbt[req_id] = stream
        self._host.data_limits.tick_by_tick_live += 1
        stream.start()
        self._host.feed_started()
        log.info(
            "tick-by-tick req_id=%d symbol=%s type=%s",
            req_id,
            instrument.spec.local_symbol,
            request.tick_type,
        )

    # -- depth ---------------------------------------------------------------------------------

    def _req_depth(self, request: ReqMktDepth) -> None:
        req_id = request.req_id
        if self._in_use(req_id, self.depth):
            return
        instrument = self._resolve(req_id, request.contract)
        if instrument is None:
            return
        if not instrument.depth:
            self._error(req_id, NO_DEPTH_CODE, NO_DEPTH_TEXT)
            return
        limit = self._host.data_limits.max_depth
        if self._host.data_limits.depth_live >= limit:
            self._error(req_id, MAX_DEPTH_CODE, max_depth_text(limit))
            return
        encoder = self._encoder()
        session = self._session
        rows = max(1, request.num_rows)
        walk = self._host.market.feed(instrument)
        book = SimBook(
            req_id,
            rows,
            walk,
            lambda change: session.write(depth_frame(encoder, change)),
            is_smart=request.is_smart,
            seed=instrument.con_id,
        )
        self.depth[req_id] = book
        self._host.data_limits.depth_live += 1
        book.start()
        self._host.feed_started()
        log.info(
            "depth req_id=%d symbol=%s rows=%d smart=%s",
            req_id,
            instrument.spec.local_symbol,
            rows,
            request.is_smart,
        )

    # -- real-time bars ------------------------------------------------------------------------

    def _req_bars(self, request: ReqRealTimeBars) -> None:
        req_id = request.req_id
        if req_id in self.bars:
            self._error(req_id, DUPLICATE_TICKER_ID, "Duplicate ticker id")
            return
        what = request.what_to_show.upper()
        if what not in BAR_WHATS or request.bar_size != BAR_SIZE:
            text = (
                f"Invalid real-time bar request: barSize {request.bar_size} (only {BAR_SIZE}), "
                f"whatToShow {request.what_to_show!r} (one of {', '.join(BAR_WHATS)})"
            )
            self._error(req_id, BAD_BAR_CODE, text)
            return
        instrument = self._resolve(req_id, request.contract)
        if instrument is None:
            return
        encoder = self._encoder()
        session = self._session
        walk = self._host.market.feed(instrument)
        stream = BarStream(
            req_id,
            what,
            walk,
            lambda bar: session.write(bar_frame(encoder, bar)),
            self._host.clock,
            self._host.data_limits.bar_seconds,
        )
        self.bars[req_id] = stream
        stream.start(asyncio.get_running_loop())
        self._host.feed_started()
        log.info(
            "real-time bars req_id=%d symbol=%s what=%s", req_id, instrument.spec.local_symbol, what
        )
