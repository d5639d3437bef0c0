"""The simulated IB Gateway: an asyncio TCP server speaking the TWS API socket protocol.

Three layers, outermost first:

* :class:`SimulatedGateway` runs everything on a private event loop in a daemon thread, for
  tests and for processes (like ``ibpub demo``) whose own main thread is busy;
* :class:`AsyncGateway` is the async-native core: the listener, the per-listener registry of
  client ids, the shared :class:`~publisher.sim.market.Market`, and the single pacing loop that
  spreads ``rate`` ticks per second over all streams in ~10 ms batches;
* :class:`~publisher.sim.session.Session` is one client connection: handshake, request
  handling, and the one method that writes to the socket, which is where fault injection hooks in.

The gateway is what a session sees as its :class:`~publisher.sim.session.SessionHost` and what
faults see as their :class:`~publisher.sim.faults.FaultTarget`; neither module imports this one.
"""

import asyncio
import contextlib
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, TypeVar

from publisher.sim.catalogue import Catalogue, Instrument
from publisher.sim.faults import Faults
from publisher.sim.kinds.limits import DataLimits
from publisher.sim.market import Market
from publisher.sim.protocol import MAX_SERVER_VERSION, MIN_SERVER_VERSION, Encoder, TickEvent
from publisher.sim.session import Session

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_ACCOUNT: Final = "DU1234567"
SLICE_SECONDS: Final = 0.010
"""The pacing loop's period: every slice sends what the rate allows, as one write per session."""
MAX_CATCH_UP_SECONDS: Final = 0.100
"""After a stall, at most this much backlog is sent at once; the rest is skipped."""
HANDSHAKE_TIMEOUT: Final = 10.0
IB_DEFAULT_LINES: Final = 100
"""The market-data lines an IB account has by default (``max_lines=IB_DEFAULT_LINES`` plays it).

Not the simulator's default: its harnesses and benchmarks stream hundreds of instruments, and in
front of it the publisher's own budget (``gateway.max_lines``) is what should refuse first; the
simulator enforces a limit only when given one."""
"""Seconds a connection gets to send ``API\\0`` and its version frame before it is closed."""
_SETTLE_TURNS: Final = 10
_CLOSE_TURNS: Final = 200


@dataclass(frozen=True, slots=True)
class _Route:
    """Where one market stream's ticks go."""

    session: "Session"
    encoder: Encoder
    delayed: bool


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
        max_lines: int | None = None,
        data_limits: DataLimits | None = None,
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
        if max_lines is not None and max_lines < 1:
            raise ValueError(f"max_lines must be >= 1 or None (no limit), not {max_lines}")
        self.rate = rate
        self.seed = seed
        self.max_server_version = version
        self.catalogue = catalogue if catalogue is not None else Catalogue.builtin()
        self.account = account
        self.clock = clock
        self.handshake_timeout = handshake_timeout
        """Seconds a new connection gets to complete the handshake (:data:`HANDSHAKE_TIMEOUT`)."""
        self.max_lines = max_lines
        """Live market-data streams allowed across all sessions, as IB counts an account's lines;
        a reqMktData beyond it gets error 101 and no stream. None: no limit."""
        self.market = Market(seed, clock=clock)
        self.data_limits = data_limits if data_limits is not None else DataLimits()
        """IB's limits on tick-by-tick (10190) and depth (309), and the real-time bar period."""
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

    def active_market_data(self) -> int:
        """Live market-data subscriptions across all sessions: the lines in use.

        Snapshots are not counted (they end at once); option streams are. Tests use it to prove
        that two holders of one instrument share one IB subscription.
        """
        return len(self._routes) + self._option_streams()

    def _option_streams(self) -> int:
        return sum(len(session.kinds.options) for session in self._sessions)

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
            "simulated gateway listening on %s:%d versions=%d..%d rate=%s seed=%d contracts=%d "
            "max_lines=%s",
            self._host,
            self._port,
            MIN_SERVER_VERSION,
            self.max_server_version,
            self.rate,
            self.seed,
            len(self.catalogue),
            self.max_lines,
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

    # -- used by sessions (publisher.sim.session.SessionHost) --------------------------------

    def _new_session(self) -> Session:
        session = Session(self, next(self._conn_ids))
        self._sessions.add(session)
        return session

    def session_closed(self, session: Session) -> None:
        """A session's connection is gone: forget it and release its client id."""
        self._sessions.discard(session)
        self.faults.session_closed(session)
        if session.client_id is not None and self._client_ids.get(session.client_id) is session:
            del self._client_ids[session.client_id]

    def claim_client_id(self, client_id: int, session: Session) -> bool:
        """Take ``client_id`` for ``session``; False if another session holds it (error 326)."""
        if client_id in self._client_ids:
            return False
        self._client_ids[client_id] = session
        return True

    def line_available(self) -> bool:
        """Whether one more market-data stream fits under :attr:`max_lines`."""
        return self.max_lines is None or self.active_market_data() < self.max_lines

    def feed_started(self) -> None:
        """Wake the pacing loop: a depth, tick-by-tick or bar walk may need to tick."""
        self._streams_changed.set()

    def open_stream(
        self, session: Session, req_id: int, instrument: Instrument, delayed: bool
    ) -> tuple[int, list[TickEvent]]:
        assert session.encoder is not None  # streams open after the handshake
        sub_id, ticks = self.market.subscribe(req_id, instrument)
        self._routes[sub_id] = _Route(session, session.encoder, delayed)
        self.faults.stream_opened(sub_id, session, req_id, instrument.spec)
        self._streams_changed.set()
        return sub_id, ticks

    def close_stream(self, sub_id: int) -> None:
        """Stop a stream: unsubscribe it from the market and forget its route."""
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
            if not self.market.ticking:
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
        max_lines: int | None = None,
        data_limits: DataLimits | None = None,
    ) -> None:
        self._host = host
        self._requested_port = port
        self._core = AsyncGateway(
            rate=rate,
            seed=seed,
            max_server_version=max_server_version,
            catalogue=catalogue,
            handshake_timeout=handshake_timeout,
            max_lines=max_lines,
            data_limits=data_limits,
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
