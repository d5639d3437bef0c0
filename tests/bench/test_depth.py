"""The benchmark's depth row: its frames, its request parsing, and its feeder with a real client.

No timing is asserted here; the row itself needs a publisher that publishes depth and runs in
``python -m bench`` (``--tiny`` in ``test_bench.py``).
"""

import threading
import time
from decimal import Decimal
from typing import Any

import msgpack
import zmq
from ibapi.client import EClient
from ibapi.contract import Contract
from ibapi.decoder import Decoder
from ibapi.wrapper import EWrapper

from bench.depth import DepthResult, decode_costs, table
from bench.depth_frames import BOOKS, ROWS, changes, depth_request_id, generate
from bench.handles import Feed, stock_client, subscriber
from bench.receivers import Arrival
from publisher.gateway.framing import FrameBuffer, split_message
from publisher.sim.burst import CLASSIC_VERSION, PROTOBUF_VERSION
from subscribers.depth import OPERATIONS, SIDES, DepthBook
from tests.gateway.kinds_reference import assert_equivalent

REQ_IDS = list(range(3000, 3000 + BOOKS))
VERSIONS = (CLASSIC_VERSION, PROTOBUF_VERSION)


class DepthWrapper(EWrapper):  # type: ignore[misc]  # ibapi is untyped
    """Records updateMktDepth calls; the protobuf twin is silenced."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[int, int, int, int, float, Decimal]] = []
        self.ready = threading.Event()

    def updateMktDepth(
        self, reqId: int, position: int, operation: int, side: int, price: float, size: Decimal
    ) -> None:
        self.calls.append((reqId, position, operation, side, price, size))

    def updateMarketDepthProtoBuf(self, proto: Any) -> None:
        pass

    def nextValidId(self, orderId: int) -> None:
        self.ready.set()

    def error(self, *args: Any) -> None:
        pass


def test_the_changes_are_possible_for_an_ib_book_from_any_start() -> None:
    """Every change applies to a DepthBook of ROWS rows: in order, wrapping round, and again from
    the first frame after stopping at any point (as the rate search restarts)."""
    stream = changes(REQ_IDS, 3_000, seed=5)
    assert len(stream) == 3_000
    books = {req_id: DepthBook(ROWS) for req_id in REQ_IDS}
    cut = 1_234
    for change in [*stream, *stream, *stream[:cut], *stream]:
        side = SIDES[change.side]
        operation = OPERATIONS[change.operation]
        book = books[change.req_id]
        assert book.apply(change.position, operation, side, change.price, change.size), change
    assert all(len(b.bids) == ROWS and len(b.asks) == ROWS for b in books.values())


def test_the_frames_decode_in_ibapi_as_the_changes_and_take_the_fast_path() -> None:
    """ibapi decodes each frame into the updateMktDepth it stands for, in both encodings, and the
    publisher's fast path hands its sink the same values."""
    stream = changes(REQ_IDS, 400, seed=2)
    for version in VERSIONS:
        frames = generate(version, REQ_IDS, 400, seed=2)
        assert frames.callbacks[-1] == frames.count == 400
        buffer = FrameBuffer()
        buffer.feed(frames.blob)
        payloads = buffer.take()
        wrapper = DepthWrapper()
        decoder = Decoder(wrapper, version)
        for payload in payloads:
            msg_id, body = split_message(payload, version)
            if msg_id > 200:
                decoder.processProtoBuf(body, msg_id - 200)
            else:
                decoder.interpret(tuple(body.split(b"\0")[:-1]), msg_id)
            assert assert_equivalent(payload, version), payload
        expected = [
            (c.req_id, c.position, c.operation, c.side, c.price, Decimal(c.size)) for c in stream
        ]
        assert wrapper.calls == expected


class Capture:
    """Stands in for ibapi's Connection: keeps what the client sends."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def sendMsg(self, msg: bytes) -> int:
        self.sent.append(msg)
        return len(msg)

    def isConnected(self) -> bool:
        return True


def test_depth_requests_are_recognised_as_ibapi_sends_them() -> None:
    """reqMktDepth from ibapi's own client (text at 200, protobuf at the protobuf version) gives
    its request id; other requests give None."""
    contract = Contract()
    contract.symbol, contract.secType, contract.exchange = "AAPL", "STK", "SMART"
    contract.currency, contract.conId = "USD", 265598
    for version in VERSIONS:
        client = EClient(EWrapper())
        client.conn = Capture()
        client.serverVersion_ = version
        client.setConnState(EClient.CONNECTED)
        client.reqMktDepth(4242, contract, 10, False, [])
        client.reqMktData(77, contract, "", False, False, [])
        depth, data = client.conn.sent
        assert depth_request_id(depth[4:], version) == 4242
        assert depth_request_id(data[4:], version) is None
    assert depth_request_id(b"", CLASSIC_VERSION) is None
    assert depth_request_id(b"\0\0\0\xd2garbage", PROTOBUF_VERSION) is None


def _requester(port: int, wrapper: DepthWrapper) -> tuple[EClient, threading.Thread]:
    client = EClient(wrapper)
    client.connect("127.0.0.1", port, 31)
    thread = threading.Thread(target=client.run, daemon=True)
    thread.start()
    assert wrapper.ready.wait(30)
    contract = Contract()
    contract.symbol, contract.secType, contract.currency = "AAPL", "STK", "USD"
    for req_id in REQ_IDS:
        client.reqMktDepth(req_id, contract, ROWS, False, [])
    return client, thread


def test_the_feeder_serves_depth_frames_that_the_stock_client_counts() -> None:
    """A client's depth requests reach the feeder; the frames prepared for them reach the stock
    client process, which counts one callback per frame (both encodings)."""
    for version in VERSIONS:
        feed = Feed(version)
        client: EClient | None = None
        receiver = None
        try:
            client, thread = _requester(feed.port, DepthWrapper())
            session = feed.wait_session(lambda s: len(s.depth_streams) == BOOKS, 30)
            assert session.depth_streams == tuple(REQ_IDS)
            prepared = feed.prepare(session.session, 500, seed=1, kind="depth")
            assert prepared.count == 500
            receiver = stock_client(feed.port)
            stock = feed.wait_session(lambda s: s.client_id == 99, 30)
            receiver.expect(500)
            feed.burst(stock.session, 500, 60)
            arrival: Arrival = receiver.wait(60)
            assert (arrival.received, arrival.complete) == (500, True)
        finally:
            if receiver is not None:
                receiver.stop()
            if client is not None:
                client.disconnect()
                thread.join(10)
            feed.stop()


def test_the_table_names_a_row_that_was_not_measured() -> None:
    """A publisher without depth gives a row saying why, and measured rows give their figures."""
    text = table(
        [
            DepthResult(
                "classic",
                fast_decode_us=1.5,
                ibapi_decode_us=4.5,
                error="ibpub made no 10 depth requests (unknown key data)",
            ),
            DepthResult(
                "protobuf", 10_000, True, 20_000, 40e-6, 90e-6, 150e-6, 50_000, 25_000, 0, 1.0, 2.0
            ),
        ]
    )
    assert "classic: not measured: ibpub made no 10 depth requests (unknown key data)" in text
    assert "50,000" in text and "25,000" in text and "2.0x" in text
    assert "40/90/150" in text and "0 lost" in text
    assert "1.50         4.50   3.0x" in text


def test_the_decode_costs_are_measured_on_frames_that_all_take_the_fast_path() -> None:
    """decode_costs times both decoders on the frames (positive CPU figures) for each encoding."""
    for version in VERSIONS:
        fast, ibapi = decode_costs(generate(version, REQ_IDS, 300, seed=4))
        assert fast > 0 and ibapi > 0


def test_the_counting_subscriber_counts_the_depth_topics_only() -> None:
    """subscriber(..., prefix=b"depth.") counts depth messages, not ticks or heartbeats."""
    context = zmq.Context()
    pub = context.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    stop = threading.Event()

    def heartbeats() -> None:
        while not stop.wait(0.05):
            pub.send_multipart([b"hb.bench", msgpack.packb({"ts": time.time_ns()})])

    beating = threading.Thread(target=heartbeats, daemon=True)
    beating.start()
    receiver = None
    try:
        receiver = subscriber(f"tcp://127.0.0.1:{port}", prefix=b"depth.")
        stop.set()
        beating.join(5)
        receiver.expect(5)
        for i in range(5):  # the depth messages' ts say which message met the count
            pub.send_multipart([b"tick.AAPL", msgpack.packb({"ts": 1})])
            pub.send_multipart([b"depth.AAPL", msgpack.packb({"ts": 1000 + i})])
        arrival = receiver.wait(30)
        assert arrival.complete and arrival.last_publish_ns == 1004
    finally:
        stop.set()
        if receiver is not None:
            receiver.stop()
        pub.close()
        context.term()
