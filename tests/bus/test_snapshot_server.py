"""The snapshot server on real sockets: REQ and DEALER clients, bad requests, bounded work."""

from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
import zmq

from publisher.bus.publish import Bus
from publisher.bus.snapshot import REQUESTS_PER_CALL, TICKS_PER_CALL, SnapshotServer
from tests.support.waiting import wait_for


@pytest.fixture
def context() -> Iterator[zmq.Context[Any]]:
    ctx: zmq.Context[Any] = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


@pytest.fixture
def bus(context: zmq.Context[Any]) -> Iterator[Bus]:
    bus = Bus(name="t", endpoints=["tcp://127.0.0.1:0"], send_hwm=1000, context=context)
    yield bus
    bus.close()


@pytest.fixture
def server(bus: Bus) -> Iterator[SnapshotServer]:
    server = SnapshotServer.for_bus(bus, "tcp://127.0.0.1:0")
    for price in (1.0, 2.0):
        server.cache.record("tick.A", bus.publish("tick.A", "tick", tick_body("bid", price)))
    server.cache.record("tick.B", bus.publish("tick.B", "tick", tick_body("ask", 3.0)))
    yield server
    server.close()


def tick_body(field: str, price: float) -> dict[str, Any]:
    return {"key": "A", "conid": 1, "field": field, "tick_type": 1, "price": price, "mdt": 1}


def client(context: zmq.Context[Any], kind: int, endpoint: str) -> zmq.Socket[Any]:
    sock: zmq.Socket[Any] = context.socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    return sock


def serve_until_reply(server: SnapshotServer, sock: zmq.Socket[Any]) -> list[bytes]:
    """Run the server's handler (as the service loop would) until ``sock`` has a reply."""

    def replied() -> bool:
        if server.socket.poll(0):
            server.on_readable()
        return bool(sock.poll(0))

    wait_for(replied, "a snapshot reply", every=0.01)
    return sock.recv_multipart()


def test_req_client_gets_the_cached_ticks_and_last_seqs(
    context: zmq.Context[Any], bus: Bus, server: SnapshotServer
) -> None:
    """A REQ client's request is answered with the session, each topic's last seq and ticks."""
    req = client(context, zmq.REQ, server.endpoint)
    req.send(msgpack.packb({"v": 1, "prefix": ""}))
    (body,) = serve_until_reply(server, req)
    req.close()
    reply = msgpack.unpackb(body)
    assert reply["sid"] == bus.sid
    topics = {t["topic"]: t for t in reply["topics"]}
    assert {t: e["seq"] for t, e in topics.items()} == {"tick.A": 2, "tick.B": 1}
    assert [t["price"] for t in topics["tick.A"]["ticks"]] == [2.0]


def test_dealer_without_delimiter_gets_a_one_frame_reply(
    context: zmq.Context[Any], server: SnapshotServer
) -> None:
    """A DEALER that sends just the body gets just the body back."""
    dealer = client(context, zmq.DEALER, server.endpoint)
    dealer.send(msgpack.packb({"v": 1, "prefix": "tick.B"}))
    frames = serve_until_reply(server, dealer)
    dealer.close()
    assert len(frames) == 1
    assert [t["topic"] for t in msgpack.unpackb(frames[0])["topics"]] == ["tick.B"]


def test_bad_request_gets_an_error_and_the_server_keeps_serving(
    context: zmq.Context[Any], server: SnapshotServer
) -> None:
    """Garbage is answered with an error reply, and the next good request still works."""
    req = client(context, zmq.REQ, server.endpoint)
    req.send(b"\xc1garbage")
    (bad,) = serve_until_reply(server, req)
    req.send(msgpack.packb({"v": 1, "prefix": ""}))
    (good,) = serve_until_reply(server, req)
    req.close()
    assert "error" in msgpack.unpackb(bad)
    assert len(msgpack.unpackb(good)["topics"]) == 2
    assert (server.rejected, server.served) == (1, 1)


@pytest.fixture
def inproc_server(bus: Bus) -> Iterator[SnapshotServer]:
    """A server on inproc://, where a sent request is queued at the server before send returns."""
    server = SnapshotServer.for_bus(bus, "inproc://snapshot-test")
    yield server
    server.close()


def serve_all(server: SnapshotServer, wanted: int) -> list[int]:
    """Call the handler whenever its socket is readable, as the service loop does, until
    ``wanted`` requests are served; returns how many each call answered."""
    per_call: list[int] = []

    def served() -> bool:
        if server.socket.poll(100):
            before = server.served
            server.on_readable()
            per_call.append(server.served - before)
        return server.served >= wanted

    wait_for(served, f"{wanted} requests to be served", every=0)
    return [n for n in per_call if n]


def test_each_call_answers_a_bounded_number_of_requests(
    context: zmq.Context[Any], inproc_server: SnapshotServer
) -> None:
    """However many requests wait, one call answers at most REQUESTS_PER_CALL of them."""
    dealer = client(context, zmq.DEALER, inproc_server.endpoint)
    wanted = 2 * REQUESTS_PER_CALL + 1
    for _ in range(wanted):
        dealer.send_multipart([b"", msgpack.packb({"v": 1})])
    per_call = serve_all(inproc_server, wanted)
    dealer.close()
    assert per_call == [REQUESTS_PER_CALL, REQUESTS_PER_CALL, 1]


def test_a_turn_stops_after_its_tick_budget(
    context: zmq.Context[Any], bus: Bus, inproc_server: SnapshotServer
) -> None:
    """Once a turn's replies carried TICKS_PER_CALL ticks, the next request waits a turn."""
    for i in range(TICKS_PER_CALL):
        body = tick_body(f"f{i}", 1.0)
        inproc_server.cache.record("tick.BIG", bus.publish("tick.BIG", "tick", body))
    dealer = client(context, zmq.DEALER, inproc_server.endpoint)
    for _ in range(2):
        dealer.send_multipart([b"", msgpack.packb({"v": 1})])
    per_call = serve_all(inproc_server, 2)
    dealer.close()
    assert per_call == [1, 1]


def test_nothing_waiting_is_a_no_op(server: SnapshotServer) -> None:
    """Calling the handler with no request waiting returns at once without answering."""
    server.on_readable()
    assert (server.served, server.rejected) == (0, 0)


def test_oversized_request_is_dropped_by_zeromq(
    context: zmq.Context[Any], server: SnapshotServer
) -> None:
    """A request above MAX_REQUEST_BYTES never reaches the handler; a normal client still works."""
    big = client(context, zmq.DEALER, server.endpoint)
    big.send(b"x" * 100_000)
    req = client(context, zmq.REQ, server.endpoint)
    req.send(msgpack.packb({"v": 1}))
    serve_until_reply(server, req)
    big.close()
    req.close()
    assert (server.served, server.rejected) == (1, 0)
