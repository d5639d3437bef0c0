"""Every data kind end to end (issue 13): the simulator -> the publisher -> a SUB socket.

The publisher is the real service (the harness's thread), the gateway the real simulator on
127.0.0.1, the listener a real ZeroMQ SUB. Each payload is decoded with the schema's typed
decoder for its topic (keys and types as the contract says), each topic's seq is contiguous,
the depth book rebuilt from the messages equals the one the snapshot serves at the same seq,
and a late joiner's book (snapshot, then live changes) equals that of a listener there from the
start.
"""

from collections.abc import Iterator
from typing import Any

import msgpack
import msgspec
import pytest
import zmq

from publisher.sim.kinds.limits import DataLimits
from subscribers.depth import DepthBook
from subscribers.schema import SnapshotReply, payload_type
from tests.service.test_control import Client
from tests.support.config import AAPL, MSFT, SPY
from tests.support.listener import Listener, Message
from tests.support.processes import BIN, Processes
from tests.support.stack import Stack
from tests.support.waiting import wait_for

AAPL_KINDS = {**AAPL, "data": ["l1", "tbt_last", "tbt_bid_ask", "tbt_midpoint", "depth:5",
                               "bars_5s"]}  # fmt: skip
AAPL_CALL = {
    "key": "AAPL.C230",
    "sec_type": "OPT",
    "symbol": "AAPL",
    "last_trade_date": "20261218",
    "strike": 230.0,
    "right": "C",
    "multiplier": "100",
    "data": ["l1", "greeks"],
}
FAST_BARS = DataLimits(bar_seconds=0.2)


def by_topic(messages: list[Message], topic: str) -> list[Message]:
    return [m for m in messages if m["topic"] == topic]


def counts_reached(wanted: dict[str, int]) -> Any:
    def seen(messages: list[Message]) -> bool:
        return all(len(by_topic(messages, t)) >= n for t, n in wanted.items())

    return seen


def typed(message: Message) -> msgspec.Struct:
    """The message decoded by the schema's decoder for its topic (raises if it does not fit)."""
    found = payload_type(message["topic"])
    assert found is not None, message["topic"]
    body = {k: v for k, v in message.items() if k != "topic"}
    return msgspec.msgpack.decode(msgpack.packb(body), type=found[1])


def assert_contiguous(messages: list[Message]) -> None:
    seqs = [m["seq"] for m in messages]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs[:20]


def apply(book: DepthBook, message: Message) -> None:
    assert book.apply(
        message["position"],
        message["operation"],
        message["side"],
        message["price"],
        message["size"],
        message["market_maker"],
    ), message


def snapshot(stack: Stack, prefix: str) -> SnapshotReply[Any]:
    socket = stack.context.socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    try:
        socket.connect(stack.publisher.snapshot_endpoint)
        socket.send(msgpack.packb({"v": 1, "prefix": prefix}))
        assert socket.poll(10_000), "no snapshot reply"
        return msgspec.msgpack.decode(socket.recv(), type=SnapshotReply[Any])
    finally:
        socket.close(linger=0)


@pytest.fixture
def kinds(stack: Stack) -> Iterator[Stack]:
    stack.start_gateway(rate=300.0, data_limits=FAST_BARS)
    stack.start_publisher(instruments=(AAPL_KINDS, AAPL_CALL, MSFT))
    yield stack


def test_every_kind_is_published_as_the_contract_says(kinds: Stack) -> None:
    listener = kinds.listen()
    wanted = {
        "tick.AAPL": 20,
        "tbt.AAPL": 20,
        "depth.AAPL": 40,
        "bar.AAPL": 2,
        "greeks.AAPL.C230": 4,
        "tick.AAPL.C230": 4,
    }
    listener.until(counts_reached(wanted), f"messages on {', '.join(wanted)}")
    messages = listener.messages
    for topic in wanted:
        published = by_topic(messages, topic)
        for message in published:
            typed(message)
        assert_contiguous(published)
    listener.until(
        lambda ms: {m["kind"] for m in by_topic(ms, "tbt.AAPL")} >= {"last", "bid_ask", "midpoint"},
        "every tick-by-tick kind",
    )
    tbt_kinds = {m["kind"] for m in by_topic(listener.messages, "tbt.AAPL")}
    assert tbt_kinds == {"last", "bid_ask", "midpoint"}
    bars = by_topic(messages, "bar.AAPL")
    assert all(b["what"] == "TRADES" and b["low"] <= b["close"] <= b["high"] for b in bars)
    greeks = by_topic(messages, "greeks.AAPL.C230")
    assert {g["field"] for g in greeks} <= {"bid_option", "ask_option", "last_option",
                                             "model_option"}  # fmt: skip
    model = [g for g in greeks if g["delta"] is not None]
    assert model and all(0.0 <= g["delta"] <= 1.0 for g in model)
    heartbeat = [m for m in listener.messages if m["type"] == "hb"][-1]
    assert {"tbt.AAPL", "depth.AAPL", "bar.AAPL", "greeks.AAPL.C230"} <= set(heartbeat["seqs"])
    assert kinds.metrics.count("ibpub_messages_published_total", type="depth") > 0


def test_the_snapshot_book_is_the_book_the_messages_build(kinds: Stack) -> None:
    """From the start, and for a late joiner: the same book at the same seq."""
    early = kinds.listen()
    early.until(counts_reached({"depth.AAPL": 30}), "depth changes")
    reply = snapshot(kinds, "depth.AAPL")
    (entry,) = [t for t in reply.topics if t.topic == "depth.AAPL"]
    assert entry.ticks == []
    assert entry.book is not msgspec.UNSET
    early.until(
        lambda ms: any(m["seq"] >= entry.seq for m in by_topic(ms, "depth.AAPL")),
        "the snapshot's seq on the early listener",
    )
    rebuilt = DepthBook(max_rows=5)
    for message in by_topic(early.messages, "depth.AAPL"):
        if message["seq"] <= entry.seq:
            apply(rebuilt, message)
    as_rows = [[list(row) for row in side] for side in (rebuilt.bids, rebuilt.asks)]
    assert as_rows == [[list(r) for r in entry.book.bids], [list(r) for r in entry.book.asks]]
    assert rebuilt.bids and rebuilt.asks and rebuilt.bids[0][0] < rebuilt.asks[0][0]

    # A late joiner: subscribe, then the snapshot, then the live changes above its seq.
    late = kinds.listen()
    late_reply = snapshot(kinds, "depth.AAPL")
    (late_entry,) = [t for t in late_reply.topics if t.topic == "depth.AAPL"]
    joined = DepthBook(max_rows=5)
    assert late_entry.book is not msgspec.UNSET
    joined.replace(
        [(r[0], r[1], r[2]) for r in late_entry.book.bids],
        [(r[0], r[1], r[2]) for r in late_entry.book.asks],
    )
    late.until(counts_reached({"depth.AAPL": 20}), "live changes for the late joiner")
    last = max(m["seq"] for m in by_topic(late.messages, "depth.AAPL"))
    for message in by_topic(late.messages, "depth.AAPL"):
        if late_entry.seq < message["seq"] <= last:
            apply(joined, message)
    early.until(
        lambda ms: any(m["seq"] >= last for m in by_topic(ms, "depth.AAPL")),
        "the late joiner's last seq on the early listener",
    )
    for message in by_topic(early.messages, "depth.AAPL"):
        if entry.seq < message["seq"] <= last:
            apply(rebuilt, message)
    assert (joined.bids, joined.asks) == (rebuilt.bids, rebuilt.asks)


def test_every_kind_survives_a_gateway_restart(kinds: Stack) -> None:
    listener = kinds.listen()
    listener.until(counts_reached({"depth.AAPL": 20, "tbt.AAPL": 5}), "depth and tbt")
    before = {t: len(by_topic(listener.messages, t)) for t in ("depth.AAPL", "tbt.AAPL")}
    kinds.gateway.stop()
    kinds.start_gateway(rate=300.0, data_limits=FAST_BARS)
    listener.until(
        counts_reached({t: n + 20 for t, n in before.items()}), "depth and tbt after the restart"
    )
    depth = by_topic(listener.messages, "depth.AAPL")
    assert_contiguous(depth)  # the same publisher session: seq carries on
    book = DepthBook(max_rows=5)
    for message in depth:  # the book reset (deletes of every row) keeps every change possible
        apply(book, message)
    assert book.bids and book.asks


def test_a_kind_refused_by_the_gateway_fails_alone(stack: Stack) -> None:
    """The simulator allows one tick-by-tick stream: the second instrument's gets 10190, its
    l1 ticks carry on, and its status names the kind."""
    stack.start_gateway(rate=300.0, data_limits=DataLimits(max_tick_by_tick=1))
    stack.start_publisher(
        instruments=({**AAPL, "data": ["l1", "tbt_last"]}, {**SPY, "data": ["l1", "tbt_last"]})
    )
    listener = stack.listen()

    def refused(messages: list[Message]) -> list[Message]:
        return [m for m in messages if m["type"] == "status" and m.get("code") == 10190]

    (status,) = listener.until(refused, "a 10190 status")
    assert "tbt_last failed" in status["message"] and status["state"] != "failed"
    key = status["key"]
    count = len(by_topic(listener.messages, f"tick.{key}"))
    listener.until(counts_reached({f"tick.{key}": count + 10}), f"l1 ticks of {key} after 10190")


def test_a_request_beyond_the_depth_limit_is_refused(stack: Stack) -> None:
    stack.start_gateway(rate=200.0)
    stack.start_publisher(
        instruments=({**AAPL, "data": ["l1", "depth"]},), gateway={"max_depth": 2}
    )
    stack.wait_streaming(("AAPL",))
    client = Client(stack.context, stack.publisher.control_endpoint)
    try:
        granted = client.subscribe("a", {"sec_type": "STK", "symbol": "MSFT"}, data=["depth:3"])
        assert granted["ok"], granted
        assert granted["topics"] == ["depth.MSFT"]
        refused = client.subscribe("a", {"sec_type": "STK", "symbol": "SPY"}, data=["l1", "depth"])
        assert refused["error"] == "limit_exceeded", refused
        assert "gateway.max_depth" in refused["message"]
        listing = client.ask({"v": 1, "op": "list"})
        data = {i["key"]: i["data"] for i in listing["instruments"]}
        assert data == {"AAPL": ["l1", "depth:10"], "MSFT": ["depth:3"]}
        wait_for(
            lambda: stack.core(lambda core: sum(len(s.kinds.depth) for s in core.sessions)) == 2,
            "two depth streams at the simulator",
        )
    finally:
        client.close()


def test_every_kind_between_real_processes(stack: Stack, procs: Processes) -> None:
    """``ibpub sim`` and ``ibpub run`` as a user starts them, a SUB socket in this process."""
    stack.start_gateway_process(procs, 300.0, "--bar-seconds", "0.2")
    publisher = stack.publisher_for(instruments=(AAPL_KINDS, AAPL_CALL))
    procs.start([str(BIN / "ibpub"), "run", "--config", str(publisher.config_file())])
    listener = Listener(stack.context, publisher.endpoint)
    stack.listeners.append(listener)
    wanted = {"tbt.AAPL": 10, "depth.AAPL": 20, "bar.AAPL": 2, "greeks.AAPL.C230": 4}
    listener.until(counts_reached(wanted), f"messages on {', '.join(wanted)}")
    for topic in wanted:
        published = by_topic(listener.messages, topic)
        for message in published:
            typed(message)
        assert_contiguous(published)
