"""The client side of the last-value snapshot (contract v1): requests, replies, a DEALER client.

The publisher answers on a ROUTER socket (``bus.snapshot``, default ``tcp://127.0.0.1:7701``).
Request: one msgpack frame ``{"v": 1, "prefix": "tick.AAPL"}`` (``""`` for every topic). Reply:
``{"v": 1, "sid", "ts", "topics": [{"topic", "seq", "ticks": [tick payload, ...]}]}`` (contract
1.1 may add ``"states": [status payload, ...]``), or ``{"v": 1, "error": "..."}`` for a request
the publisher could not understand. All of them are Structs of :mod:`subscribers.schema`.

:func:`encode_request` and :func:`decode_reply` are pure; :class:`SnapshotClient` owns a
DEALER socket and never blocks (a :class:`~subscribers.client.Subscriber` polls it beside its
SUB socket); :func:`fetch` is the blocking one-shot for scripts and ``ibsub snapshot``.
"""

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

import msgspec
import zmq
from msgspec import UNSET

from subscribers.curve import CurveKeys
from subscribers.depth import Row
from subscribers.schema import DATA_PREFIXES, SCHEMA_VERSION, SnapshotReply, SnapshotRequest
from subscribers.wire import (
    Bar,
    DataMessage,
    Depth,
    Greeks,
    Status,
    Tbt,
    Tick,
    WireError,
    decode_payload,
    decode_state,
)

_DATA_TYPES: Final = (Tick, Tbt, Depth, Bar, Greeks)

DEFAULT_TIMEOUT: Final = 5.0
"""Seconds to wait for a snapshot reply before giving up."""
MAX_WAIT_MS: Final = 250
"""The longest single wait in ZeroMQ while :func:`fetch` waits (see client.MAX_POLL_MS)."""


class SnapshotError(Exception):
    """No usable snapshot: no reply in time, an error reply, or a malformed one (``reason``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


BookRows: TypeAlias = tuple[tuple[Row, ...], tuple[Row, ...]]
"""A snapshot's book: (bids, asks), each best row first, each row (price, size, maker)."""


@dataclass(frozen=True, slots=True)
class TopicSnapshot:
    """One topic's latest messages and its last ``seq`` at the moment of the snapshot; a
    ``depth.`` topic's whole ``book`` (contract 1.1) as it stood at that ``seq``, else None."""

    topic: str
    seq: int
    ticks: tuple[DataMessage, ...]
    book: BookRows | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A decoded, validated snapshot reply (or several merged); ``malformed`` ticks and states
    were dropped from it. ``states`` (contract 1.1) is the latest status of every (scope, key),
    empty from a publisher that does not send them."""

    sid: int
    ts: int
    topics: tuple[TopicSnapshot, ...]
    malformed: int = 0
    states: tuple[Status, ...] = ()

    @property
    def tick_count(self) -> int:
        """How many ticks the snapshot holds over all topics."""
        return sum(len(t.ticks) for t in self.topics)


_encode: Final = msgspec.msgpack.Encoder().encode
_decode_reply: Final = msgspec.msgpack.Decoder(SnapshotReply[msgspec.Raw]).decode


def encode_request(prefix: str = "") -> bytes:
    """The request for every topic starting with ``prefix``."""
    return _encode(SnapshotRequest(v=SCHEMA_VERSION, prefix=prefix))


def decode_reply(body: bytes) -> Snapshot:
    """Decode and validate one reply; raises :class:`SnapshotError` for an error or bad reply.

    The reply's frame is decoded once, typed (:class:`~subscribers.schema.SnapshotReply`), with
    each tick and state left as raw msgpack; each is then decoded by the live decoder, so a bad
    one is dropped and counted (``malformed``) instead of failing the whole snapshot.
    """
    try:
        reply = _decode_reply(body)
    except msgspec.MsgspecError as exc:
        raise _explain(body, exc) from None
    sid = reply.sid
    decoded = []
    malformed = 0
    for entry in reply.topics:
        good = []
        for payload in entry.ticks:
            try:
                tick = decode_payload(entry.topic, payload)
            except WireError:
                malformed += 1
                continue
            if isinstance(tick, _DATA_TYPES) and tick.sid == sid:
                good.append(tick)
            else:
                malformed += 1
        book: BookRows | None = None
        if entry.book is not UNSET:
            book = (_rows(entry.book.bids), _rows(entry.book.asks))
        decoded.append(TopicSnapshot(entry.topic, entry.seq, tuple(good), book))
    states = []
    for payload in () if reply.states is UNSET else reply.states:
        try:
            state = decode_state(payload)
        except WireError:
            malformed += 1
            continue
        if state.sid == sid:
            states.append(state)
        else:
            malformed += 1
    return Snapshot(sid, reply.ts, tuple(decoded), malformed, tuple(states))


def _rows(rows: list[tuple[float | int, float | int, str | None]]) -> tuple[Row, ...]:
    return tuple((float(price), float(size), maker) for price, size, maker in rows)


def _explain(body: bytes, exc: msgspec.MsgspecError) -> SnapshotError:
    """Why the typed decoder refused a reply (the slow path: error replies and broken ones)."""
    if not isinstance(exc, msgspec.ValidationError):  # (a ValidationError is a DecodeError)
        return SnapshotError("reply is not valid msgpack")
    try:
        reply = msgspec.msgpack.decode(body)
    except msgspec.DecodeError:  # refused as it was read, before its trailing bytes were seen
        return SnapshotError("reply is not valid msgpack")
    if not isinstance(reply, dict):
        return SnapshotError("reply is not a msgpack map")
    version = reply.get("v")
    if type(version) is not int or version != SCHEMA_VERSION:
        return SnapshotError(f"reply has unknown schema version {version!r}")
    if "error" in reply:
        return SnapshotError(f"publisher refused the request: {reply['error']}")
    sid, ts, topics = reply.get("sid"), reply.get("ts"), reply.get("topics")
    if type(sid) is not int or type(ts) is not int or not isinstance(topics, list):
        return SnapshotError("reply lacks an int sid, an int ts or a topics array")
    for entry in topics:
        if not isinstance(entry, dict):
            return SnapshotError("a topics entry is not a map")
        topic, seq, ticks = entry.get("topic"), entry.get("seq"), entry.get("ticks")
        if type(topic) is not str or type(seq) is not int or not isinstance(ticks, list):
            return SnapshotError("a topics entry lacks a str topic, an int seq or a ticks array")
    return SnapshotError(f"malformed reply ({exc})")


def merge(parts: Sequence[Snapshot]) -> Snapshot:
    """One snapshot from the replies to several prefixes (each topic once); they must share a
    ``sid``, else the publisher restarted between them and :class:`SnapshotError` says so."""
    if not parts:
        raise SnapshotError("nothing to merge")
    sids = {p.sid for p in parts}
    if len(sids) > 1:
        raise SnapshotError("the publisher restarted while the snapshot was taken")
    topics: dict[str, TopicSnapshot] = {}
    states: dict[tuple[str, str | None], Status] = {}
    for part in parts:
        for entry in part.topics:
            topics.setdefault(entry.topic, entry)
        for state in part.states:
            held = states.get((state.scope, state.key))
            if held is None or held.seq < state.seq:
                states[state.scope, state.key] = state
    return Snapshot(
        parts[0].sid,
        min(p.ts for p in parts),
        tuple(topics.values()),
        sum(p.malformed for p in parts),
        tuple(states.values()),
    )


def request_prefixes(prefixes: Iterable[str]) -> list[str]:
    """The snapshot requests that cover ``prefixes``: only data topics (``tick.``, ``tbt.``,
    ``depth.``, ``bar.``, ``greeks.``) are cached, so a prefix that cannot match one
    (``status.``) needs none, ``tick`` becomes ``tick.`` and ``""`` every data prefix."""
    wanted: list[str] = []
    for prefix in prefixes:
        covered = [p for p in DATA_PREFIXES if p.startswith(prefix)]
        if not covered and prefix.startswith(DATA_PREFIXES):
            covered = [prefix]
        for one in covered:
            if one not in wanted:
                wanted.append(one)
    # A prefix covered by a shorter one adds nothing.
    return [p for p in wanted if not any(o != p and p.startswith(o) for o in wanted)]


class SnapshotClient:
    """A DEALER socket that sends snapshot requests and collects their replies, never blocking.

    :meth:`request` sends one request per prefix; :meth:`on_readable` returns the merged
    snapshot once every reply is in (or raises :class:`SnapshotError`). :meth:`cancel` drops an
    outstanding request: the socket is replaced, so a late reply cannot be taken for a new one.
    """

    def __init__(
        self, endpoint: str, context: zmq.Context[Any], curve: CurveKeys | None = None
    ) -> None:
        self.endpoint = endpoint
        self._context = context
        self._curve = curve
        self._socket: zmq.Socket[Any] | None = None
        self._expected = 0
        self._parts: list[Snapshot] = []

    @property
    def socket(self) -> zmq.Socket[Any]:
        """The DEALER socket (created on first use), for a ``zmq.Poller``."""
        if self._socket is None:
            sock: zmq.Socket[Any] = self._context.socket(zmq.DEALER)
            try:
                sock.setsockopt(zmq.LINGER, 0)
                if self._curve is not None:
                    self._curve.apply(sock)
                sock.connect(self.endpoint)
            except BaseException:
                sock.close(linger=0)
                raise
            self._socket = sock
        return self._socket

    @property
    def pending(self) -> bool:
        """True while replies are outstanding."""
        return self._expected > 0

    def request(self, prefixes: Sequence[str]) -> None:
        """Ask for the topics under each prefix (replacing any outstanding request)."""
        if self.pending:
            self.cancel()
        sock = self.socket
        self._parts = []
        self._expected = len(prefixes)
        for prefix in prefixes:
            # The empty delimiter makes the envelope a REQ socket's: the server echoes it back.
            sock.send_multipart([b"", encode_request(prefix)])

    def on_readable(self) -> Snapshot | None:
        """Read waiting replies; the merged snapshot once all are in, else None."""
        sock = self.socket
        while self._expected > 0:
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return None
            try:
                self._parts.append(decode_reply(frames[-1]))
            except SnapshotError:
                self.cancel()
                raise
            self._expected -= 1
        parts, self._parts = self._parts, []
        return merge(parts)

    def cancel(self) -> None:
        """Forget outstanding replies (by replacing the socket)."""
        self._expected = 0
        self._parts = []
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None

    def close(self) -> None:
        """Close the socket."""
        self.cancel()


def fetch(
    endpoint: str,
    prefix: str = "",
    *,
    timeout: float = DEFAULT_TIMEOUT,
    context: zmq.Context[Any] | None = None,
    curve: CurveKeys | None = None,
) -> Snapshot:
    """Ask the publisher at ``endpoint`` for a snapshot and wait up to ``timeout`` seconds."""
    own = context is None
    ctx: zmq.Context[Any] = zmq.Context() if context is None else context
    client = SnapshotClient(endpoint, ctx, curve)
    try:
        client.request([prefix])
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SnapshotError(f"no snapshot reply from {endpoint} within {timeout:g} s")
            # Short waits, so a signal arriving just before one is handled promptly.
            if not client.socket.poll(min(MAX_WAIT_MS, math.ceil(remaining * 1000))):
                continue
            snapshot = client.on_readable()
            if snapshot is not None:
                return snapshot
    finally:
        client.close()
        if own:
            ctx.term()
