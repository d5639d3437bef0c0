"""The subscriber library: a SUB socket that decodes, filters and sequence-checks bus messages.

::

    with Subscriber("tcp://127.0.0.1:7700", prefixes=["tick.AAPL"]) as sub:
        for msg in sub:
            print(msg.topic, msg.seq)

Subscriptions are ZeroMQ byte prefixes (``tick.ES`` also receives ``tick.ESZ6``). Exact keys
subscribe to ``tick.<key>`` and drop longer tick topics locally. Every topic's (``sid``, ``seq``)
is tracked by a :class:`SeqTracker`: gaps are counted, duplicates dropped, a new ``sid`` is a
publisher restart. Messages that break the contract are counted and skipped, never raised.

Only :class:`Subscriber` touches a socket; :class:`SeqTracker` is pure.
"""

import enum
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Self

import zmq

from subscribers.wire import TICK_PREFIX, Message, WireError, decode

DEFAULT_ENDPOINT: Final = "tcp://127.0.0.1:7700"
DEFAULT_SNAPSHOT_ENDPOINT: Final = "tcp://127.0.0.1:7701"
DEFAULT_RCVHWM: Final = 100_000
"""ZMQ_RCVHWM: messages queued in this process before ZeroMQ drops (a gap, counted)."""


class SeqStatus(enum.Enum):
    """How one (``sid``, ``seq``) relates to the last one seen on its topic."""

    FIRST = "first"
    """The first message seen on the topic: nothing to compare with (not a gap)."""
    NEXT = "next"
    """``seq`` is one above the last."""
    GAP = "gap"
    """``seq`` skipped ahead: the messages in between were lost."""
    RESTART = "restart"
    """A new ``sid``: the publisher restarted and counting starts over (not a gap)."""
    STALE = "stale"
    """``seq`` at or below the last in the same ``sid``: a duplicate or an old message."""


@dataclass(frozen=True, slots=True)
class SeqResult:
    """The verdict on one message's sequence number; ``missing`` counts the messages lost."""

    status: SeqStatus
    missing: int = 0

    @property
    def fresh(self) -> bool:
        """True unless the message is a duplicate or older than one already seen."""
        return self.status is not SeqStatus.STALE


_FIRST: Final = SeqResult(SeqStatus.FIRST)
_NEXT: Final = SeqResult(SeqStatus.NEXT)
_RESTART: Final = SeqResult(SeqStatus.RESTART)
_STALE: Final = SeqResult(SeqStatus.STALE)


class SeqTracker:
    """Per-topic (``sid``, ``seq``) bookkeeping: counts gaps, lost messages and restarts."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[int, int]] = {}
        self.gaps = 0
        """Gap events: how many times a topic's ``seq`` skipped ahead."""
        self.lost = 0
        """Messages lost: the sum of the ``seq`` numbers skipped."""
        self.restarts = 0
        """How many times a topic changed ``sid`` (a publisher restart)."""
        self.stale = 0
        """Duplicates and old messages seen (they do not change the state)."""

    def observe(self, topic: str, sid: int, seq: int) -> SeqResult:
        """Record one message's (``sid``, ``seq``) on ``topic`` and classify it."""
        last = self._last.get(topic)
        if last is None:
            self._last[topic] = (sid, seq)
            return _FIRST
        last_sid, last_seq = last
        if sid != last_sid:
            self._last[topic] = (sid, seq)
            self.restarts += 1
            return _RESTART
        if seq <= last_seq:
            self.stale += 1
            return _STALE
        self._last[topic] = (sid, seq)
        if seq == last_seq + 1:
            return _NEXT
        missing = seq - last_seq - 1
        self.gaps += 1
        self.lost += missing
        return SeqResult(SeqStatus.GAP, missing)

    def last(self, topic: str) -> tuple[int, int] | None:
        """The last (``sid``, ``seq``) recorded on ``topic``, or None before the first."""
        return self._last.get(topic)


@dataclass(frozen=True, slots=True)
class SubscriberStats:
    """Counters of one :class:`Subscriber` at one moment."""

    received: int = 0
    """Messages delivered to the caller."""
    malformed: int = 0
    """Messages that broke the contract (wrong frame count, failed :func:`decode`); skipped."""
    filtered: int = 0
    """Tick topics dropped by exact-key filtering (``tick.ESZ6`` when only ``ES`` is wanted)."""
    stale: int = 0
    """Duplicates and old messages; skipped."""
    gaps: int = 0
    """Gap events across all topics."""
    lost: int = 0
    """Messages lost in those gaps."""
    restarts: int = 0
    """Topics seen changing ``sid`` (publisher restarts)."""


class Subscriber:
    """A connected SUB socket delivering decoded, validated, in-order bus messages.

    ``prefixes`` are ZeroMQ byte-prefix subscriptions (``""`` is everything). ``exact_keys`` adds
    a subscription to ``tick.<key>`` for each key and, once any are given, restricts tick topics
    to exactly those keys; status and heartbeat topics still pass when a prefix selects them.
    Pass ``context`` to share a ZeroMQ context (it is then not terminated by :meth:`close`).
    """

    def __init__(
        self,
        endpoint: str = DEFAULT_ENDPOINT,
        *,
        prefixes: Sequence[str] = ("",),
        exact_keys: Sequence[str] = (),
        context: zmq.Context[Any] | None = None,
        rcvhwm: int = DEFAULT_RCVHWM,
    ) -> None:
        if isinstance(prefixes, str) or isinstance(exact_keys, str):
            raise TypeError("prefixes and exact_keys are sequences of str, not one str")
        if any(not key for key in exact_keys):
            raise ValueError("an exact key cannot be empty")
        self.endpoint = endpoint
        self.seq = SeqTracker()
        self.last_error: WireError | None = None
        """The most recent malformed message's error (for diagnostics)."""
        self._exact_topics = frozenset((TICK_PREFIX + key).encode() for key in exact_keys)
        self._received = 0
        self._malformed = 0
        self._filtered = 0
        self._own_context = context is None
        self._context: zmq.Context[Any] = zmq.Context() if context is None else context
        self._socket: zmq.Socket[Any] = self._context.socket(zmq.SUB)
        try:
            self._socket.setsockopt(zmq.RCVHWM, rcvhwm)
            self._socket.setsockopt(zmq.LINGER, 0)
            for topic in dict.fromkeys([*prefixes, *(TICK_PREFIX + key for key in exact_keys)]):
                self._socket.setsockopt(zmq.SUBSCRIBE, topic.encode())
            self._socket.connect(endpoint)
        except BaseException:
            self.close()
            raise

    @property
    def socket(self) -> zmq.Socket[Any]:
        """The SUB socket (to register with a ``zmq.Poller``; only :meth:`recv` should read it)."""
        return self._socket

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run."""
        return bool(self._socket.closed)

    @property
    def stats(self) -> SubscriberStats:
        """The counters as they are now."""
        return SubscriberStats(
            received=self._received,
            malformed=self._malformed,
            filtered=self._filtered,
            stale=self.seq.stale,
            gaps=self.seq.gaps,
            lost=self.seq.lost,
            restarts=self.seq.restarts,
        )

    def recv(self, timeout: float | None = None) -> Message | None:
        """The next message, or None if ``timeout`` seconds pass first (None waits for ever)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if deadline is None:
                ready = self._socket.poll(None)
            else:
                remaining = deadline - time.monotonic()
                ready = self._socket.poll(max(0, math.ceil(remaining * 1000)))
            if not ready:
                return None
            msg = self._accept(self._socket.recv_multipart())
            if msg is not None:
                return msg
            if deadline is not None and time.monotonic() >= deadline:
                return None

    def __iter__(self) -> Iterator[Message]:
        """Messages as they arrive, for ever (until the socket is closed)."""
        while True:
            msg = self.recv(None)
            if msg is not None:
                yield msg

    def _accept(self, frames: list[bytes]) -> Message | None:
        """Decode, filter and sequence-check one received message; None if it is skipped."""
        if len(frames) != 2:
            name = frames[0].decode("utf-8", "backslashreplace") if frames else ""
            self._count_malformed(WireError(f"{len(frames)} frames, not 2", name))
            return None
        topic, payload = frames
        if self._exact_topics and topic.startswith(b"tick.") and topic not in self._exact_topics:
            self._filtered += 1
            return None
        try:
            msg = decode(topic, payload)
        except WireError as exc:
            self._count_malformed(exc)
            return None
        if not self.seq.observe(msg.topic, msg.sid, msg.seq).fresh:
            return None
        self._received += 1
        return msg

    def _count_malformed(self, error: WireError) -> None:
        self._malformed += 1
        self.last_error = error

    def close(self) -> None:
        """Close the socket (pending messages are dropped) and any context this object made."""
        self._socket.close(linger=0)
        if self._own_context:
            self._context.term()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
