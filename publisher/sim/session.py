"""One client connection of the simulated gateway: handshake, requests, and the one send path.

A :class:`Session` is an ``asyncio.Protocol``; it decides what to answer and asks its gateway
(any :class:`SessionHost`, in practice :class:`~publisher.sim.server.AsyncGateway`) for the
shared things: the catalogue, the market, client ids, streams and fault switches. It imports
nothing from the server, so the two do not form a cycle.

All protocol knowledge lives in :mod:`publisher.sim.protocol`; this module only decides what to
say and when.
"""

import asyncio
import enum
import logging
from collections.abc import Callable
from typing import Final, Protocol

from publisher.sim.catalogue import Catalogue, Instrument
from publisher.sim.faults import Faults
from publisher.sim.kinds.handler import DataKinds
from publisher.sim.kinds.limits import DataLimits
from publisher.sim.market import Market
from publisher.sim.protocol import (
    BBO_EXCHANGE,
    CANNOT_FIND_TICKER,
    CLIENT_ID_IN_USE,
    CLIENT_ID_IN_USE_TEXT,
    DELAYED_MARKET_DATA_TYPES,
    DUPLICATE_TICKER_ID,
    FARM_STATUS,
    MARKET_DATA_TYPES,
    MAX_TICKERS,
    MAX_TICKERS_TEXT,
    NO_SECURITY_DEFINITION,
    NO_SECURITY_DEFINITION_TEXT,
    SNAPSHOT_PERMISSIONS,
    BadHandshakeError,
    CancelMktData,
    Encoder,
    FrameBuffer,
    Hello,
    MalformedRequestError,
    Opening,
    ProtocolError,
    ReqAccountUpdates,
    ReqAccountUpdatesMulti,
    ReqAutoOpenOrders,
    ReqCompletedOrders,
    ReqContractDetails,
    ReqCurrentTime,
    ReqExecutions,
    ReqIds,
    ReqManagedAccounts,
    ReqMarketDataType,
    ReqMktData,
    ReqOpenOrders,
    ReqPositions,
    Request,
    StartApi,
    TickEvent,
    UnknownRequest,
    VersionMismatchError,
    format_connection_time,
    handshake_reply,
    negotiate,
    parse_request,
)

log = logging.getLogger(__name__)

FIRST_ORDER_ID: Final = 1


class _State(enum.Enum):
    OPENING = "awaiting API\\0 and the version range"
    HANDSHAKEN = "awaiting startApi"
    READY = "ready"
    CLOSED = "closed"


class SessionHost(Protocol):
    """What a session needs of its gateway."""

    @property
    def catalogue(self) -> Catalogue:
        """The contracts requests are matched against."""
        ...

    @property
    def market(self) -> Market:
        """The shared random-walk market (snapshots come from it)."""
        ...

    @property
    def faults(self) -> Faults:
        """The fault switches and the hooks a session calls."""
        ...

    @property
    def clock(self) -> Callable[[], float]:
        """Wall-clock seconds, for connection and error times."""
        ...

    @property
    def account(self) -> str:
        """The one managed account."""
        ...

    @property
    def max_server_version(self) -> int:
        """The highest version to negotiate."""
        ...

    @property
    def handshake_timeout(self) -> float:
        """Seconds a new connection gets to complete the handshake."""
        ...

    def claim_client_id(self, client_id: int, session: "Session") -> bool:
        """Take ``client_id`` for ``session``; False if another session holds it."""
        ...

    def line_available(self) -> bool:
        """Whether one more market-data stream fits in the account's lines (else error 101)."""
        ...

    def open_stream(
        self, session: "Session", req_id: int, instrument: Instrument, delayed: bool
    ) -> tuple[int, list[TickEvent]]:
        """Start streaming ``instrument`` to ``session``: its subscription id and first ticks."""
        ...

    def close_stream(self, sub_id: int) -> None:
        """Stop a stream opened by :meth:`open_stream`."""
        ...

    def session_closed(self, session: "Session") -> None:
        """The connection is gone: release its client id."""
        ...

    @property
    def data_limits(self) -> DataLimits:
        """The gateway-wide limits on tick-by-tick and depth, and the bar period."""
        ...

    def feed_started(self) -> None:
        """A depth, tick-by-tick or bar subscription started: a walk may tick now."""
        ...


class Session(asyncio.Protocol):
    """One client connection, from ``API\\0`` to close.

    Nothing is sent before startApi except the handshake reply (ibapi drops bytes that follow
    it). Requests before startApi are ignored, as TWS does. A connection whose first bytes
    cannot become ``API\\0`` (a pre-v100 client) is closed at once, and one that has not
    finished the handshake within the host's ``handshake_timeout`` is closed then; each with a
    log line saying why, instead of being held open in silence.
    """

    def __init__(self, gateway: "SessionHost", conn_id: int) -> None:
        self.gateway = gateway
        self.conn_id = conn_id
        self.peer = "?"
        self.server_version: int | None = None
        self.client_id: int | None = None
        self.silent = False
        """Fault injection: while True, :meth:`write` discards all output."""
        self._transport: asyncio.Transport | None = None
        self._buffer = FrameBuffer()
        self._opening = Opening(self._buffer)
        self._state = _State.OPENING
        self._encoder: Encoder | None = None
        self._paused = False
        self._market_data_type = 1
        self._next_order_id = FIRST_ORDER_ID
        self._streams: dict[int, int] = {}  # reqId -> market subscription id
        self._handshake_timer: asyncio.TimerHandle | None = None
        self.kinds = DataKinds(self, gateway)
        """Tick-by-tick, depth and real-time bar subscriptions (:mod:`publisher.sim.kinds`)."""

    # -- the one send path -------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Send bytes to the client; every byte the session sends passes through here."""
        if self._transport is None or self.silent or self._state is _State.CLOSED:
            return
        self._transport.write(data)

    @property
    def writable(self) -> bool:
        """False while the client lags (transport over its high-water mark), or when closing."""
        return not (self._paused or self.silent or self._transport is None) and (
            self._state is not _State.CLOSED
        )

    # -- fault injection and control ---------------------------------------------------------

    def send_raw(self, data: bytes) -> None:
        """Send arbitrary bytes (e.g. garbage frames) exactly as given."""
        self.write(data)

    def send_error(self, req_id: int, code: int, message: str) -> None:
        """Send an error/status message in this session's encoding."""
        if self._encoder is not None:
            self.write(self._error(req_id, code, message))

    def close(self) -> None:
        """Close after flushing what is queued (what TWS does after error 326)."""
        if self._transport is not None and self._state is not _State.CLOSED:
            self._state = _State.CLOSED
            self._transport.close()

    def abort(self) -> None:
        """Drop the connection at once, discarding anything unsent."""
        if self._transport is not None:
            self._state = _State.CLOSED
            self._transport.abort()

    @property
    def encoder(self) -> Encoder | None:
        """The encoder for the negotiated version, once the handshake is done."""
        return self._encoder

    @property
    def connected(self) -> bool:
        """Whether the socket is open."""
        return self._transport is not None

    @property
    def stream_count(self) -> int:
        """Active streaming market data subscriptions."""
        return len(self._streams)

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # asyncio's TCP contract
        self._transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        log.debug("connection opened conn=%d peer=%s", self.conn_id, self.peer)
        self._handshake_timer = asyncio.get_running_loop().call_later(
            self.gateway.handshake_timeout, self._handshake_expired
        )

    def _handshake_expired(self) -> None:
        """The handshake did not complete in time: say how far it got, then close."""
        self._handshake_timer = None
        if self._state is not _State.OPENING:
            return
        log.warning(
            "handshake timed out, closing conn=%d peer=%s after %g s: %s",
            self.conn_id,
            self.peer,
            self.gateway.handshake_timeout,
            self._opening.progress(),
        )
        self.close()

    def _cancel_handshake_timer(self) -> None:
        if self._handshake_timer is not None:
            self._handshake_timer.cancel()
            self._handshake_timer = None

    def connection_lost(self, exc: Exception | None) -> None:
        self._state = _State.CLOSED
        self._cancel_handshake_timer()
        for sub_id in self._streams.values():
            self.gateway.close_stream(sub_id)
        self._streams.clear()
        self.kinds.close()
        self.gateway.session_closed(self)
        self._transport = None
        log.info(
            "client disconnected conn=%d peer=%s client_id=%s reason=%s",
            self.conn_id,
            self.peer,
            self.client_id,
            exc or "closed",
        )

    def pause_writing(self) -> None:
        self._paused = True
        log.warning(
            "client lags, dropping ticks conn=%d client_id=%s", self.conn_id, self.client_id
        )

    def resume_writing(self) -> None:
        self._paused = False
        log.info("client caught up conn=%d client_id=%s", self.conn_id, self.client_id)

    def data_received(self, data: bytes) -> None:
        self._buffer.feed(data)
        try:
            self._process()
        except VersionMismatchError as exc:
            log.info("rejecting client conn=%d peer=%s: %s", self.conn_id, self.peer, exc)
            self.close()
        except BadHandshakeError as exc:
            log.warning("rejecting client conn=%d peer=%s: %s", self.conn_id, self.peer, exc)
            self.close()
        except ProtocolError as exc:
            log.warning("protocol error, closing conn=%d peer=%s: %s", self.conn_id, self.peer, exc)
            self.close()

    # -- protocol state machine ----------------------------------------------------------------

    def _process(self) -> None:
        while self._state is not _State.CLOSED:
            if self._state is _State.OPENING:
                hello = self._opening.advance()
                if hello is None:
                    return
                self._handshake(hello)
                continue
            payload = self._buffer.next_frame()
            if payload is None:
                return
            assert self.server_version is not None  # set by the handshake
            try:
                request = parse_request(payload, self.server_version)
            except MalformedRequestError as exc:
                log.warning("ignoring request conn=%d: %s", self.conn_id, exc)
                continue
            self._dispatch(request)

    def _handshake(self, hello: Hello) -> None:
        version = negotiate(hello, self.gateway.max_server_version)
        self.server_version = version
        self._encoder = Encoder(version)
        self._state = _State.HANDSHAKEN
        self._cancel_handshake_timer()
        self.write(handshake_reply(version, format_connection_time(self.gateway.clock())))
        log.info(
            "handshake conn=%d peer=%s client=v%d..%d negotiated=%d options=%r",
            self.conn_id,
            self.peer,
            hello.min_version,
            hello.max_version,
            version,
            hello.options,
        )

    def _dispatch(self, request: Request) -> None:
        if not self.gateway.faults.admit_request(self):
            return
        if isinstance(request, StartApi):
            if self._state is _State.HANDSHAKEN:
                self._start_api(request)
            return
        if self._state is not _State.READY:
            log.debug("ignoring %s before startApi conn=%d", type(request).__name__, self.conn_id)
            return
        encoder = self._encoder
        assert encoder is not None  # set by the handshake
        match request:
            case ReqMktData():
                self._req_mkt_data(request, encoder)
            case CancelMktData(req_id=req_id):
                self._cancel_mkt_data(req_id)
            case ReqMarketDataType(market_data_type=mdt):
                if mdt in MARKET_DATA_TYPES:
                    self._market_data_type = mdt
            case ReqContractDetails():
                self._req_contract_details(request, encoder)
            case ReqIds():
                self.write(encoder.next_valid_id(self._next_order_id))
            case ReqCurrentTime():
                self.write(encoder.current_time(int(self.gateway.clock())))
            case ReqPositions():
                self.write(encoder.position_end())
            case ReqOpenOrders():
                self.write(encoder.open_order_end())
            case ReqCompletedOrders():
                self.write(encoder.completed_orders_end())
            case ReqAccountUpdates(subscribe=subscribe, account=account):
                if subscribe:
                    self.write(encoder.account_download_end(account or self.gateway.account))
            case ReqAccountUpdatesMulti(req_id=req_id):
                self.write(encoder.account_update_multi_end(req_id))
            case ReqExecutions(req_id=req_id):
                self.write(encoder.execution_data_end(req_id))
            case ReqManagedAccounts():
                self.write(encoder.managed_accounts([self.gateway.account]))
            case ReqAutoOpenOrders():
                pass  # needs no reply
            case UnknownRequest(msg_id=msg_id, protobuf=protobuf):
                log.debug("ignoring unmodelled request %d protobuf=%s", msg_id, protobuf)
            case _:
                self.kinds.handle(request)

    def _error(self, req_id: int, code: int, message: str) -> bytes:
        assert self._encoder is not None  # only called after the handshake
        error_time_ms = int(self.gateway.clock() * 1000)
        return self._encoder.error(req_id, code, message, error_time_ms=error_time_ms)

    # -- requests ------------------------------------------------------------------------------

    def _start_api(self, request: StartApi) -> None:
        if self.gateway.faults.client_id_reserved(request.client_id) or not (
            self.gateway.claim_client_id(request.client_id, self)
        ):
            log.info("client id in use conn=%d client_id=%d", self.conn_id, request.client_id)
            self.write(self._error(-1, CLIENT_ID_IN_USE, CLIENT_ID_IN_USE_TEXT))
            self.close()
            return
        encoder = self._encoder
        assert encoder is not None  # set by the handshake
        self.client_id = request.client_id
        self._state = _State.READY
        greeting = [
            encoder.managed_accounts([self.gateway.account]),
            encoder.next_valid_id(self._next_order_id),
        ]
        greeting += [self._error(-1, code, text) for code, text in FARM_STATUS]
        self.write(b"".join(greeting))
        log.info(
            "client connected conn=%d peer=%s client_id=%d version=%d",
            self.conn_id,
            self.peer,
            request.client_id,
            self.server_version,
        )

    def _req_contract_details(self, request: ReqContractDetails, encoder: Encoder) -> None:
        matches = self.gateway.catalogue.match(request.contract)
        if not matches:
            self.write(
                self._error(request.req_id, NO_SECURITY_DEFINITION, NO_SECURITY_DEFINITION_TEXT)
            )
            return
        frames = [encoder.contract_data(request.req_id, m.spec) for m in matches]
        frames.append(encoder.contract_data_end(request.req_id))
        self.write(b"".join(frames))

    def _req_mkt_data(self, request: ReqMktData, encoder: Encoder) -> None:
        req_id = request.req_id
        if req_id in self._streams or req_id in self.kinds.options:
            self.write(self._error(req_id, DUPLICATE_TICKER_ID, "Duplicate ticker id"))
            return
        matches = self.gateway.catalogue.match(request.contract)
        if len(matches) != 1:
            text = NO_SECURITY_DEFINITION_TEXT
            if matches:
                text = (
                    f"The contract description specified for {request.contract.symbol} is ambiguous"
                )
            self.write(self._error(req_id, NO_SECURITY_DEFINITION, text))
            return
        instrument = matches[0]
        mdt = self._market_data_type
        delayed = mdt in DELAYED_MARKET_DATA_TYPES
        scripted = self.gateway.faults.market_data_error(instrument.spec.symbol, mdt)
        if scripted is not None:
            self.write(self._error(req_id, *scripted))
            return
        snapshot = request.snapshot or request.regulatory_snapshot
        if not snapshot and not self.gateway.line_available():
            # As IB: error 101 for this request id and nothing else; no stream, no line taken.
            self.write(self._error(req_id, MAX_TICKERS, MAX_TICKERS_TEXT))
            log.info(
                "market data refused, lines full conn=%d client_id=%s req_id=%d symbol=%s",
                self.conn_id,
                self.client_id,
                req_id,
                instrument.spec.local_symbol,
            )
            return
        frames = [
            encoder.tick_req_params(
                req_id, instrument.spec.min_tick, BBO_EXCHANGE, SNAPSHOT_PERMISSIONS
            ),
            encoder.market_data_type(req_id, mdt),
        ]
        if instrument.spec.sec_type == "OPT":  # quotes and greeks from the underlying
            self.write(b"".join(frames))
            self.kinds.start_option(req_id, instrument, delayed=delayed)
            if snapshot:
                self.kinds.stop_option(req_id)
                self.write(encoder.tick_snapshot_end(req_id))
            return
        if snapshot:
            ticks = self.gateway.market.snapshot(req_id, instrument)
        else:
            sub_id, ticks = self.gateway.open_stream(self, req_id, instrument, delayed)
            self._streams[req_id] = sub_id
        frames += [encoder.tick(t, delayed=delayed) for t in ticks]
        if snapshot:
            frames.append(encoder.tick_snapshot_end(req_id))
        self.write(b"".join(frames))
        log.info(
            "market data conn=%d client_id=%s req_id=%d con_id=%d symbol=%s mdt=%d snapshot=%s",
            self.conn_id,
            self.client_id,
            req_id,
            instrument.con_id,
            instrument.spec.local_symbol,
            mdt,
            snapshot,
        )

    def _cancel_mkt_data(self, req_id: int) -> None:
        if self.kinds.stop_option(req_id):
            return
        sub_id = self._streams.pop(req_id, None)
        if sub_id is None:
            self.write(
                self._error(req_id, CANNOT_FIND_TICKER, f"Can't find EId with tickerId:{req_id}")
            )
            return
        self.gateway.close_stream(sub_id)
        log.info(
            "market data cancelled conn=%d client_id=%s req_id=%d",
            self.conn_id,
            self.client_id,
            req_id,
        )
