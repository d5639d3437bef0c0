"""Helpers for the simulator tests: a recording EWrapper, ibapi's own decode path,
ibapi's own request encoder, and a raw TWS socket client for wire-level checks."""

import itertools
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

from ibapi import comm
from ibapi.client import EClient
from ibapi.common import PROTOBUF_MSG_ID
from ibapi.contract import Contract
from ibapi.decoder import Decoder
from ibapi.protobuf.StartApiRequest_pb2 import StartApiRequest
from ibapi.wrapper import EWrapper

from publisher.sim import AsyncGateway, SimulatedGateway
from publisher.sim.protocol import FrameBuffer
from tests.support.waiting import DEADLINE as DEADLINE
from tests.support.waiting import wait_for

_client_ids = itertools.count(100)

_RECORDED = (
    "error",
    "nextValidId",
    "managedAccounts",
    "contractDetails",
    "contractDetailsEnd",
    "tickPrice",
    "tickSize",
    "tickPriceProtoBuf",
    "tickSizeProtoBuf",
    "tickString",
    "tickGeneric",
    "tickReqParams",
    "marketDataType",
    "tickSnapshotEnd",
    "currentTime",
    "positionEnd",
    "openOrderEnd",
    "completedOrdersEnd",
    "accountDownloadEnd",
    "accountUpdateMultiEnd",
    "execDetailsEnd",
    "connectionClosed",
    "tickByTickAllLast",
    "tickByTickBidAsk",
    "tickByTickMidPoint",
    "updateMktDepth",
    "updateMktDepthL2",
    "mktDepthExchanges",
    "realtimeBar",
    "tickOptionComputation",
)


class RecordingWrapper(EWrapper):  # type: ignore[misc]  # ibapi is untyped
    """An EWrapper that records ``(callback name, args)`` for every callback in ``_RECORDED``."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self._lock = threading.Lock()

    def record(self, name: str, args: tuple[Any, ...]) -> None:
        with self._lock:
            self.calls.append((name, args))

    def named(self, name: str) -> list[tuple[Any, ...]]:
        """The argument tuples of every recorded call to ``name``, in order."""
        with self._lock:
            return [args for called, args in self.calls if called == name]

    def errors(self) -> list[tuple[int, int, str]]:
        """``(reqId, code, message)`` of every error callback."""
        return [(a[0], a[2], a[3]) for a in self.named("error")]


def _recorder(name: str) -> Callable[..., None]:
    def method(self: RecordingWrapper, *args: Any) -> None:
        self.record(name, args)

    method.__name__ = name
    return method


for _name in _RECORDED:
    setattr(RecordingWrapper, _name, _recorder(_name))


def decode_frames(data: bytes, server_version: int, wrapper: EWrapper) -> list[int]:
    """Feed frames through ibapi's own Decoder exactly as ``EClient.run`` does; returns msgIds
    as they appear on the wire (protobuf ids above 200)."""
    decoder = Decoder(wrapper, server_version)
    buf = FrameBuffer()
    buf.feed(data)
    wire_ids: list[int] = []
    while (payload := buf.next_frame()) is not None:
        if server_version >= 201:
            msg_id = int.from_bytes(payload[:4], "big")
            text = payload[4:]
        else:
            head, _, text = payload.partition(b"\0")
            msg_id = int(head)
        wire_ids.append(msg_id)
        if msg_id > PROTOBUF_MSG_ID:
            decoder.processProtoBuf(text, msg_id - PROTOBUF_MSG_ID)
        else:
            decoder.interpret(comm.read_fields(text), msg_id)
    assert buf.pending == 0, "trailing partial frame"
    return wire_ids


class _CapturingConnection:
    """Stands in for ibapi's ``Connection`` so EClient's requests can be captured as bytes."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def isConnected(self) -> bool:
        return True

    def sendMsg(self, msg: bytes) -> int:
        self.sent.append(msg)
        return len(msg)


def ibapi_request(server_version: int, call: Callable[[EClient], None]) -> bytes:
    """The payload (length prefix removed) ibapi's EClient sends for ``call`` at a version."""
    client = EClient(EWrapper())
    conn = _CapturingConnection()
    client.conn = conn
    client.serverVersion_ = server_version
    client.clientId = 5
    client.setConnState(EClient.CONNECTED)
    call(client)
    assert len(conn.sent) == 1, conn.sent
    frame = conn.sent[0]
    (size,) = struct.unpack(">I", frame[:4])
    assert size == len(frame) - 4
    return frame[4:]


class RawClient:
    """A minimal TWS client on a plain socket, for checking bytes on the wire."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
        self.buffer = FrameBuffer()
        self.version = 0

    def close(self) -> None:
        self.sock.close()

    def send_hello(self, versions: str = "v100..226") -> None:
        self.sock.sendall(b"API\0" + comm.make_initial_msg(versions))

    def handshake(self, versions: str = "v100..226") -> tuple[int, str]:
        """Send the version range; return the negotiated version and the connection time."""
        self.send_hello(versions)
        fields = self.next_frame().split(b"\0")
        assert len(fields) == 3 and fields[2] == b"", fields
        self.version = int(fields[0])
        return self.version, fields[1].decode()

    def start_api(self, client_id: int) -> None:
        if self.version >= 213:
            body = StartApiRequest(clientId=client_id).SerializeToString()
            self.sock.sendall(comm.make_msg_proto(71 + PROTOBUF_MSG_ID, body))
        else:
            text = comm.make_field(2) + comm.make_field(client_id) + comm.make_field("")
            self.sock.sendall(comm.make_msg(71, self.version >= 201, text))

    def send_payload(self, payload: bytes) -> None:
        self.sock.sendall(struct.pack(">I", len(payload)) + payload)

    def next_frame(self, timeout: float = DEADLINE) -> bytes:
        """The next frame's payload; fails if none arrives in time."""
        deadline = time.monotonic() + timeout
        while (payload := self.buffer.next_frame()) is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("no frame arrived in time")
            self.sock.settimeout(remaining)
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("server closed the connection")
            self.buffer.feed(data)
        return payload

    def read_until_closed(self, timeout: float = DEADLINE) -> bytes:
        """Everything the server sends until it closes the socket."""
        deadline = time.monotonic() + timeout
        chunks: list[bytes] = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("server did not close the connection")
            self.sock.settimeout(remaining)
            data = self.sock.recv(65536)
            if not data:
                return b"".join(chunks)
            chunks.append(data)

    def nothing_arrives_within(self, seconds: float) -> bool:
        """True if no byte arrives for ``seconds`` (used only to prove silence)."""
        self.sock.settimeout(seconds)
        try:
            data = self.sock.recv(1)
        except TimeoutError:
            return True
        if data:
            self.buffer.feed(data)
        return False


class App:
    """An unmodified EClient with a recording wrapper, its message loop on a thread."""

    def __init__(self, gateway: "SimulatedGateway") -> None:
        self.gateway = gateway
        self.client_id = next(_client_ids)
        self.wrapper = RecordingWrapper()
        self.client = EClient(self.wrapper)
        self.client.connect("127.0.0.1", gateway.port, self.client_id)
        self.thread = threading.Thread(target=self.client.run, name="ibapi-run", daemon=True)
        self.thread.start()
        wait_for(lambda: self.wrapper.named("nextValidId"), "nextValidId")

    def close(self) -> None:
        """Hang up from the gateway's side, then let ``run`` drain and disconnect itself.

        ``EClient.disconnect()`` from another thread while ticks are queued races ``run``
        (it resets the server version under the decoder), so the gateway ends the session.
        """
        client_id = self.client_id

        def close_sessions(core: AsyncGateway) -> None:
            for session in core.sessions:
                if session.client_id == client_id:
                    session.close()

        self.gateway.call(close_sessions)
        self.thread.join(DEADLINE)
        assert not self.thread.is_alive(), "EClient.run did not finish"


def ibapi_contract(symbol: str, sec_type: str, exchange: str, expiry: str = "") -> Contract:
    """An ibapi Contract in USD; ``expiry`` is lastTradeDateOrContractMonth."""
    contract = Contract()
    contract.symbol, contract.secType, contract.exchange = symbol, sec_type, exchange
    contract.currency = "USD"
    contract.lastTradeDateOrContractMonth = expiry
    return contract
