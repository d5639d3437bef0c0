"""The recording proxy: TWS API clients connect here, every byte goes on to the gateway and back,
and both directions are written to a tap file (:mod:`publisher.tap.fileformat`) as they pass.

One asyncio loop; one session per client connection, numbered from 1. A client that connects
while the gateway is down is closed (and logged); the proxy stays up. Progress (bytes and frames
each way) is printed to stderr every ``progress_every`` seconds and when a session ends.
"""

import asyncio
import contextlib
import itertools
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO, Final, TextIO

from publisher.tap.fileformat import CLIENT, CLOSE, OPEN, SERVER, Record, TapWriter

READ_SIZE: Final = 65536
API_PREFIX: Final = b"API\0"


@dataclass(slots=True)
class FrameCounter:
    """Counts length-prefixed frames in a byte stream fed in arbitrary chunks."""

    skip: int = 0
    """Raw bytes to pass over first (the client's ``API\\0``)."""
    frames: int = 0
    total: int = 0
    _pending: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> None:
        """Account for ``data``, the next bytes of the stream."""
        self.total += len(data)
        buf = self._pending
        buf += data
        if self.skip:
            taken = min(self.skip, len(buf))
            del buf[:taken]
            self.skip -= taken
        offset = 0
        while len(buf) - offset >= 4:
            size = int.from_bytes(buf[offset : offset + 4], "big")
            if len(buf) - offset - 4 < size:
                break
            offset += 4 + size
            self.frames += 1
        del buf[:offset]


@dataclass(slots=True)
class TapSession:
    """One client connection through the proxy."""

    number: int
    peer: str
    client: FrameCounter = field(default_factory=lambda: FrameCounter(skip=len(API_PREFIX)))
    server: FrameCounter = field(default_factory=FrameCounter)

    def progress(self) -> str:
        """``session N peer: client->gateway B bytes F frames, gateway->client ...``."""
        return (
            f"session {self.number} {self.peer}: client->gateway {self.client.total} bytes "
            f"{self.client.frames} frames, gateway->client {self.server.total} bytes "
            f"{self.server.frames} frames"
        )


class TapProxy:
    """Listen, forward to the gateway, record both ways; :meth:`serve` runs until :meth:`stop`."""

    def __init__(
        self,
        listen: tuple[str, int],
        gateway: tuple[str, int],
        out: BinaryIO,
        *,
        progress: TextIO = sys.stderr,
        progress_every: float = 5.0,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.listen = listen
        self.gateway = gateway
        self.writer = TapWriter(out)
        self._progress = progress
        self._progress_every = progress_every
        self._clock_ns = clock_ns
        self._numbers = itertools.count(1)
        self._sessions: dict[int, TapSession] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._stop = asyncio.Event()
        self.port = 0
        """The bound port (after :meth:`serve` has started listening)."""
        self.sessions_seen = 0

    def stop(self) -> None:
        """Ask :meth:`serve` to close every session, flush the file and return."""
        self._stop.set()

    def say(self, text: str) -> None:
        print(f"ibpub tap: {text}", file=self._progress, flush=True)

    async def serve(self, ready: Callable[[], None] | None = None) -> None:
        """Listen until :meth:`stop`; every record is flushed before this returns."""
        server = await asyncio.start_server(self._accept, self.listen[0], self.listen[1])
        self.port = int(server.sockets[0].getsockname()[1])
        self.say(
            f"listening on {self.listen[0]}:{self.port}, forwarding to "
            f"{self.gateway[0]}:{self.gateway[1]}"
        )
        if ready is not None:
            ready()
        reporter = asyncio.get_running_loop().create_task(self._report())
        try:
            await self._stop.wait()
        finally:
            reporter.cancel()
            server.close()
            for task in list(self._tasks):
                task.cancel()
            for task in list(self._tasks):
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await server.wait_closed()
            self.writer.flush()
            self.say(
                f"stopped: {self.sessions_seen} sessions, {self.writer.records} records, "
                f"{self.writer.bytes_written} bytes written"
            )

    async def _report(self) -> None:
        while True:
            await asyncio.sleep(self._progress_every)
            for session in list(self._sessions.values()):
                self.say(session.progress())

    def _record(self, kind: int, session: int, data: bytes) -> None:
        self.writer.write(Record(kind, session, self._clock_ns(), data))
        self.writer.flush()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None  # a connection callback runs as a task
        self._tasks.add(task)
        try:
            await self._session(reader, writer)
        finally:
            self._tasks.discard(task)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer_info = writer.get_extra_info("peername")
        peer = f"{peer_info[0]}:{peer_info[1]}" if isinstance(peer_info, tuple) else "?"
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.gateway)
        except OSError as exc:
            self.say(f"client {peer}: gateway {self.gateway[0]}:{self.gateway[1]} refused: {exc}")
            writer.close()
            return
        number = next(self._numbers)
        self.sessions_seen += 1
        session = TapSession(number, peer)
        self._sessions[number] = session
        self._record(OPEN, number, f"{peer} -> {self.gateway[0]}:{self.gateway[1]}".encode())
        self.say(f"session {number} opened from {peer}")
        loop = asyncio.get_running_loop()
        upstream = loop.create_task(self._pump(reader, up_writer, number, CLIENT, session.client))
        downstream = loop.create_task(self._pump(up_reader, writer, number, SERVER, session.server))
        closer = "proxy"
        try:
            done, _ = await asyncio.wait(
                {upstream, downstream}, return_when=asyncio.FIRST_COMPLETED
            )
            closer = "client" if upstream in done else "gateway"
        finally:
            for task in (upstream, downstream):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, OSError):
                    await task
            for side in (writer, up_writer):
                side.close()
            self._record(CLOSE, number, closer.encode())
            del self._sessions[number]
            self.say(f"{session.progress()}; closed by {closer}")

    async def _pump(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        number: int,
        kind: int,
        counter: FrameCounter,
    ) -> None:
        while True:
            try:
                data = await source.read(READ_SIZE)
            except OSError:
                return
            if not data:
                return
            self._record(kind, number, data)
            counter.feed(data)
            sink.write(data)
            try:
                await sink.drain()
            except OSError:
                return
