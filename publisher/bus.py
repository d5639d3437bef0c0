"""The publishing side of the bus: one PUB socket, the envelope, per-topic sequence numbers.

Only the service thread touches a :class:`Bus` (ZeroMQ sockets are not thread-safe). Every
message is two frames, ``[topic, msgpack map]``; the envelope keys (``v``, ``type``, ``pub``,
``sid``, ``seq``, ``ts``) are added here so no caller can get them wrong.
"""

import logging
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import msgpack
import zmq

log = logging.getLogger(__name__)

SCHEMA_VERSION: Final = 1
LINGER_MS: Final = 1000
"""How long closing the PUB socket may wait to flush queued messages (bounded shutdown)."""

Clock = Callable[[], int]


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
        self._packer = msgpack.Packer()
        self._socket: zmq.Socket[Any] = context.socket(zmq.PUB)
        self._socket.setsockopt(zmq.SNDHWM, send_hwm)
        self._socket.setsockopt(zmq.LINGER, LINGER_MS)
        if before_bind is not None:  # options that must precede bind, such as CURVE
            before_bind(self._socket)
        self.endpoints: list[str] = []
        for endpoint in endpoints:
            self._socket.bind(endpoint)
            # A tcp port of 0 or * is resolved by the bind: report what subscribers must use.
            self.endpoints.append(self._socket.getsockopt_string(zmq.LAST_ENDPOINT))
        self.status_topic = f"status.{name}"
        self.heartbeat_topic = f"hb.{name}"

    @property
    def socket(self) -> zmq.Socket[Any]:
        """The PUB socket (for options such as CURVE set by the owner)."""
        return self._socket

    def publish(self, topic: str, kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Stamp and send one message; returns the payload as sent (for caches and tests)."""
        seq = self._seqs.get(topic, 0) + 1
        self._seqs[topic] = seq
        payload = {
            "v": SCHEMA_VERSION,
            "type": kind,
            "pub": self.name,
            "sid": self.sid,
            "seq": seq,
            "ts": self._clock_ns(),
        }
        payload.update(body)
        topic_bytes = self._topic_bytes.get(topic)
        if topic_bytes is None:
            topic_bytes = self._topic_bytes[topic] = topic.encode()
        data = self._packer.pack(payload)
        # Two calls measure faster than send_multipart (docs/performance.md).
        self._socket.send(topic_bytes, zmq.SNDMORE)
        self._socket.send(data, copy=False)
        if self._on_sent is not None:
            self._on_sent(kind)
        return payload

    def last_seq(self, topic: str) -> int:
        """The last ``seq`` sent on a topic (0 before the first)."""
        return self._seqs.get(topic, 0)

    def tick_seqs(self) -> dict[str, int]:
        """Last ``seq`` of every ``tick.`` topic, as heartbeats carry them."""
        return {t: s for t, s in self._seqs.items() if t.startswith("tick.")}

    def close(self) -> None:
        """Close the socket; queued messages get at most :data:`LINGER_MS` to leave."""
        self._socket.close(linger=LINGER_MS)
