"""Every door of a running publisher takes garbage, oversized messages, floods and clients that
never read, while the tick stream and well-behaved clients carry on; what was refused is
counted in ``ibpub_refused_total{door, reason}``.

Real sockets throughout: the simulated gateway, the publisher's service thread, raw TCP, ZeroMQ
DEALER/REQ/SUB clients and HTTP.
"""

import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import msgpack
import pytest
import zmq

from publisher.observability.httpd import MAX_CONNECTIONS
from tests.support.config import THREE_KEYS
from tests.support.listener import Listener, ticks_after
from tests.support.metrics import http_get
from tests.support.processes import LineReader, Processes
from tests.support.stack import Publisher, Stack
from tests.support.waiting import wait_for

Refused = "ibpub_refused_total"


@pytest.fixture
def running(stack: Stack) -> Iterator[tuple[Publisher, Listener]]:
    """A streaming publisher and a listener that has seen every instrument tick."""
    publisher = stack.start_publisher()
    listener = stack.listen()
    stack.start_gateway(rate=500.0)
    listener.until(ticks_after(0, THREE_KEYS), "ticks from every instrument")
    yield publisher, listener


def host_port(endpoint: str) -> tuple[str, int]:
    host, port = endpoint.removeprefix("tcp://").rsplit(":", 1)
    return host, int(port)


def still_ticking(listener: Listener) -> None:
    """Every instrument ticks again after this point."""
    listener.until(ticks_after(len(listener.messages), THREE_KEYS), "ticks to carry on")


def snapshot_of(context: zmq.Context[Any], endpoint: str) -> dict[str, Any]:
    """A well-behaved late joiner's snapshot (REQ, one request, one reply)."""
    req = context.socket(zmq.REQ)
    req.setsockopt(zmq.LINGER, 0)
    req.connect(endpoint)
    try:
        req.send(msgpack.packb({"v": 1, "prefix": ""}))
        assert req.poll(20_000), "no snapshot reply"
        reply: dict[str, Any] = msgpack.unpackb(req.recv())
        return reply
    finally:
        req.close()


def control_call(context: zmq.Context[Any], endpoint: str, body: bytes) -> dict[str, Any]:
    req = context.socket(zmq.REQ)
    req.setsockopt(zmq.LINGER, 0)
    req.connect(endpoint)
    try:
        req.send(body)
        assert req.poll(20_000), "no control reply"
        reply: dict[str, Any] = msgpack.unpackb(req.recv())
        return reply
    finally:
        req.close()


def test_http_bounds_its_threads_and_drops_clients_that_send_nothing(
    stack: Stack, running: tuple[Publisher, Listener]
) -> None:
    """Far more idle connections than the server serves at once cost at most its bounded
    threads: the rest are answered 503 busy, the idle ones time out, and ticks carry on."""
    publisher, listener = running
    host, port = "127.0.0.1", publisher.service.metrics_server.port  # type: ignore[union-attr]
    before = threading.active_count()
    with ExitStack() as idle:
        for _ in range(3 * MAX_CONNECTIONS):
            conn = idle.enter_context(socket.create_connection((host, port)))
            conn.sendall(b"GET /metrics HTTP/1.1\r\n")  # and never the rest
        metrics = publisher.metrics
        wait_for(
            lambda: metrics.count(Refused, door="http", reason="busy") >= 2 * MAX_CONNECTIONS - 4,
            "connections beyond the limit refused",
        )
        assert threading.active_count() <= before + MAX_CONNECTIONS
        still_ticking(listener)
        wait_for(
            lambda: metrics.count(Refused, door="http", reason="timeout") >= MAX_CONNECTIONS - 4,
            "idle connections timed out",
        )
    assert http_get(publisher.url + "/healthz")[0] == 200


def test_http_answers_garbage_and_oversized_requests_and_carries_on(
    running: tuple[Publisher, Listener],
) -> None:
    """Bytes that are not HTTP get 400, a 100 kB request line 414; /readyz still answers."""
    publisher, listener = running
    port = publisher.service.metrics_server.port  # type: ignore[union-attr]
    for request, status in (
        (b"\xff\xfe\x00garbage\r\n\r\n", b"400"),
        (b"GET /" + b"a" * 100_000 + b" HTTP/1.0\r\n\r\n", b"414"),
    ):
        with socket.create_connection(("127.0.0.1", port), timeout=20) as conn:
            conn.sendall(request)
            assert status in conn.recv(200)
    assert http_get(publisher.url + "/readyz")[0] == 200
    still_ticking(listener)


def test_snapshot_door_refuses_garbage_drops_big_messages_and_outlives_a_flood(
    stack: Stack, running: tuple[Publisher, Listener]
) -> None:
    """Garbage is refused (counted), an oversized message disconnects its sender, a client
    that floods requests and never reads loses replies (counted): a late joiner still gets its
    snapshot and ticks carry on."""
    publisher, listener = running
    context = stack.context
    dealer = context.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.setsockopt(zmq.RCVHWM, 1)
    dealer.connect(publisher.snapshot_endpoint)
    dealer.send(b"\xc1 not msgpack")
    dealer.send(b"x" * 1_000_000)  # beyond MAXMSGSIZE: the connection is dropped
    flooder = context.socket(zmq.DEALER)
    flooder.setsockopt(zmq.LINGER, 0)
    flooder.setsockopt(zmq.RCVHWM, 1)
    flooder.setsockopt(zmq.RCVBUF, 4096)
    flooder.connect(publisher.snapshot_endpoint)
    request = msgpack.packb({"v": 1, "prefix": ""})
    try:
        for _ in range(20_000):
            flooder.send(request)
        metrics = publisher.metrics
        wait_for(
            lambda: metrics.count(Refused, door="snapshot", reason="malformed") >= 1,
            "the garbage refused",
        )
        wait_for(
            lambda: metrics.count(Refused, door="snapshot", reason="slow_client") >= 1,
            "replies to a client that never reads dropped",
        )
        reply = snapshot_of(context, publisher.snapshot_endpoint)
        assert reply["sid"] == publisher.sid and reply["topics"]
        still_ticking(listener)
    finally:
        dealer.close()
        flooder.close()


def test_control_door_refuses_garbage_and_big_requests_and_outlives_a_flood(
    stack: Stack, running: tuple[Publisher, Listener]
) -> None:
    """Garbage and too-large requests get bad_request (counted), a flood from a client that
    never reads loses replies (counted), and another client's request is still answered."""
    publisher, listener = running
    context = stack.context
    garbage = control_call(context, publisher.control_endpoint, b"\xc1 not msgpack")
    assert garbage["ok"] is False and garbage["error"] == "bad_request"
    big = control_call(
        context,
        publisher.control_endpoint,
        msgpack.packb({"v": 1, "op": "list", "x": "y" * 100_000}),
    )
    assert big["ok"] is False and big["error"] == "bad_request"
    flooder = context.socket(zmq.DEALER)
    flooder.setsockopt(zmq.LINGER, 0)
    flooder.setsockopt(zmq.RCVHWM, 1)
    flooder.setsockopt(zmq.RCVBUF, 4096)
    flooder.connect(publisher.control_endpoint)
    try:
        request = msgpack.packb({"v": 1, "op": "list"})
        for _ in range(100_000):
            flooder.send(request)
        metrics = publisher.metrics
        wait_for(
            lambda: metrics.count(Refused, door="control", reason="slow_client") >= 1,
            "replies to a client that never reads dropped",
        )
        assert metrics.count(Refused, door="control", reason="garbage") == 1
        assert metrics.count(Refused, door="control", reason="too_large") == 1
        listing = control_call(
            context, publisher.control_endpoint, msgpack.packb({"v": 1, "op": "list"})
        )
        assert listing["ok"] is True
        still_ticking(listener)
    finally:
        flooder.close()


HUGE_SUBSCRIBER = """
import sys, time, zmq
sub = zmq.Context().socket(zmq.SUB)
sub.setsockopt(zmq.SUBSCRIBE, b"tick." + b"x" * 200_000)
sub.connect(sys.argv[1])
print("subscribed", flush=True)
time.sleep(600)
"""
"""A subscriber sending a 200 kB subscription, in a child process: libzmq 4.3.5 crashes
(SIGSEGV) closing such a SUB socket, on the subscriber's side; the child is killed instead."""


def test_pub_door_survives_garbage_big_subscriptions_and_a_subscriber_that_never_reads(
    stack: Stack, running: tuple[Publisher, Listener], procs: Processes
) -> None:
    """Raw garbage on the PUB port, a subscriber sending a huge subscription and one that never
    reads: the listener still gets every instrument's ticks with no gap."""
    publisher, listener = running
    huge = procs.start([sys.executable, "-c", HUGE_SUBSCRIBER, publisher.endpoint])
    LineReader(huge.stdout).until(lambda lines: "subscribed" in lines)
    with socket.create_connection(host_port(publisher.endpoint)) as raw:
        raw.sendall(b"\xff" * 64 + b"GET / HTTP/1.0\r\n\r\n")
        stuck = stack.context.socket(zmq.SUB)
        stuck.setsockopt(zmq.LINGER, 0)
        stuck.setsockopt(zmq.RCVHWM, 10)
        stuck.setsockopt(zmq.SUBSCRIBE, b"")
        stuck.connect(publisher.endpoint)
        try:
            for _ in range(3):
                still_ticking(listener)
        finally:
            stuck.close()
    seqs: dict[str, int] = {}
    for message in listener.messages:
        if message["type"] == "tick":
            topic = message["topic"]
            assert message["seq"] == seqs.get(topic, message["seq"] - 1) + 1, "a gap"
            seqs[topic] = message["seq"]
