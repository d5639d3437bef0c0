"""The simulated IB Gateway: an asyncio TCP server speaking the TWS API socket protocol.

Three layers, outermost first:

* :class:`SimulatedGateway` runs everything on a private event loop in a daemon thread, for
  tests and for processes (like ``ibpub demo``) whose own main thread is busy;
* :class:`AsyncGateway` is the async-native core: the listener, the per-listener registry of
  client ids, the shared :class:`~publisher.sim.market.Market`, and the single pacing loop that
  spreads ``rate`` ticks per second over all streams in ~10 ms batches;
* :class:`Session` is one client connection: handshake, request handling, and the one method
  that writes to the socket (:meth:`Session.write`), which is where fault injection hooks in.

All protocol knowledge lives in :mod:`publisher.sim.protocol`; this module only decides what to
say and when.
"""

import asyncio
import contextlib
import enum
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, TypeVar

from publisher.sim.catalogue import Catalogue, Instrument
from publisher.sim.faults import Faults
from publisher.sim.market import Market
from publisher.sim.protocol import (
    API_PREFIX,
    MAX_SERVER_VERSION,
    MIN_SERVER_VERSION,
    BadHandshakeError,
    CancelMktData,
    Encoder,
    FrameBuffer,
    MalformedRequestError,
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
    check_prefix,
    format_connection_time,
    handshake_reply,
    negotiate,
    parse_hello,
    parse_request,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_ACCOUNT: Final = "DU1234567"
FIRST_ORDER_ID: Final = 1
SLICE_SECONDS: Final = 0.010
"""The pacing loop's period: every slice sends what the rate allows, as one write per session."""
MAX_CATCH_UP_SECONDS: Final = 0.100
"""After a stall, at most this much backlog is sent at once; the rest is skipped."""
BBO_EXCHANGE: Final = "9c0001"
"""tickReqParams' bboExchange: an opaque exchange-map id in real TWS."""
SNAPSHOT_PERMISSIONS: Final = 3
FARM_STATUS: Final = (
    (2104, "Market data farm connection is OK:usfarm"),
    (2106, "HMDS data farm connection is OK:ushmds"),
    (2158, "Sec-def data farm connection is OK:secdefnj"),
)
"""The informational "errors" TWS sends with id -1 right after startApi."""

NO_SECURITY_DEFINITION: Final = 200
CANNOT_FIND_TICKER: Final = 300
DUPLICATE_TICKER_ID: Final = 322
CLIENT_ID_IN_USE: Final = 326
_NO_SECURITY_DEFINITION_TEXT: Final = "No security definition has been found for the request"
_CLIENT_ID_IN_USE_TEXT: Final = (
    "Unable to connect as the client id is already in use. Retry with a unique client id."
)
HANDSHAKE_TIMEOUT: Final = 10.0
"""Seconds a connection gets to send ``API\\0`` and its version frame before it is closed."""
_PEEK_BYTES: Final = 64
"""How much of a connection's first bytes a bad prefix is judged (and logged) by."""
_DELAYED_TYPES: Final = frozenset({3, 4})
_SETTLE_TURNS: Final = 10
_CLOSE_TURNS: Final = 200


class _State(enum.Enum):
    PREFIX = "awaiting API\\0"
    VERSION = "awaiting version range"
    HANDSHAKEN = "awaiting startApi"
    READY = "ready"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class _Route:
    """Where one market stream's ticks go."""

    session: "Session"
    encoder: Encoder
    delayed: bool


class Session(asyncio.Protocol):
    """One client connection, from ``API\\0`` to close.

    Nothing is sent before startApi except the handshake reply (ibapi drops bytes that follow
    it). Requests before startApi are ignored, as TWS does.
    """

    def __init__(self, gateway: "AsyncGateway", conn_id: int) -> None:
        self.gateway = gateway
        self.conn_id = conn_id
        self.peer = "?"
        self.server_version: int | None = None
        self.client_id: int | None = None
        self.silent = False
        """Fault injection: while True, :meth:`write` discards all output."""
        self._transport: asyncio.Transport | None = None
        self._buffer = FrameBuffer()
        self._state = _State.PREFIX
        self._encoder: Encoder | None = None
        self._paused = False
        self._market_data_type = 1
        self._next_order_id = FIRST_ORDER_ID
        self._streams: dict[int, int] = {}  # reqId -> market subscription id
        self._handshake_timer: asyncio.TimerHandle | None = None

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
        if self._state is _State.PREFIX:
            got = self._buffer.peek(_PEEK_BYTES)
            stage = f"got {got!r} of API\\0" if got else "nothing received"
        elif self._state is _State.VERSION:
            stage = f"no version frame after API\\0 ({self._buffer.pending} bytes of it)"
        else:
            return
        log.warning(
            "handshake timed out, closing conn=%d peer=%s after %g s: %s",
            self.conn_id,
            self.peer,
            self.gateway.handshake_timeout,
            stage,
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
            self.gateway._close_stream(sub_id)
        self._streams.clear()
        self.gateway._session_closed(self)
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
            if self._state is _State.PREFIX:
                if not check_prefix(self._buffer.peek(_PEEK_BYTES)):
                    return  # part of API\0 so far
                self._buffer.take_prefix(len(API_PREFIX))
                self._state = _State.VERSION
                continue
            payload = self._buffer.next_frame()
            if payload is None:
                return
            if self._state is _State.VERSION:
                self._handshake(payload)
                continue
            assert self.server_version is not None  # set by the handshake
            try:
                request = parse_request(payload, self.server_version)
            except MalformedRequestError as exc:
                log.warning("ignoring request conn=%d: %s", self.conn_id, exc)
                continue
            self._dispatch(request)

    def _handshake(self, payload: bytes) -> None:
        hello = parse_hello(payload)
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
                if mdt in (1, 2, 3, 4):
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

    def _error(self, req_id: int, code: int, message: str) -> bytes:
        assert self._encoder is not None  # only called after the handshake
        error_time_ms = int(self.gateway.clock() * 1000)
        return self._encoder.error(req_id, code, message, error_time_ms=error_time_ms)

    # -- requests ------------------------------------------------------------------------------

    def _start_api(self, request: StartApi) -> None:
        if self.gateway.faults.client_id_reserved(request.client_id) or not (
            self.gateway._claim_client_id(request.client_id, self)
        ):
            log.info("client id in use conn=%d client_id=%d", self.conn_id, request.client_id)
            self.write(self._error(-1, CLIENT_ID_IN_USE, _CLIENT_ID_IN_USE_TEXT))
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
                self._error(request.req_id, NO_SECURITY_DEFINITION, _NO_SECURITY_DEFINITION_TEXT)
            )
            return
        frames = [encoder.contract_data(request.req_id, m.spec) for m in matches]
        frames.append(encoder.contract_data_end(request.req_id))
        self.write(b"".join(frames))

    def _req_mkt_data(self, request: ReqMktData, encoder: Encoder) -> None:
        req_id = request.req_id
        if req_id in self._streams:
            self.write(self._error(req_id, DUPLICATE_TICKER_ID, "Duplicate ticker id"))
            return
        matches = self.gateway.catalogue.match(request.contract)
        if len(matches) != 1:
            text = _NO_SECURITY_DEFINITION_TEXT
            if matches:
                text = (
                    f"The contract description specified for {request.contract.symbol} is ambiguous"
                )
            self.write(self._error(req_id, NO_SECURITY_DEFINITION, text))
            return
        instrument = matches[0]
        mdt = self._market_data_type
        delayed = mdt in _DELAYED_TYPES
        scripted = self.gateway.faults.market_data_error(instrument.spec.symbol, mdt)
        if scripted is not None:
            self.write(self._error(req_id, *scripted))
            return
        frames = [
            encoder.tick_req_params(
                req_id, instrument.spec.min_tick, BBO_EXCHANGE, SNAPSHOT_PERMISSIONS
            ),
            encoder.market_data_type(req_id, mdt),
        ]
        snapshot = request.snapshot or request.regulatory_snapshot
        if snapshot:
            ticks = self.gateway.market.snapshot(req_id, instrument)
        else:
            sub_id, ticks = self.gateway._open_stream(self, req_id, instrument, delayed)
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
        sub_id = self._streams.pop(req_id, None)
        if sub_id is None:
            self.write(
                self._error(req_id, CANNOT_FIND_TICKER, f"Can't find EId with tickerId:{req_id}")
            )
            return
        self.gateway._close_stream(sub_id)
        log.info(
            "market data cancelled conn=%d client_id=%s req_id=%d",
            self.conn_id,
            self.client_id,
            req_id,
        )


class AsyncGateway:
    """The simulated gateway on the running event loop: ``await start()``, ``await aclose()``."""

    def __init__(
        self,
        *,
        rate: float = 50.0,
        seed: int = 1,
        max_server_version: int | None = None,
        catalogue: Catalogue | None = None,
        account: str = DEFAULT_ACCOUNT,
        clock: Callable[[], float] = time.time,
        handshake_timeout: float = HANDSHAKE_TIMEOUT,
    ) -> None:
        version = MAX_SERVER_VERSION if max_server_version is None else max_server_version
        if not MIN_SERVER_VERSION <= version <= MAX_SERVER_VERSION:
            raise ValueError(
                f"max_server_version {version} outside {MIN_SERVER_VERSION}..{MAX_SERVER_VERSION}"
            )
        if rate < 0:
            raise ValueError(f"rate must be >= 0, not {rate}")
        if not account:
            raise ValueError("account must not be empty (ib_async waits for a non-empty list)")
        if not handshake_timeout > 0:  # also rejects NaN
            raise ValueError(f"handshake_timeout must be > 0, not {handshake_timeout}")
        self.rate = rate
        self.seed = seed
        self.max_server_version = version
        self.catalogue = catalogue if catalogue is not None else Catalogue.builtin()
        self.account = account
        self.clock = clock
        self.handshake_timeout = handshake_timeout
        """Seconds a new connection gets to complete the handshake (:data:`HANDSHAKE_TIMEOUT`)."""
        self.market = Market(seed, clock=clock)
        self.ticks_sent = 0
        """Streamed ticks written so far (initial quotes not counted)."""
        self.ticks_dropped = 0
        """Streamed ticks skipped because their client was not reading fast enough."""
        self._server: asyncio.Server | None = None
        self._pacer: asyncio.Task[None] | None = None
        self._streams_changed = asyncio.Event()
        self._routes: dict[int, _Route] = {}
        self._sessions: set[Session] = set()
        self._client_ids: dict[int, Session] = {}
        self._conn_ids = itertools.count(1)
        self._host = ""
        self._port = 0
        self._closed = False
        self.faults = Faults(self)
        """Fault injection (see :mod:`publisher.sim.faults`); use it on the gateway's loop."""

    @property
    def host(self) -> str:
        """The address the listener is bound to."""
        return self._host

    @property
    def port(self) -> int:
        """The bound port (useful after asking for port 0)."""
        return self._port

    @property
    def sessions(self) -> tuple[Session, ...]:
        """Connected sessions, oldest first."""
        return tuple(sorted((s for s in self._sessions if s.connected), key=lambda s: s.conn_id))

    @property
    def client_ids(self) -> frozenset[int]:
        """Client ids of sessions past startApi."""
        return frozenset(self._client_ids)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Bind and start listening; returns once connections are accepted."""
        if self._server is not None or self._closed:
            raise RuntimeError("AsyncGateway can be started once")
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._new_session, host, port, reuse_address=True)
        sockname = self._server.sockets[0].getsockname()
        self._host, self._port = str(sockname[0]), int(sockname[1])
        if self.rate > 0:
            self._pacer = loop.create_task(self._pace(), name="ibpub-sim-pacer")
        log.info(
            "simulated gateway listening on %s:%d versions=%d..%d rate=%s seed=%d contracts=%d",
            self._host,
            self._port,
            MIN_SERVER_VERSION,
            self.max_server_version,
            self.rate,
            self.seed,
            len(self.catalogue),
        )

    async def aclose(self) -> None:
        """Stop listening, drop every connection and stop streaming; idempotent."""
        if self._closed:
            return
        self._closed = True
        self.faults.cancel()
        if self._pacer is not None:
            self._pacer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pacer
        # Stop accepting first but keep the Server open for a few loop turns: a connection
        # accepted a moment ago still has its transport to build, and on Python 3.11 building
        # it after Server.close() fails inside asyncio and leaks the socket. Meanwhile abort
        # every session as it appears, until all have seen connection_lost.
        server = self._server
        if server is not None:
            loop = asyncio.get_running_loop()
            for sock in server.sockets:
                loop.remove_reader(sock.fileno())
        for turn in range(_CLOSE_TURNS):
            for session in list(self._sessions):
                session.abort()
            await asyncio.sleep(0)
            if not self._sessions and turn >= _SETTLE_TURNS:
                break
        if server is not None:
            server.close()
            await server.wait_closed()
        log.info("simulated gateway stopped port=%d", self._port)

    async def __aenter__(self) -> "AsyncGateway":
        if self._server is None:
            await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- the listener, also the seam faults use (publisher.sim.faults.FaultTarget) ------------

    def stop_listening(self) -> bool:
        """Close the listener so connects are refused (sessions stay); False if not listening."""
        if self._server is None or self._closed or not self._server.is_serving():
            return False
        self._server.close()
        return True

    async def listen_again(self) -> bool:
        """Listen again on the bound address and port; False if the gateway has closed."""
        if self._closed:
            return False
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._new_session, self._host, self._port, reuse_address=True
        )
        return True

    # -- used by sessions ----------------------------------------------------------------------

    def _new_session(self) -> Session:
        session = Session(self, next(self._conn_ids))
        self._sessions.add(session)
        return session

    def _session_closed(self, session: Session) -> None:
        self._sessions.discard(session)
        self.faults.session_closed(session)
        if session.client_id is not None and self._client_ids.get(session.client_id) is session:
            del self._client_ids[session.client_id]

    def _claim_client_id(self, client_id: int, session: Session) -> bool:
        if client_id in self._client_ids:
            return False
        self._client_ids[client_id] = session
        return True

    def _open_stream(
        self, session: Session, req_id: int, instrument: Instrument, delayed: bool
    ) -> tuple[int, list[TickEvent]]:
        assert session.encoder is not None  # streams open after the handshake
        sub_id, ticks = self.market.subscribe(req_id, instrument)
        self._routes[sub_id] = _Route(session, session.encoder, delayed)
        self.faults.stream_opened(sub_id, session, req_id, instrument.spec)
        self._streams_changed.set()
        return sub_id, ticks

    def _close_stream(self, sub_id: int) -> None:
        self.market.unsubscribe(sub_id)
        self.faults.stream_closed(sub_id)
        self._routes.pop(sub_id, None)

    # -- pacing ------------------------------------------------------------------------------

    async def _pace(self) -> None:
        """Send ``rate`` ticks per second in total, one batched write per session per slice.

        Credit accrues with the real elapsed time, so the average rate holds whatever the
        sleep jitter; it never sleeps per tick.
        """
        loop = asyncio.get_running_loop()
        credit = 0.0
        last = loop.time()
        burst_cap = max(1.0, self.rate * MAX_CATCH_UP_SECONDS)
        while True:
            if not self.market:
                self._streams_changed.clear()
                await self._streams_changed.wait()
                credit, last = 0.0, loop.time()
            await asyncio.sleep(SLICE_SECONDS)
            now = loop.time()
            credit = min(credit + self.rate * (now - last), burst_cap)
            last = now
            count = int(credit)
            if count:
                credit -= count
                self._emit(count)

    def burst(self, count: int) -> int:
        """Send ``count`` ticks at once, beyond the paced rate (the ``flood`` fault): each
        session gets its share in one write, however long the socket takes to drain it."""
        before = self.ticks_sent
        self._emit(count)
        return self.ticks_sent - before

    def _emit(self, count: int) -> None:
        batches: dict[Session, list[bytes]] = {}
        routes = self._routes
        dropped = 0
        muted = self.faults.muted
        for sub_id, event in self.market.next_ticks(count):
            if muted and sub_id in muted:
                continue  # fault injection: this instrument "stopped ticking"
            route = routes[sub_id]
            if not route.session.writable:
                dropped += 1
                continue
            chunks = batches.get(route.session)
            if chunks is None:
                chunks = batches[route.session] = []
            chunks.append(route.encoder.tick(event, delayed=route.delayed))
        for session, chunks in batches.items():
            session.write(b"".join(chunks))
            self.ticks_sent += len(chunks)
        self.ticks_dropped += dropped


class SimulatedGateway:
    """The simulated gateway on its own event loop in a daemon thread.

    ``start()`` returns once the listener accepts connections; ``port`` is then the bound port.
    ``stop()`` closes every connection and the listener and joins the thread; it is idempotent.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        rate: float = 50.0,
        seed: int = 1,
        max_server_version: int | None = None,
        catalogue: Catalogue | None = None,
        handshake_timeout: float = HANDSHAKE_TIMEOUT,
    ) -> None:
        self._host = host
        self._requested_port = port
        self._core = AsyncGateway(
            rate=rate,
            seed=seed,
            max_server_version=max_server_version,
            catalogue=catalogue,
            handshake_timeout=handshake_timeout,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopped = False

    @property
    def host(self) -> str:
        """The bound address."""
        return self._core.host or self._host

    @property
    def port(self) -> int:
        """The bound port; 0 before :meth:`start`."""
        return self._core.port

    @property
    def max_server_version(self) -> int:
        """The highest version this gateway negotiates."""
        return self._core.max_server_version

    @property
    def core(self) -> AsyncGateway:
        """The async core; touch it only from its loop, e.g. through :meth:`call`."""
        return self._core

    def start(self) -> "SimulatedGateway":
        """Start the loop thread and listen; raises what binding raised (e.g. port in use)."""
        with self._lock:
            if self._thread is not None or self._stopped:
                raise RuntimeError("SimulatedGateway can be started once")
            loop = asyncio.new_event_loop()
            ready = threading.Event()
            failure: list[BaseException] = []
            thread = threading.Thread(
                target=self._run, args=(loop, ready, failure), name="ibpub-sim", daemon=True
            )
            self._loop, self._thread = loop, thread
            thread.start()
        ready.wait()
        if failure:
            thread.join()
            raise failure[0]
        return self

    def _run(
        self, loop: asyncio.AbstractEventLoop, ready: threading.Event, failure: list[BaseException]
    ) -> None:
        asyncio.set_event_loop(loop)
        try:
            try:
                loop.run_until_complete(self._core.start(self._host, self._requested_port))
            except BaseException as exc:  # handed to the thread that called start()
                failure.append(exc)
                return
            finally:
                ready.set()
            loop.run_forever()
            loop.run_until_complete(self._core.aclose())
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    def call(self, fn: Callable[[AsyncGateway], T], timeout: float = 5.0) -> T:
        """Run ``fn(core)`` on the gateway's loop and return its result (thread-safe)."""
        loop = self._loop
        if loop is None or self._stopped:
            raise RuntimeError("SimulatedGateway is not running")

        async def invoke() -> T:
            return fn(self._core)

        return asyncio.run_coroutine_threadsafe(invoke(), loop).result(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """Close every connection and the listener, then join the thread (idempotent)."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self._core.aclose(), loop).result(timeout)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)

    def __enter__(self) -> "SimulatedGateway":
        if self._thread is None:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
