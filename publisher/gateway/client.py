"""ibapi's ``EClient`` on our own non-blocking connection: no EReader thread, no queue.

``EClient`` keeps doing what it does well (encoding every request for the negotiated server
version); we replace only how bytes come in. The service's poll loop calls
:meth:`GatewayClient.on_writable` while the TCP connect is in progress and
:meth:`GatewayClient.on_readable` whenever the socket has data; each call reads at most one
bounded chunk and hands the complete frames to ibapi's own ``Decoder`` on the calling thread.
"""

import errno
import fcntl
import logging
import socket
import sys
import termios
import time
from collections.abc import Callable
from enum import Enum
from typing import Any, Final, Protocol

from ibapi import comm
from ibapi.client import EClient
from ibapi.decoder import Decoder
from ibapi.server_versions import MAX_CLIENT_VER, MIN_CLIENT_VER

from publisher.errors import GatewayError
from publisher.gateway.adapter import TickSink
from publisher.gateway.fastpath import TickFastPath
from publisher.gateway.framing import FrameBuffer, split_message

log = logging.getLogger(__name__)

READ_CHUNK: Final = 65536
PROTOBUF_MSG_ID: Final = 200


class Phase(Enum):
    """Where one connection attempt stands."""

    CONNECTING = "connecting"  # TCP connect in progress
    HANDSHAKE = "handshake"  # version sent, waiting for the server's version reply
    OPEN = "open"  # handshake done, startApi sent; requests may be sent
    CLOSED = "closed"


class GatewayClosedError(GatewayError):
    """The gateway closed the socket or it failed; carries the reason for status messages."""


class FrameDecodeError(GatewayError):
    """ibapi's decoder raised on one frame; the framing itself is intact."""

    def __init__(self, msg_id: int, payload: bytes, cause: BaseException) -> None:
        super().__init__(f"message id {msg_id}: {cause!r}")
        self.msg_id = msg_id
        self.payload = payload
        self.cause = cause


def _unread(sock: socket.socket) -> int:
    """Bytes waiting in a socket's receive buffer (FIONREAD)."""
    try:
        raw = fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0")
    except OSError:
        return 0
    return int.from_bytes(raw, sys.byteorder, signed=True)


class TickHandler(TickSink, Protocol):
    """The tick path as the read loop sees it: the tick callbacks, and a flush after each read
    (:class:`publisher.core.tickpath.TickPath` batches its counter updates per read)."""

    def flush(self) -> None: ...


class _SocketConnection:
    """The duck-typed ``ibapi.connection.Connection`` that ``EClient`` sends requests through."""

    def __init__(self, sock: socket.socket) -> None:
        self.socket: socket.socket | None = sock

    def isConnected(self) -> bool:
        return self.socket is not None

    def sendMsg(self, msg: bytes) -> int:
        if self.socket is None:
            return 0
        # Requests are small and rare; a short blocking send keeps their bytes in order.
        self.socket.settimeout(5.0)
        try:
            self.socket.sendall(msg)
        finally:
            self.socket.setblocking(False)
        return len(msg)

    def disconnect(self) -> None:
        if self.socket is not None:
            self.socket.close()
            self.socket = None


class GatewayClient(EClient):  # type: ignore[misc]  # ibapi is untyped
    """One connection attempt to a TWS/IB Gateway, driven by the caller's poll loop."""

    def __init__(
        self,
        wrapper: Any,
        *,
        on_frames_read: Callable[[int], None] | None = None,
        decode_error: Callable[[FrameDecodeError], None] | None = None,
        ticks: TickHandler | None = None,
        on_backlog: Callable[[bool], None] | None = None,
    ) -> None:
        super().__init__(wrapper)
        self.phase = Phase.CLOSED
        self._sock: socket.socket | None = None
        self._frames = FrameBuffer()
        self._on_frames_read = on_frames_read
        self._decode_error = decode_error
        self._ticks = ticks
        """The tick path the wrapper feeds too: the fast path decodes tickPrice/tickSize
        straight into it, and it is flushed after every read."""
        self._fast: Callable[[bytes], bool] | None = None
        self._on_backlog = on_backlog
        """Told after every read whether more data was waiting once it was decoded (False:
        the socket was empty; see :mod:`publisher.gateway.backlog`)."""
        self.more_waiting = False
        """Whether data was waiting in the socket once the last read was decoded (FIONREAD).
        If not, the caller goes back to polling rather than spend a system call that fails."""
        self.last_read_ns = 0
        """Wall-clock ns when the chunk being decoded was read from the socket (``ts_recv``)."""

    # -- connection --------------------------------------------------------------------------

    def begin_connect(self, host: str, port: int, client_id: int) -> None:
        """Start a non-blocking TCP connect; completion is signalled by :meth:`on_writable`."""
        self.host, self.port, self.clientId = host, port, client_id
        infos = socket.getaddrinfo(host or "127.0.0.1", port, type=socket.SOCK_STREAM)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        code = sock.connect_ex(address)
        if code not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
            sock.close()
            reason = errno.errorcode.get(code, str(code))
            raise GatewayClosedError(f"connect to {host}:{port} failed: {reason}")
        self._sock = sock
        self.conn = _SocketConnection(sock)
        self.setConnState(EClient.CONNECTING)
        self.phase = Phase.CONNECTING

    def fileno(self) -> int:
        """The socket's descriptor, for the caller's poller."""
        if self._sock is None:
            return -1
        return self._sock.fileno()

    def on_writable(self) -> None:
        """The TCP connect finished (or failed): send the API version range."""
        assert self._sock is not None
        code = self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code != 0:
            self.close()
            raise GatewayClosedError(
                f"connect to {self.host}:{self.port} failed: {errno.errorcode.get(code, code)}"
            )
        hello = b"API\0" + comm.make_initial_msg(f"v{MIN_CLIENT_VER}..{MAX_CLIENT_VER}")
        self.conn.sendMsg(hello)
        self.phase = Phase.HANDSHAKE

    def on_readable(self, max_bytes: int = READ_CHUNK) -> int:
        """Read one bounded chunk and decode every complete frame in it; returns frames decoded.

        Raises :class:`GatewayClosedError` when the gateway closed or reset the connection, and
        :class:`publisher.gateway.framing.FramingError` when the stream cannot be framed.
        """
        sock = self._sock
        if sock is None:
            raise GatewayClosedError("not connected")
        view = self._frames.writable(max_bytes)
        try:
            count = sock.recv_into(view, max_bytes)
        except BlockingIOError:
            self.more_waiting = False
            if self._on_backlog is not None:
                self._on_backlog(False)  # caught up: the socket is empty
            return 0
        except OSError as exc:
            self.close()
            raise GatewayClosedError(f"connection to the gateway failed: {exc}") from exc
        finally:
            view.release()
        if count == 0:
            self.close()
            raise GatewayClosedError("the gateway closed the connection")
        self.last_read_ns = time.time_ns()
        self._frames.commit(count)
        decoded = 0
        try:
            for payload in self._frames.take():
                decoded += 1
                if self.phase is Phase.HANDSHAKE:
                    self._on_handshake(payload)
                else:
                    self._dispatch(payload)
                if self._sock is None:  # a callback closed the connection
                    break
            else:
                self._frames.raise_if_broken()  # a bad length after good frames
        finally:
            if self._ticks is not None:
                self._ticks.flush()
        if decoded and self._on_frames_read is not None:
            self._on_frames_read(decoded)
        # Data that arrived while this read was being decoded: if there is some after every
        # read, the gateway sends at least as fast as we read (publisher.gateway.backlog).
        more = self._sock is not None and _unread(self._sock) > 0
        self.more_waiting = more
        if self._on_backlog is not None:
            self._on_backlog(more)
        return decoded

    def backlog_bytes(self) -> int:
        """Bytes the gateway sent that are not decoded yet: the kernel's receive buffer plus a
        partial frame here (see :mod:`publisher.gateway.backlog`)."""
        sock = self._sock  # read once: the scrape thread calls this while the loop runs
        if sock is None:
            return 0
        return _unread(sock) + self._frames.pending

    def _on_handshake(self, payload: bytes) -> None:
        fields = comm.read_fields(payload)
        if len(fields) != 2:
            # ibapi ignores anything before the 2-field version reply; so do we.
            return
        self.serverVersion_ = int(fields[0])
        self.connTime = fields[1]
        self.decoder = Decoder(self.wrapper, self.serverVersion_)
        self.setConnState(EClient.CONNECTED)
        self.phase = Phase.OPEN
        log.info(
            "gateway handshake done",
            extra={"server_version": self.serverVersion_, "conn_time": self.connTime},
        )
        self.startApi()

    def _dispatch(self, payload: bytes) -> None:
        msg_id = 0
        try:
            fast = self._fast
            if fast is None:
                fast = self._fast = self._fast_path()
            if fast(payload):
                return
            msg_id, body = split_message(payload, self.serverVersion_)
            if msg_id > PROTOBUF_MSG_ID:
                self.decoder.processProtoBuf(body, msg_id - PROTOBUF_MSG_ID)
            else:
                self.decoder.interpret(tuple(body.split(b"\0")[:-1]), msg_id)
        except Exception as exc:  # ibapi raises many kinds on bad input; none may stop the loop
            if self._decode_error is None:
                raise
            self._decode_error(FrameDecodeError(msg_id, payload, exc))

    def _fast_path(self) -> Callable[[bytes], bool]:
        """The tickPrice/tickSize decoder for this connection's server version (or none)."""
        if self._ticks is None:
            return lambda payload: False
        return TickFastPath(self._ticks, self.serverVersion_).decode

    def close(self) -> None:
        """Close the socket; safe to call more than once."""
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None
        if self.conn is not None:
            self.conn.socket = None
        self.setConnState(EClient.DISCONNECTED)
        self.phase = Phase.CLOSED
