"""The last-value cache and the ROUTER socket that serves it to late joiners (contract v1).

:class:`LastValueCache` keeps the latest tick payload of every (topic, field); the tick path
records into it once per tick, so :meth:`LastValueCache.record` is two dict operations and
nothing else. :func:`build_reply` is pure: a request's bytes in, a reply Struct out.
:class:`SnapshotServer` owns the ROUTER socket and runs on the service thread (registered with
``PublisherService.add_pollable``). Each call answers at most :data:`REQUESTS_PER_CALL` requests
and stops early once :data:`TICKS_PER_CALL` ticks have been packed, so a crowd of late joiners
cannot stall the tick path for long; the rest wait for the next turn of the service loop. One
reply costs about 0.3 us per tick it carries, built and encoded (a full snapshot of 1000
instruments with 15 fields each: 4.6 ms on a shared 2-core machine, where msgpack.Packer took
11.7 ms).

Request, one frame, msgpack ``{"v": 1, "prefix": "tick.AAPL"}`` (``""``: every topic). Reply, one
frame, msgpack ``{"v": 1, "sid": int, "ts": int, "topics": [{"topic", "seq", "ticks"}]}``. A
request that cannot be understood gets ``{"v": 1, "error": "<why>"}`` instead of silence. All
three are Structs of the one wire schema (:mod:`publisher.core.schema`: ``SnapshotRequest``,
``SnapshotReply``, ``SnapshotRefusal``), the same ones ``subscribers.snapshot`` decodes; the
cached ticks ride in the reply as the dicts they were published as, so their bytes are unchanged.
"""

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any, Final

import msgspec
import zmq
from msgspec import UNSET

from publisher.bus.publish import Bus
from publisher.core.schema import (
    SCHEMA_VERSION,
    SnapshotBook,
    SnapshotRefusal,
    SnapshotReply,
    SnapshotRequest,
    SnapshotTopic,
)
from publisher.errors import IbpubError
from subscribers.depth import DepthBook

log = logging.getLogger(__name__)

REQUESTS_PER_CALL: Final = 4
"""Snapshot requests answered per service-loop turn at most; the rest wait for the next turn."""
TICKS_PER_CALL: Final = 5000
"""A turn stops answering once its replies carried this many ticks (always at least one)."""
MAX_REQUEST_BYTES: Final = 4096
"""A request is a tiny map; ZeroMQ disconnects a peer that sends a bigger message."""
SEND_HWM: Final = 16
"""Replies queued per client: a client that never reads loses replies (counted as
``slow_client`` refusals), the publisher nothing; a full snapshot can be megabytes, so 16 of
them bound what one stuck client holds."""

Payload = dict[str, Any]
Reply = SnapshotReply[Payload] | SnapshotRefusal
"""What :func:`build_reply` answers: the snapshot, or why the request was refused."""
SocketSetup = Callable[[zmq.Socket[Any]], None]


class LastValueCache:
    """The latest tick payload of every (topic, field), exactly as it was published, and the
    order book of every ``depth.`` topic (contract 1.1)."""

    __slots__ = ("_topics", "books")

    def __init__(self) -> None:
        self._topics: dict[str, dict[str, Payload]] = {}
        self.books: dict[str, DepthBook] = {}
        """Depth topic -> its book, kept by the tick path (:mod:`publisher.core.kindpath`)."""

    def record(self, topic: str, payload: Payload) -> None:
        """Keep ``payload`` as its topic's latest value of its field (hot path: keep it cheap)."""
        fields = self._topics.get(topic)
        if fields is None:
            fields = self._topics[topic] = {}
        fields[payload["field"]] = payload

    def record_slot(self, topic: str, slot: str, payload: Payload) -> None:
        """Keep ``payload`` as its topic's latest in ``slot``: a greeks field, a tick-by-tick
        kind, the one bar; a depth change is kept in its book instead (``slot`` empty)."""
        if not slot:
            return
        slots = self._topics.get(topic)
        if slots is None:
            slots = self._topics[topic] = {}
        slots[slot] = payload

    def book_topics(self, prefix: str = "") -> Iterator[tuple[str, SnapshotBook]]:
        """Each depth topic starting with ``prefix`` and its whole book, best rows first."""
        for topic, book in self.books.items():
            if topic.startswith(prefix):
                yield topic, SnapshotBook(bids=list(book.bids), asks=list(book.asks))

    def topics(self, prefix: str = "") -> Iterator[tuple[str, list[Payload]]]:
        """Each topic starting with ``prefix`` and its latest ticks, oldest first (by seq)."""
        for topic, fields in self._topics.items():
            if topic.startswith(prefix):
                yield topic, sorted(fields.values(), key=_seq)

    def __len__(self) -> int:
        """How many ticks are cached, over all topics."""
        return sum(len(fields) for fields in self._topics.values())


def _seq(payload: Payload) -> int:
    seq: int = payload["seq"]
    return seq


class RequestError(IbpubError, ValueError):
    """A snapshot request the server cannot answer; the reason goes back to the client."""


_decode_request: Final = msgspec.msgpack.Decoder(SnapshotRequest).decode


def parse_request(body: bytes) -> str:
    """The prefix a request asks for; raises :class:`RequestError` saying what is wrong."""
    try:
        return _decode_request(body).prefix
    except msgspec.ValidationError as exc:
        raise _refusal(body, exc) from None
    except msgspec.DecodeError:  # (after ValidationError, its subclass)
        raise RequestError("request is not valid msgpack") from None


def _refusal(body: bytes, exc: msgspec.ValidationError) -> RequestError:
    """Why the typed decoder refused a request, in the words clients have always been given."""
    try:
        request = msgspec.msgpack.decode(body)
    except msgspec.DecodeError:  # refused as it was read, before its trailing bytes were seen
        return RequestError("request is not valid msgpack")
    if not isinstance(request, dict):
        return RequestError("request must be a msgpack map")
    version = request.get("v")
    if version != SCHEMA_VERSION or type(version) is not int:
        return RequestError(f"unsupported schema version {version!r} (this server speaks 1)")
    if not isinstance(request.get("prefix", ""), str):
        return RequestError("prefix must be a str")
    return RequestError(f"malformed request ({exc})")


def build_reply(
    body: bytes,
    cache: LastValueCache,
    *,
    sid: int,
    last_seq: Callable[[str], int],
    clock_ns: Callable[[], int] = time.time_ns,
    states: Callable[[], list[Any]] | None = None,
) -> Reply:
    """The reply to one request ``body`` (a refusal if the request is malformed).

    ``states`` gives the latest status of every (scope, key) as published (contract 1.1); they
    ride in every reply whatever the prefix, since a late joiner needs them all."""
    try:
        prefix = parse_request(body)
    except RequestError as exc:
        return SnapshotRefusal(v=SCHEMA_VERSION, error=str(exc))
    topics: list[SnapshotTopic[Payload]] = [
        SnapshotTopic(topic=topic, seq=last_seq(topic), ticks=ticks)
        for topic, ticks in cache.topics(prefix)
    ]
    topics += [
        SnapshotTopic(topic=topic, seq=last_seq(topic), ticks=[], book=book)
        for topic, book in cache.book_topics(prefix)
    ]
    if states is None:
        return SnapshotReply(v=SCHEMA_VERSION, sid=sid, ts=clock_ns(), topics=topics)
    return SnapshotReply(v=SCHEMA_VERSION, sid=sid, ts=clock_ns(), topics=topics, states=states())


class SnapshotServer:
    """A bound ROUTER socket answering snapshot requests from a :class:`LastValueCache`.

    Only the service thread may call :meth:`on_readable` and :meth:`close`. ``before_bind`` can
    set socket options (CURVE) that must be in place before the socket binds.
    """

    def __init__(
        self,
        endpoint: str,
        cache: LastValueCache,
        *,
        sid: int,
        last_seq: Callable[[str], int],
        context: zmq.Context[Any],
        before_bind: SocketSetup | None = None,
    ) -> None:
        self.cache = cache
        self._sid = sid
        self._last_seq = last_seq
        # msgspec writes the bytes msgpack.Packer wrote (tests/bus/test_snapshot_cache.py).
        self._pack = msgspec.msgpack.Encoder().encode
        self.served = 0
        self.rejected = 0
        self.refused: dict[str, int] = {}
        """Requests refused by reason (``malformed``, ``slow_client``): ibpub_refused_total."""
        self.states: Callable[[], list[Any]] | None = None
        """The latest statuses for the reply's ``states`` (the service sets it)."""
        self._socket: zmq.Socket[Any] = context.socket(zmq.ROUTER)
        try:
            self._socket.setsockopt(zmq.LINGER, 0)
            self._socket.setsockopt(zmq.MAXMSGSIZE, MAX_REQUEST_BYTES)
            self._socket.setsockopt(zmq.SNDHWM, SEND_HWM)
            self._socket.setsockopt(zmq.ROUTER_MANDATORY, 1)  # a full queue tells us (counted)
            if before_bind is not None:
                before_bind(self._socket)
            self._socket.bind(endpoint)
            self.endpoint = self._socket.getsockopt_string(zmq.LAST_ENDPOINT)
        except BaseException:
            self._socket.close(linger=0)
            raise

    @classmethod
    def for_bus(
        cls, bus: Bus, endpoint: str, before_bind: SocketSetup | None = None
    ) -> "SnapshotServer":
        """A server on ``endpoint`` with a new cache, for ``bus``'s session and sequences."""
        return cls(
            endpoint,
            LastValueCache(),
            sid=bus.sid,
            last_seq=bus.last_seq,
            context=bus.socket.context,
            before_bind=before_bind,
        )

    @property
    def socket(self) -> zmq.Socket[Any]:
        """The ROUTER socket, for the service loop's poller."""
        return self._socket

    def on_readable(self) -> None:
        """Answer waiting requests within this turn's budget; never blocks."""
        ticks = 0
        for _ in range(REQUESTS_PER_CALL):
            try:
                frames = self._socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            ticks += self._answer(frames)
            if ticks >= TICKS_PER_CALL:
                return

    def _answer(self, frames: list[bytes]) -> int:
        """Reply to one request; returns how many ticks the reply carried."""
        # ROUTER prepends the peer's identity; a REQ peer adds an empty delimiter frame. The
        # request body is the last frame and everything before it is the envelope to echo.
        *envelope, body = frames
        if not envelope:
            return 0  # cannot happen on a ROUTER; nothing to reply to
        reply = build_reply(
            body, self.cache, sid=self._sid, last_seq=self._last_seq, states=self.states
        )
        if isinstance(reply, SnapshotRefusal):
            self.rejected += 1
            self.refused["malformed"] = self.refused.get("malformed", 0) + 1
            if self.rejected == 1:  # one line, not one per bad client request
                log.warning("malformed snapshot request", extra={"error": reply.error})
            ticks = 0
        else:
            self.served += 1
            ticks = sum(
                len(topic.ticks) + (0 if topic.book is UNSET else len(topic.book.bids))
                for topic in reply.topics
            )
        self._send(envelope, self._pack(reply))
        return ticks

    def _send(self, envelope: list[bytes], data: bytes) -> None:
        """Send a reply without ever blocking: one for a peer whose queue is full (it does not
        read) is dropped and counted; one for a peer that has gone is dropped."""
        try:
            self._socket.send_multipart([*envelope, data], zmq.NOBLOCK)
        except zmq.Again:
            self.refused["slow_client"] = self.refused.get("slow_client", 0) + 1
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EHOSTUNREACH:
                raise

    def close(self) -> None:
        """Close the socket; unsent replies are dropped."""
        self._socket.close(linger=0)
