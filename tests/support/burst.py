"""A gateway that outruns its client: answers every request at once, sends a burst on demand.

The simulated gateway paces its ticks; to test a publisher that cannot keep up, this peer
writes a pre-generated :class:`~publisher.sim.burst.FrameSet` as fast as loopback TCP takes it,
as a real gateway replaying a backlog does. Each connection has a reader thread that answers
requests (handshake, startApi, contract details, market data, the ``reqCurrentTime`` probe) the
moment they arrive, and the burst goes out from a thread of its own in whole-frame chunks under
the same send lock, so a reply waits at most for one chunk to be taken by the socket: nothing a
test does (generating frames takes seconds on a slow machine) keeps a probe unanswered.
"""

import contextlib
import socket
import threading
from dataclasses import dataclass, field

from publisher.sim import Catalogue, Encoder
from publisher.sim.burst import FrameSet, chunks
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
from tests.support.waiting import wait_for

ACCOUNT = "DU1234567"
NO_SECURITY_DEFINITION = 200


@dataclass(eq=False)
class Peer:
    """One client connection: who it is and which market data it asked for."""

    sock: socket.socket
    max_version: int
    catalogue: Catalogue
    version: int | None = None
    client_id: int | None = None
    streams: dict[int, Instrument] = field(default_factory=dict)
    """Market-data request id -> instrument, in the order the requests arrived."""
    closed: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _sender: threading.Thread | None = None

    def send(self, data: bytes | memoryview) -> None:
        with self._lock:
            self.sock.sendall(data)

    def serve(self) -> None:
        """The reader thread: answer requests until the client goes."""
        inbox = FrameBuffer()
        greeted = False
        encoder: Encoder | None = None
        try:
            while data := self.sock.recv(65536):
                inbox.feed(data)
                if not greeted:
                    prefix = inbox.take_prefix(len(API_PREFIX))
                    if prefix is None:
                        continue
                    if prefix != API_PREFIX:
                        raise ProtocolError(f"expected API\\0, got {prefix!r}")
                    greeted = True
                while (payload := inbox.next_frame()) is not None:
                    if encoder is None:
                        self.version = negotiate(parse_hello(payload), self.max_version)
                        encoder = Encoder(self.version)
                        self.send(handshake_reply(self.version, format_connection_time(0)))
                    else:
                        self._answer(encoder, payload)
        except (OSError, ProtocolError):
            pass
        finally:
            self.closed = True

    def _answer(self, enc: Encoder, payload: bytes) -> None:
        assert self.version is not None
        request = parse_request(payload, self.version)
        if isinstance(request, StartApi):
            self.client_id = request.client_id
            self.send(enc.managed_accounts([ACCOUNT]) + enc.next_valid_id(1))
        elif isinstance(request, ReqContractDetails):
            matches = self.catalogue.match(request.contract)
            if not matches:
                self.send(enc.error(request.req_id, NO_SECURITY_DEFINITION, "no definition"))
                return
            frames = [enc.contract_data(request.req_id, m.spec) for m in matches]
            self.send(b"".join(frames) + enc.contract_data_end(request.req_id))
        elif isinstance(request, ReqMktData):
            matches = self.catalogue.match(request.contract)
            if len(matches) != 1:
                self.send(enc.error(request.req_id, NO_SECURITY_DEFINITION, "no definition"))
                return
            self.streams[request.req_id] = matches[0]
            self.send(enc.market_data_type(request.req_id, 1))
        elif isinstance(request, ReqCurrentTime):
            self.send(enc.current_time(1_767_268_800))
        elif isinstance(request, ReqIds):
            self.send(enc.next_valid_id(1))

    def burst(self, frames: FrameSet) -> None:
        """Send every frame of ``frames`` from a thread of its own (returns at once)."""

        def send_all() -> None:
            with contextlib.suppress(OSError):
                for view in chunks(frames, 0, frames.count):
                    self.send(view)

        assert self._sender is None, "one burst per connection"
        self._sender = threading.Thread(target=send_all, name="burst-sender", daemon=True)
        self._sender.start()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        if self._sender is not None:
            self._sender.join(10)


class BurstGateway:
    """Listens on a free loopback port; every connection is served by a :class:`Peer`."""

    def __init__(self, max_version: int) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._max_version = max_version
        self._catalogue = Catalogue.builtin()
        self.peers: list[Peer] = []
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, name="burst-accept", daemon=True)
        self._accepting.start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                sock, _ = self._listener.accept()
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                peer = Peer(sock, self._max_version, self._catalogue)
                self.peers.append(peer)
                thread = threading.Thread(target=peer.serve, name="burst-peer", daemon=True)
                self._threads.append(thread)
                thread.start()

    def wait_peer(self, client_id: int, streams: int) -> Peer:
        """The open connection of ``client_id`` once it has asked for ``streams`` streams."""

        def ready() -> Peer | None:
            for peer in self.peers:
                if not peer.closed and peer.client_id == client_id and len(peer.streams) >= streams:
                    return peer
            return None

        found: Peer = wait_for(ready, f"client {client_id} to subscribe {streams} streams")
        return found

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._listener.close()
        self._accepting.join(10)
        for peer in self.peers:
            peer.close()
        for thread in self._threads:
            thread.join(10)
