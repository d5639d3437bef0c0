"""The publishing side of the bus: one PUB socket, the envelope, per-topic sequence numbers.

Only the service thread touches a :class:`Bus` (ZeroMQ sockets are not thread-safe). Every
message is two frames, ``[topic, msgpack map]``. Status and heartbeat messages are Structs of
the one wire schema (:mod:`publisher.core.schema`), built and sent by :meth:`Bus.publish_status`
and :meth:`Bus.publish_heartbeat`; :meth:`Bus.publish` adds the envelope keys (``v``, ``type``,
``pub``, ``sid``, ``seq``, ``ts``) to any body map; ticks, the hot path, arrive with the whole
map already built and get their ``seq`` and ``ts`` here (:meth:`Bus.queue_tick`). Either way
the sequence numbers and timestamps are only ever set here.
"""

import logging
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import msgspec
import zmq

from publisher.core.schema import (
    DATA_PREFIXES,
    HEARTBEAT_PREFIX,
    SCHEMA_VERSION,
    STATUS_PREFIX,
    HeartbeatPayload,
    StatusPayload,
    heartbeat_message,
    status_message,
)

__all__ = ["LINGER_MS", "SCHEMA_VERSION", "Bus", "Clock", "new_session_id"]

log = logging.getLogger(__name__)

_SNDMORE: Final = zmq.SNDMORE
# Not Final: a compiled (mypyc) module would bind a Final at build time, and the tests catch the
# frames here (tests/bus/test_publish.py); a plain global stays looked up at each call.
_send_frame = zmq.backend.Socket.send
LINGER_MS: Final = 1000
"""How long closing the PUB socket may wait to flush queued messages (bounded shutdown)."""

Clock = Callable[[], int]


MAX_INBOUND_BYTES: Final = 65_536
"""The largest message a subscriber may send the PUB socket (its subscriptions: topic
prefixes); a bigger one disconnects that subscriber, so garbage cannot grow our memory."""


def _bound_inbound(socket: zmq.Socket[Any]) -> None:
    """What a peer may send the PUB socket is bounded (ZMQ_MAXMSGSIZE)."""
    socket.setsockopt(zmq.MAXMSGSIZE, MAX_INBOUND_BYTES)


def new_session_id() -> int:
    """A random publisher session id, 0 < sid < 2**63, new at every publisher start."""
    while True:
        sid = secrets.randbits(63)
        if sid:
            return sid


class Bus:
    """A bound PUB socket that stamps, sequences, encodes and sends contract v1 messages."""

    def __init__(
        self,
        *,
        name: str,
        endpoints: Sequence[str],
        send_hwm: int,
        context: zmq.Context[Any],
        sid: int | None = None,
        clock_ns: Clock = time.time_ns,
        on_sent: Callable[[str], None] | None = None,
        before_bind: Callable[[zmq.Socket[Any]], None] | None = None,
    ) -> None:
        self.name = name
        self.sid = sid if sid is not None else new_session_id()
        self._clock_ns = clock_ns
        self._on_sent = on_sent
        self._seqs: dict[str, int] = {}
        self._topic_bytes: dict[str, bytes] = {}
        # msgspec writes the same bytes as msgpack.Packer (tests/bus/test_publish.py) in
        # about 0.35 us per tick instead of 0.8 (docs/performance.md).
        self._pack = msgspec.msgpack.Encoder().encode
        self._queued: list[tuple[bytes, bytes]] = []
        """Ticks stamped and encoded but not yet sent: ``(topic, payload)``."""
        self._socket: zmq.Socket[Any] = context.socket(zmq.PUB)
        self._socket.setsockopt(zmq.SNDHWM, send_hwm)
        self._socket.setsockopt(zmq.LINGER, LINGER_MS)
        _bound_inbound(self._socket)
        if before_bind is not None:  # options that must precede bind, such as CURVE
            before_bind(self._socket)
        self.endpoints: list[str] = []
        for endpoint in endpoints:
            self._socket.bind(endpoint)
            # A tcp port of 0 or * is resolved by the bind: report what subscribers must use.
            self.endpoints.append(self._socket.getsockopt_string(zmq.LAST_ENDPOINT))
        self.status_topic = STATUS_PREFIX + name
        self.heartbeat_topic = HEARTBEAT_PREFIX + name

    @property
    def socket(self) -> zmq.Socket[Any]:
        """The PUB socket (for options such as CURVE set by the owner)."""
        return self._socket

    def publish(self, topic: str, kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Stamp and send one message; returns the payload as sent (for caches and tests).

        Queued ticks (:meth:`queue_tick`) go out first, so messages leave in the order they
        were stamped.
        """
        if self._queued:
            self.send_queued()
        payload, topic_bytes = self._stamp(topic, kind, body)
        self._send_now(topic_bytes, self._pack(payload), kind)
        return payload

    def publish_status(
        self,
        scope: str,
        state: str,
        *,
        key: str | None = None,
        code: int | None = None,
        message: str = "",
    ) -> StatusPayload:
        """Send a change of state on ``status.<name>``; returns the payload as sent.

        The same bytes as ``publish(status_topic, "status", {"scope": ..., "state": ...,
        "key": ..., "code": ..., "message": ...})`` (tests/bus/test_publish.py), built from the
        schema's :class:`~publisher.core.schema.StatusPayload`.
        """
        if self._queued:
            self.send_queued()
        topic = self.status_topic
        payload = status_message(
            pub=self.name,
            sid=self.sid,
            seq=self._next_seq(topic),
            ts=self._clock_ns(),
            scope=scope,
            state=state,
            key=key,
            code=code,
            message=message,
        )
        self._send_now(self._topic_frame(topic), self._pack(payload), "status")
        return payload

    def publish_heartbeat(self, gateway: str) -> HeartbeatPayload:
        """Send a heartbeat on ``hb.<name>`` with every tick topic's last seq; returns it."""
        if self._queued:
            self.send_queued()
        topic = self.heartbeat_topic
        payload = heartbeat_message(
            pub=self.name,
            sid=self.sid,
            seq=self._next_seq(topic),
            ts=self._clock_ns(),
            gateway=gateway,
            seqs=self.tick_seqs(),
        )
        self._send_now(self._topic_frame(topic), self._pack(payload), "hb")
        return payload

    def _send_now(self, topic_bytes: bytes, data: bytes, kind: str) -> None:
        _send_frame(self._socket, topic_bytes, _SNDMORE)
        _send_frame(self._socket, data)
        if self._on_sent is not None:
            self._on_sent(kind)

    def queue_tick(self, topic: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Stamp a tick's ``seq`` and ``ts`` and encode it now; it is sent by
        :meth:`send_queued` (or before the next :meth:`publish`). Returns the payload.

        The caller (:class:`publisher.core.tickpath.TickPath`) builds the whole payload in one dict,
        envelope included (``v``, ``type``, ``pub`` = :attr:`name`, ``sid`` = :attr:`sid`,
        placeholders for ``seq`` and ``ts``): building it once instead of merging a body into
        an envelope saves about a tenth of a tick's cost. ``on_sent`` is not called: the tick
        path counts its own messages (:meth:`publisher.core.tickpath.TickPath.flush`).

        Sending a read's ticks back to back lets ZeroMQ's I/O thread wake once per batch
        instead of once per message (docs/performance.md).
        """
        seqs = self._seqs
        payload["seq"] = seqs[topic] = seqs.get(topic, 0) + 1
        payload["ts"] = self._clock_ns()
        topic_bytes = self._topic_bytes.get(topic)
        if topic_bytes is None:
            topic_bytes = self._topic_bytes[topic] = topic.encode()
        self._queued.append((topic_bytes, self._pack(payload)))
        return payload

    def send_queued(self) -> int:
        """Send every queued tick, in order; returns how many were sent."""
        queued = self._queued
        sock = self._socket
        # Two plain sends per message, straight to pyzmq's compiled Socket.send:
        # send_multipart costs about 3x as much, and the pure-Python keyword wrapper of
        # zmq.Socket.send about 2x (docs/performance.md). Copying beats zero-copy this small.
        for topic_bytes, data in queued:
            _send_frame(sock, topic_bytes, _SNDMORE)
            _send_frame(sock, data)
        count = len(queued)
        queued.clear()
        return count

    def _stamp(
        self, topic: str, kind: str, body: Mapping[str, Any]
    ) -> tuple[dict[str, Any], bytes]:
        """The payload with its envelope (the next ``seq`` of the topic), and the topic bytes."""
        seq = self._next_seq(topic)
        payload = {
            "v": SCHEMA_VERSION,
            "type": kind,
            "pub": self.name,
            "sid": self.sid,
            "seq": seq,
            "ts": self._clock_ns(),
            **body,
        }
        return payload, self._topic_frame(topic)

    def _next_seq(self, topic: str) -> int:
        seqs = self._seqs
        seq = seqs[topic] = seqs.get(topic, 0) + 1
        return seq

    def _topic_frame(self, topic: str) -> bytes:
        topic_bytes = self._topic_bytes.get(topic)
        if topic_bytes is None:
            topic_bytes = self._topic_bytes[topic] = topic.encode()
        return topic_bytes

    def last_seq(self, topic: str) -> int:
        """The last ``seq`` sent on a topic (0 before the first)."""
        return self._seqs.get(topic, 0)

    def tick_seqs(self) -> dict[str, int]:
        """Last ``seq`` of every data topic (``tick.``, ``tbt.``, ``depth.``, ``bar.``,
        ``greeks.``), as heartbeats carry them (contract 1.1)."""
        return {t: s for t, s in self._seqs.items() if t.startswith(DATA_PREFIXES)}

    def close(self) -> None:
        """Send queued ticks, then close the socket; messages get at most :data:`LINGER_MS` to
        leave."""
        self.send_queued()
        self._socket.close(linger=LINGER_MS)
