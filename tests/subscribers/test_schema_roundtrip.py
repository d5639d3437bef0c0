"""One schema, both ends: every message type a real publisher emits, decoded by the subscriber.

A simulated gateway feeds a real publisher (tests/support/stack.py); a raw SUB socket takes
its frames as they are on the wire, and the subscriber library's decoders read them: ticks,
status and heartbeats with :func:`subscribers.wire.decode`, the snapshot reply with
:func:`subscribers.snapshot.decode_reply`. Beyond decoding, the bytes are held to the schema
(:mod:`subscribers.schema`): each payload's keys come in its Struct's field order, and a status
or heartbeat is exactly the bytes its decoded Struct encodes to.
"""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import zmq

from subscribers.schema import (
    HeartbeatPayload,
    SnapshotReply,
    StatusPayload,
    TickPayload,
    payload_type,
)
from subscribers.snapshot import decode_reply, encode_request
from subscribers.wire import Heartbeat, Message, Status, Tick, decode
from tests.support.config import FOUR_KEYS as KEYS
from tests.support.processes import free_port
from tests.support.stack import live_publisher, start_gateway

DEADLINE = 60.0
"""Seconds to wait for what a running stack produces in well under one (a loaded machine)."""


@pytest.fixture
def context() -> Iterator[zmq.Context[Any]]:
    ctx: zmq.Context[Any] = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


class Wire:
    """A raw SUB socket on the publisher's bus: frames exactly as sent, and their decodings."""

    def __init__(self, context: zmq.Context[Any], endpoint: str) -> None:
        self.socket = context.socket(zmq.SUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.RCVHWM, 0)
        self.socket.subscribe(b"")
        self.socket.connect(endpoint)
        self.frames: list[tuple[bytes, bytes]] = []
        self.decoded: list[Message] = []

    def read_until(self, done: Any, what: str) -> None:
        """Read and decode (the subscriber's decoder raises on anything off-contract) until
        ``done(self)`` holds."""
        deadline = time.monotonic() + DEADLINE
        while not done(self):
            assert time.monotonic() < deadline, f"no {what} within {DEADLINE:g} s"
            if not self.socket.poll(100):
                continue
            frames = self.socket.recv_multipart()
            assert len(frames) == 2, frames
            topic, payload = frames
            self.frames.append((topic, payload))
            self.decoded.append(decode(topic, payload))

    def close(self) -> None:
        self.socket.close(linger=0)

    def of(self, kind: type[Message]) -> list[Message]:
        return [m for m in self.decoded if isinstance(m, kind)]


def tick_kinds(wire: Wire) -> set[str]:
    return {m.kind for m in wire.of(Tick) if isinstance(m, Tick)}


def subscribed(wire: Wire) -> set[str]:
    return {
        m.key
        for m in wire.of(Status)
        if isinstance(m, Status) and m.scope == "instrument" and m.state == "subscribed"
        and m.key is not None
    }  # fmt: skip


def test_every_message_the_publisher_emits_decodes_with_the_subscribers_decoder(
    tmp_path: Path, context: zmq.Context[Any]
) -> None:
    """Ticks (price and size), status (gateway, instrument) and heartbeats from a live stack
    decode, follow the schema's key order, and status/hb are the bytes of their Structs."""
    port = free_port()
    live = live_publisher(tmp_path, port).start()
    sid = live.sid
    gateway = None
    wire = Wire(context, live.endpoint)
    try:
        # Heartbeats flow before any gateway: the first one says the subscription is live.
        wire.read_until(lambda w: w.of(Heartbeat), "heartbeat")
        gateway = start_gateway(port, rate=400)
        wire.read_until(
            lambda w: subscribed(w) == set(KEYS) and {"price", "size"} <= tick_kinds(w),
            "subscribed instruments with price and size ticks",
        )
        beats = len(wire.of(Heartbeat))
        wire.read_until(lambda w: len(w.of(Heartbeat)) > beats, "heartbeat after the ticks")
    finally:
        wire.close()
        if gateway is not None:
            gateway.stop()
        live.stop()

    assert {m.sid for m in wire.decoded} == {sid}
    seen: set[type[Any]] = set()
    for topic, payload in wire.frames:
        routed = payload_type(topic.decode())
        assert routed is not None, topic
        struct = routed[1]
        seen.add(struct)
        typed = msgspec.msgpack.Decoder(struct).decode(payload)
        keys = list(msgspec.msgpack.decode(payload))
        assert keys == [f for f in struct.__struct_fields__ if f in keys], topic
        if struct is not TickPayload:  # ticks: the same map, under a shorter header (schema.py)
            assert msgspec.msgpack.encode(typed) == payload, topic
    assert seen == {TickPayload, StatusPayload, HeartbeatPayload}
    scopes = {m.scope for m in wire.of(Status) if isinstance(m, Status)}
    assert {"gateway", "instrument"} <= scopes


def test_the_snapshot_reply_decodes_with_the_subscribers_decoder(
    tmp_path: Path, context: zmq.Context[Any]
) -> None:
    """A snapshot of a live stack decodes with every cached tick valid, of the publisher's
    session, on a topic of each instrument, each no newer than its topic's seq."""
    gateway = start_gateway(rate=400)
    live = live_publisher(tmp_path, gateway.port).start()
    sid = live.sid
    dealer = context.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    wire = Wire(context, live.endpoint)
    try:
        # An instrument turns subscribed on its first tick, which the cache holds by then.
        wire.read_until(lambda w: subscribed(w) == set(KEYS), "every instrument subscribed")
        dealer.connect(live.snapshot_endpoint)
        dealer.send_multipart([b"", encode_request("tick.")])
        assert dealer.poll(int(DEADLINE * 1000)), "no snapshot reply"
        *_, body = dealer.recv_multipart()
    finally:
        wire.close()
        dealer.close()
        gateway.stop()
        live.stop()

    snapshot = decode_reply(body)
    assert snapshot.sid == sid and snapshot.malformed == 0
    assert {t.topic for t in snapshot.topics if t.ticks} == {f"tick.{key}" for key in KEYS}
    for entry in snapshot.topics:
        for tick in entry.ticks:
            assert (tick.sid, tick.topic) == (sid, entry.topic)
            assert 1 <= tick.seq <= entry.seq
        assert len({t.field for t in entry.ticks if isinstance(t, Tick)}) == len(entry.ticks)
    keys = list(msgspec.msgpack.decode(body))
    assert keys == [f for f in SnapshotReply.__struct_fields__ if f in keys]
