"""The benchmark's gateway: serves pre-generated frames over loopback TCP after a real handshake.

It runs in its own process (:func:`serve`), single-threaded around one ``selectors`` loop, and
speaks just enough of the TWS API (through the simulator's protocol module) for both clients:
the handshake, startApi, contract details from the simulator's catalogue (widened with
synthetic stocks on :class:`Widen`), reqMktData (whose
request ids the frames then carry), reqCurrentTime (the publisher's liveness probe), reqIds.

Tick frames are sent on command from the benchmark, either as one burst (everything queued at
once and written as fast as the socket takes it) or paced: every :data:`SLICE_SECONDS` the
frames due by then go out in one ``send``. Replies to requests are written ahead of tick data
not yet handed to the kernel (at a frame boundary), so a probe answer is delayed only by what
already sits in the socket buffers, as with a gateway that has its own reply queue.
"""

import contextlib
import selectors
import socket
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Final

from bench import depth_frames
from bench.universe import synthetic_stocks
from publisher.sim import Catalogue, Encoder
from publisher.sim.burst import FrameSet, chunks, generate
from publisher.sim.catalogue import Instrument
from publisher.sim.protocol import (
    API_PREFIX,
    FrameBuffer,
    ProtocolError,
    ReqContractDetails,
    ReqCurrentTime,
    ReqIds,
    ReqMktData,
    StartApi,
    format_connection_time,
    handshake_reply,
    negotiate,
    parse_hello,
    parse_request,
)

SLICE_SECONDS: Final = 0.001
"""Paced sending, by default: frames due are written once per millisecond (10 a write at 10k/s)."""
FINE_SLEEP: Final = 0.001
"""With ``Paced.slice_seconds`` below a millisecond the loop sleeps (``select`` cannot time
finer) at most this long between writes: frames leave one by one as they fall due."""
ACCOUNT: Final = "DU1234567"
NO_SECURITY_DEFINITION: Final = 200


# -- commands and replies (pickled over the control pipe) ------------------------------------


@dataclass(frozen=True, slots=True)
class Prepare:
    """Generate ``count`` frames for the streams one session subscribed (any session may be
    sent them afterwards: the stock client gets the very frames the publisher got)."""

    session: int
    count: int
    seed: int
    kind: str = "l1"
    """``"depth"``: depth frames over the session's depth requests (:mod:`bench.depth_frames`)."""


@dataclass(frozen=True, slots=True)
class Burst:
    """Queue frames ``0 .. count-1`` to one session at once."""

    session: int
    count: int


@dataclass(frozen=True, slots=True)
class Paced:
    """Send ``frames`` frames to one session at ``rate`` per second, from frame ``start`` (the
    frame set is cycled through)."""

    session: int
    rate: float
    frames: int
    start: int = 0
    slice_seconds: float = SLICE_SECONDS
    """How often due frames are written; 0 writes each frame as it falls due."""


@dataclass(frozen=True, slots=True)
class Widen:
    """Serve ``count`` more contracts (:func:`bench.universe.synthetic_stocks`) to clients that
    connect from now on; the reply is how many contracts the feeder then knows."""

    count: int


@dataclass(frozen=True, slots=True)
class Status:
    """Ask for the connected sessions."""


@dataclass(frozen=True, slots=True)
class Stop:
    """Close everything and exit."""


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """One connected client as the feeder sees it."""

    session: int
    client_id: int | None
    version: int | None
    streams: tuple[int, ...]
    """Market-data request ids, in the order they arrived."""
    depth_streams: tuple[int, ...] = ()
    """Market-depth request ids, in the order they arrived."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """The frames generated: ``callbacks`` is :attr:`publisher.sim.burst.FrameSet.callbacks`."""

    count: int
    bytes: int
    callbacks: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Sent:
    """What one burst or paced run sent; times are ``time.time_ns()``."""

    frames: int
    callbacks: int
    started_ns: int
    scheduled_end_ns: int
    """When the last frame was due (paced) or queued (burst)."""
    finished_ns: int
    """When the feeder had queued every frame (it goes on writing what the socket refused)."""
    unwritten_bytes: int
    """Tick bytes still waiting in the feeder at ``finished_ns``."""
    max_queued_bytes: int
    """Most tick bytes waiting in the feeder because the socket would not take them."""


Command = Prepare | Burst | Paced | Status | Stop | Widen


# -- one client connection --------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class _Session:
    ident: int
    sock: socket.socket
    max_version: int
    catalogue: Catalogue
    inbox: FrameBuffer = field(default_factory=FrameBuffer)
    greeted: bool = False
    version: int | None = None
    encoder: Encoder | None = None
    client_id: int | None = None
    streams: dict[int, Instrument] = field(default_factory=dict)
    """Market-data request id -> instrument, in the order the requests arrived."""
    depth_streams: list[int] = field(default_factory=list)
    replies: deque[bytes] = field(default_factory=deque)
    data: deque[memoryview] = field(default_factory=deque)
    queued: int = 0
    """Tick bytes in ``data``."""
    head_started: bool = False
    """Part of ``data[0]`` is already written: replies must wait for the frame boundary."""

    def info(self) -> SessionInfo:
        return SessionInfo(
            self.ident,
            self.client_id,
            self.version,
            tuple(self.streams),
            tuple(self.depth_streams),
        )

    def on_bytes(self, data: bytes) -> None:
        self.inbox.feed(data)
        if not self.greeted:
            prefix = self.inbox.take_prefix(len(API_PREFIX))
            if prefix is None:
                return
            if prefix != API_PREFIX:
                raise ProtocolError(f"expected API\\0, got {prefix!r}")
            self.greeted = True
        while (payload := self.inbox.next_frame()) is not None:
            if self.version is None:
                self.version = negotiate(parse_hello(payload), self.max_version)
                self.encoder = Encoder(self.version)
                self.replies.append(handshake_reply(self.version, format_connection_time(0)))
            else:
                self._request(payload)

    def _request(self, payload: bytes) -> None:
        assert self.version is not None and self.encoder is not None
        enc = self.encoder
        depth_id = depth_frames.depth_request_id(payload, self.version)
        if depth_id is not None:
            self.depth_streams.append(depth_id)
            return
        request = parse_request(payload, self.version)
        if isinstance(request, StartApi):
            self.client_id = request.client_id
            self.replies.append(enc.managed_accounts([ACCOUNT]) + enc.next_valid_id(1))
        elif isinstance(request, ReqContractDetails):
            matches = self.catalogue.match(request.contract)
            if not matches:
                self.replies.append(
                    enc.error(request.req_id, NO_SECURITY_DEFINITION, "no security definition")
                )
                return
            frames = [enc.contract_data(request.req_id, m.spec) for m in matches]
            self.replies.append(b"".join(frames) + enc.contract_data_end(request.req_id))
        elif isinstance(request, ReqMktData):
            matches = self.catalogue.match(request.contract)
            if len(matches) != 1:
                self.replies.append(
                    enc.error(request.req_id, NO_SECURITY_DEFINITION, "no security definition")
                )
                return
            self.streams[request.req_id] = matches[0]
            self.replies.append(enc.market_data_type(request.req_id, 1))
        elif isinstance(request, ReqCurrentTime):
            self.replies.append(enc.current_time(int(time.time())))
        elif isinstance(request, ReqIds):
            self.replies.append(enc.next_valid_id(1))

    def queue(self, view: memoryview) -> None:
        self.data.append(view)
        self.queued += len(view)

    def flush(self) -> bool:
        """Write what the socket takes; True when everything queued has been written."""
        sock = self.sock
        try:
            while True:
                if self.replies and not self.head_started:
                    reply = self.replies[0]
                    sent = sock.send(reply)
                    if sent < len(reply):
                        self.replies[0] = reply[sent:]
                        return False
                    self.replies.popleft()
                    continue
                if not self.data:
                    return True
                head = self.data[0]
                sent = sock.send(head)
                self.queued -= sent
                if sent < len(head):
                    self.data[0] = head[sent:]
                    self.head_started = True
                    return False
                self.data.popleft()
                self.head_started = False
        except BlockingIOError:
            return False


# -- sending plans ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Run:
    """One burst or paced run in progress."""

    session: _Session
    frames: FrameSet
    rate: float  # 0 for a burst
    slice_seconds: float
    total: int
    started_ns: int
    until_ns: int
    position: int  # next frame index (wraps around the frame set)
    sent: int = 0
    callbacks: int = 0
    max_queued: int = 0
    scheduled_end_ns: int = 0

    def due(self, now_ns: int) -> int:
        """Frames due by ``now_ns`` and not yet queued."""
        if now_ns >= self.until_ns:
            return self.total - self.sent
        return max(
            0, min(self.total, int((now_ns - self.started_ns) * self.rate / 1e9)) - self.sent
        )

    def next_due_in(self, now_ns: int) -> float:
        """Seconds until the next frame falls due (0 if one is due)."""
        due_ns = self.started_ns + (self.sent + 1) * 1e9 / self.rate
        return max(0.0, (due_ns - now_ns) / 1e9)

    def take(self, count: int) -> None:
        frames = self.frames
        while count > 0:
            stop = min(frames.count, self.position + count)
            for view in chunks(frames, self.position, stop):
                self.session.queue(view)
            self.callbacks += frames.callbacks_between(self.position, stop)
            taken = stop - self.position
            self.sent += taken
            count -= taken
            self.position = stop % frames.count
        self.max_queued = max(self.max_queued, self.session.queued)


# -- the process -----------------------------------------------------------------------------


class Feeder:
    """The loop: accept clients, answer their requests, run the benchmark's send commands."""

    def __init__(self, control: Connection, max_version: int) -> None:
        self._control = control
        self._max_version = max_version
        self._catalogue = Catalogue.builtin()
        self._selector = selectors.DefaultSelector()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.setblocking(False)
        self._selector.register(self._listener, selectors.EVENT_READ, "accept")
        self._selector.register(control, selectors.EVENT_READ, "control")
        self._sessions: dict[int, _Session] = {}
        self._next_ident = 1
        self._frames: FrameSet | None = None
        self._run: _Run | None = None
        self._stopping = False

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def loop(self) -> None:
        try:
            while not self._stopping:
                run = self._run
                fine = run is not None and run.rate > 0 and run.slice_seconds < SLICE_SECONDS
                ready = self._selector.select(0 if fine else self._timeout())
                for key, events in ready:
                    self._on_event(key, events)
                self._advance_run()
                run = self._run
                if fine and run is not None and not ready:
                    time.sleep(min(FINE_SLEEP, run.next_due_in(time.time_ns())))
        finally:
            for session in list(self._sessions.values()):
                self._drop(session)
            self._selector.close()
            self._listener.close()

    def _timeout(self) -> float | None:
        run = self._run
        if run is None:
            return 1.0
        if run.rate == 0:
            return 1.0  # a burst advances on writability
        return run.slice_seconds

    def _on_event(self, key: selectors.SelectorKey, events: int) -> None:
        if key.data == "accept":
            sock, _ = self._listener.accept()
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            session = _Session(self._next_ident, sock, self._max_version, self._catalogue)
            self._next_ident += 1
            self._sessions[session.ident] = session
            self._selector.register(sock, selectors.EVENT_READ, session)
        elif key.data == "control":
            self._command(self._control.recv())
        else:
            session = key.data
            assert isinstance(session, _Session)
            if events & selectors.EVENT_READ:
                self._read(session)
            if events & selectors.EVENT_WRITE and session.ident in self._sessions:
                self._write(session)

    def _read(self, session: _Session) -> None:
        try:
            data = session.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(session)
            return
        try:
            session.on_bytes(data)
        except ProtocolError:
            self._drop(session)
            return
        self._write(session)

    def _write(self, session: _Session) -> None:
        try:
            done = session.flush()
        except OSError:
            self._drop(session)
            return
        mask = selectors.EVENT_READ | (0 if done else selectors.EVENT_WRITE)
        self._selector.modify(session.sock, mask, session)

    def _drop(self, session: _Session) -> None:
        self._sessions.pop(session.ident, None)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(session.sock)
        session.sock.close()
        if self._run is not None and self._run.session is session:
            self._finish_run()

    def _command(self, command: Command) -> None:
        if isinstance(command, Status):
            self._control.send([s.info() for s in self._sessions.values()])
        elif isinstance(command, Prepare) and command.kind == "depth":
            books = self._sessions[command.session].depth_streams
            self._frames = depth_frames.generate(
                self._max_version, books, command.count, command.seed
            )
            frames = self._frames
            self._control.send(Prepared(frames.count, len(frames.blob), frames.callbacks))
        elif isinstance(command, Prepare):
            streams = self._sessions[command.session].streams
            self._frames = generate(
                self._max_version,
                list(streams),
                list(streams.values()),
                command.count,
                command.seed,
            )
            frames = self._frames
            self._control.send(Prepared(frames.count, len(frames.blob), frames.callbacks))
        elif isinstance(command, Burst | Paced):
            self._start_run(command)
        elif isinstance(command, Stop):
            self._stopping = True
        elif isinstance(command, Widen):
            self._catalogue = Catalogue.builtin().merged(synthetic_stocks(command.count))
            self._control.send(len(self._catalogue))

    def _start_run(self, command: Burst | Paced) -> None:
        session = self._sessions.get(command.session)
        assert self._frames is not None, "Prepare first"
        assert session is not None, f"no session {command.session}"
        assert self._run is None, "one run at a time"
        now = time.time_ns()
        if isinstance(command, Burst):
            run = _Run(session, self._frames, 0.0, 0.0, command.count, now, now, 0)
            self._run = run
            run.take(command.count)
            run.scheduled_end_ns = time.time_ns()
            self._write(session)
            self._finish_run()
        else:
            until = now + int(command.frames / command.rate * 1e9)
            self._run = _Run(
                session,
                self._frames,
                command.rate,
                command.slice_seconds,
                command.frames,
                now,
                until,
                command.start,
            )
            self._run.scheduled_end_ns = until
            self._advance_run()

    def _advance_run(self) -> None:
        run = self._run
        if run is None or run.rate == 0:
            return
        now = time.time_ns()
        due = run.due(now)
        if due:
            run.take(due)
            self._write(run.session)
        if run.sent >= run.total:
            self._finish_run()

    def _finish_run(self) -> None:
        run = self._run
        if run is None:
            return
        self._run = None
        self._control.send(
            Sent(
                frames=run.sent,
                callbacks=run.callbacks,
                started_ns=run.started_ns,
                scheduled_end_ns=run.scheduled_end_ns,
                finished_ns=time.time_ns(),
                unwritten_bytes=run.session.queued,
                max_queued_bytes=run.max_queued,
            )
        )


def serve(control: Connection, max_version: int) -> None:
    """The feeder process's entry point: report the port, then loop until :class:`Stop`."""
    feeder = Feeder(control, max_version)
    control.send(feeder.port)
    feeder.loop()
