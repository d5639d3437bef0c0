"""From bus messages to JetStream messages: subjects, ``Nats-Msg-Id``, and gaps. Pure.

:class:`Copier` takes each ``[topic, payload]`` the bridge receives and returns what to store:
the payload unchanged on ``ibpub.<pub>.<topic>`` with ``Nats-Msg-Id: <pub>:<sid>:<topic>:<seq>``
(so a retried publish, a restarted bridge or a second bridge on the same bus never stores a
message twice), preceded by a ``gap`` message on ``ibpub.<pub>.gap.<topic>`` when the ZeroMQ
side lost something. Loss is detected exactly as the subscriber library detects it
(:class:`subscribers.tracking.SeqTracker`): a ``seq`` that skips ahead, a heartbeat's ``seqs``
above the last ``seq`` received, and a publisher restart whose first message is not ``seq`` 1.

:class:`OutageBuffer` holds what is waiting for JetStream, bounded: past ``max_buffered`` it
drops the oldest message, counts it and remembers the dropped ``seq`` runs so that a ``gap`` is
stored for them once NATS is back.
"""

from collections import deque
from dataclasses import dataclass
from typing import Final

import msgspec

from subscribers.schema import HEARTBEAT_PREFIX, SCHEMA_VERSION, GapPayload
from subscribers.tracking import SeqStatus, SeqTracker

__all__ = ["SUBJECT_ROOT", "Copier", "OutageBuffer", "Stored", "gap_message", "subject_for"]

SUBJECT_ROOT: Final = "ibpub"
MSG_ID: Final = "Nats-Msg-Id"


class _Head(msgspec.Struct, frozen=True):
    """The keys of any bus payload the bridge reads (the rest is copied, not decoded)."""

    pub: str
    sid: int
    seq: int
    seqs: dict[str, int] | None = None


_HEAD: Final = msgspec.msgpack.Decoder(_Head)
_GAP: Final = msgspec.msgpack.Encoder()


@dataclass(frozen=True, slots=True)
class Stored:
    """One message for JetStream: its subject, payload and ``Nats-Msg-Id``.

    ``topic``/``sid``/``seq`` say which bus message it is (``seq`` 0 for a gap message)."""

    subject: str
    payload: bytes
    msg_id: str
    pub: str
    topic: str
    sid: int
    seq: int

    @property
    def headers(self) -> dict[str, str]:
        return {MSG_ID: self.msg_id}


def subject_for(pub: str, topic: str) -> str:
    """``ibpub.<pub>.<topic>``: ``ibpub.ibpub.tick.AAPL``."""
    return f"{SUBJECT_ROOT}.{pub}.{topic}"


def gap_message(pub: str, topic: str, sid: int, first: int, last: int, reason: str) -> Stored:
    """The ``gap`` message for ``first``..``last`` (inclusive) of ``topic`` in session ``sid``."""
    payload = GapPayload(
        v=SCHEMA_VERSION,
        type="gap",
        topic=topic,
        sid=sid,
        from_seq=first,
        to_seq=last,
        reason=reason,
    )
    return Stored(
        subject=subject_for(pub, f"gap.{topic}"),
        payload=_GAP.encode(payload),
        msg_id=f"{pub}:{sid}:gap.{topic}:{first}-{last}",
        pub=pub,
        topic=f"gap.{topic}",
        sid=sid,
        seq=0,
    )


class Copier:
    """Bus frames in, messages to store out; counts what it could not read."""

    def __init__(self) -> None:
        self._trackers: dict[str, SeqTracker] = {}
        self.malformed = 0
        """Messages without a readable ``pub``/``sid``/``seq``: not stored (they have no id)."""
        self.gaps = 0
        """Gap messages made for losses seen on the ZeroMQ side."""
        self.lost = 0
        """Messages those gaps cover."""

    def copy(self, topic_bytes: bytes, payload: bytes) -> list[Stored]:
        """What to store for one bus message (the message itself, after any gap it reveals)."""
        try:
            topic = topic_bytes.decode("utf-8")
            head = _HEAD.decode(payload)
        except (UnicodeDecodeError, msgspec.DecodeError):
            self.malformed += 1
            return []
        if not topic or " " in topic or head.sid <= 0 or head.seq <= 0:
            self.malformed += 1
            return []
        tracker = self._trackers.setdefault(head.pub, SeqTracker())
        out: list[Stored] = []
        verdict = tracker.observe(topic, head.sid, head.seq)
        if verdict.status is SeqStatus.GAP:
            first = head.seq - verdict.missing
            out.append(self._gap(head.pub, topic, head.sid, first, head.seq - 1, "seq"))
        elif verdict.status is SeqStatus.RESTART and head.seq > 1:
            out.append(self._gap(head.pub, topic, head.sid, 1, head.seq - 1, "restart"))
        elif verdict.status is SeqStatus.STALE:
            pass  # a repeat: stored again under the same id, so JetStream drops it
        if topic.startswith(HEARTBEAT_PREFIX) and head.seqs:
            for data_topic, last_sent in sorted(head.seqs.items()):
                before = tracker.last(data_topic)
                missing = tracker.observe_tail(data_topic, head.sid, last_sent)
                if missing and before is not None:
                    first = before[1] + 1
                    out.append(self._gap(head.pub, data_topic, head.sid, first, last_sent, "tail"))
        out.append(
            Stored(
                subject=subject_for(head.pub, topic),
                payload=payload,
                msg_id=f"{head.pub}:{head.sid}:{topic}:{head.seq}",
                pub=head.pub,
                topic=topic,
                sid=head.sid,
                seq=head.seq,
            )
        )
        return out

    def knows(self, pub: str, topic: str) -> bool:
        """Whether ``topic`` of ``pub`` has been seen (or seeded) since the bridge started."""
        tracker = self._trackers.get(pub)
        return tracker is not None and tracker.last(topic) is not None

    def seed(self, pub: str, topic: str, sid: int, seq: int) -> None:
        """The stream's last stored (``sid``, ``seq``) of ``topic`` (read at a bridge start), so
        a span lost while no bridge ran is stored as a gap, and nothing stored is repeated."""
        self._trackers.setdefault(pub, SeqTracker()).reset(topic, sid, seq)

    def head(self, topic_bytes: bytes, payload: bytes) -> tuple[str, str, int] | None:
        """(pub, topic, sid) of a bus message, or None when it cannot be read."""
        try:
            head = _HEAD.decode(payload)
            return head.pub, topic_bytes.decode("utf-8"), head.sid
        except (UnicodeDecodeError, msgspec.DecodeError):
            return None

    def _gap(self, pub: str, topic: str, sid: int, first: int, last: int, reason: str) -> Stored:
        self.gaps += 1
        self.lost += last - first + 1
        return gap_message(pub, topic, sid, first, last, reason)


class OutageBuffer:
    """Messages waiting for JetStream, at most ``limit``; the oldest dropped past it (counted).

    Dropped messages are remembered as runs of ``seq`` per (pub, topic, sid); :meth:`take`
    hands out their gap messages first, so the loss is stored once NATS takes messages again.
    Messages put back after a publish that was not acknowledged are never dropped: they may
    have been stored (the acknowledgement, not the message, may be what was lost), so a gap
    for them could claim a loss that did not happen. They are at most one publish window.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._retry: deque[Stored] = deque()
        self._queue: deque[Stored] = deque()
        self._runs: dict[tuple[str, str, int], list[list[int]]] = {}
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._retry) + len(self._queue)

    @property
    def has_gaps(self) -> bool:
        """Whether dropped runs wait to be stored as gap messages."""
        return bool(self._runs)

    def put(self, item: Stored) -> None:
        self._queue.append(item)
        while self._queue and len(self) > self._limit:
            self._drop(self._queue.popleft())

    def put_back(self, items: list[Stored]) -> None:
        """Queue unacknowledged messages for a retry, before anything new, in the order they
        failed (which is the order they were published)."""
        self._retry.extend(items)

    def _drop(self, item: Stored) -> None:
        self.dropped += 1
        if item.seq == 0:
            return  # a gap message cannot be dropped as a run; counted only (rare: a full buffer)
        runs = self._runs.setdefault((item.pub, item.topic, item.sid), [])
        if runs and runs[-1][1] + 1 == item.seq:
            runs[-1][1] = item.seq
        else:
            runs.append([item.seq, item.seq])

    def take(self, count: int) -> list[Stored]:
        """Up to ``count`` messages to publish now: retries first, then gaps for dropped runs."""
        out: list[Stored] = []
        while self._retry and len(out) < count:
            out.append(self._retry.popleft())
        for (pub, topic, sid), runs in sorted(self._runs.items()):
            out.extend(gap_message(pub, topic, sid, a, b, "bridge_buffer_full") for a, b in runs)
        self._runs.clear()
        while self._queue and len(out) < count:
            out.append(self._queue.popleft())
        return out
