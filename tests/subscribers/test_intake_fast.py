"""Intake.take, the fused path of the common tick, against the full path (pure, no sockets).

The same frames go to two intakes: one takes every message through ``decode``,
``note_session`` and ``process`` (the full path), the other as ``Subscriber`` does (``take``
first, the full path when it says None). Every delivered message, counter, event, quote and
``seq`` must agree, for a stream mixing the common tick with everything ``take`` must refuse.
"""

from typing import Any

import msgpack
import pytest

from subscribers.events import Event
from subscribers.intake import Intake
from subscribers.liveness import HeartbeatWatch
from subscribers.selection import Selection
from subscribers.wire import Message

SID = 5823457712398741234
OTHER_SID = 77
TS = 1767268801123456789


def tick(key: str = "AAPL", seq: int = 1, **overrides: Any) -> list[bytes]:
    """The two frames of a valid tick (a bid) of ``key``, with some keys replaced or, when
    None-marked, gone."""
    payload: dict[str, Any] = {
        "v": 1,
        "type": "tick",
        "pub": "ibpub",
        "sid": SID,
        "seq": seq,
        "ts": TS + seq,
        "key": key,
        "conid": 265598,
        "field": "bid",
        "tick_type": 1,
        "price": 189.5 + seq,
        "attrib": 0,
        "mdt": 1,
        "ts_recv": TS,
    }
    payload.update(overrides)
    payload = {k: v for k, v in payload.items() if v is not None}
    return [f"tick.{key}".encode(), msgpack.packb(payload)]


def heartbeat(seqs: dict[str, int], sid: int = SID) -> list[bytes]:
    body = {"v": 1, "type": "hb", "pub": "ibpub", "sid": sid, "seq": 1, "ts": TS}
    return [b"hb.ibpub", msgpack.packb({**body, "gateway": "connected", "seqs": seqs})]


def stream() -> list[list[bytes]]:
    """Common ticks interleaved with every kind of message ``take`` must leave alone."""
    frames = [tick("AAPL", 1), tick("AAPL", 2), tick("MSFT", 1), tick("AAPL", 3)]
    frames += [tick("AAPL", 3)]  # a duplicate: stale
    frames += [tick("AAPL", 6)]  # a gap of 2
    frames += [tick("AAPL", 7), tick("MSFT", 2)]
    frames += [tick("AAPL", 8, price=190)]  # an int price: malformed
    frames += [tick("AAPL", 8)[:1] + tick("MSFT", 8)[1:]]  # key mismatch
    frames += [tick("AAPL", 8, mdt=None)]  # a missing key
    frames += [tick("AAPL", 8, size=3.0)]  # price and size
    frames += [[b"tick.AAPL", b"\xc1"]]  # not msgpack
    frames += [[b"tick.", tick()[1]], [b"tick.\xff", tick()[1]]]  # no key, not UTF-8
    frames += [[b"bar.AAPL", b"\x80"], [b"news.AAPL", tick()[1]]]  # other kinds, unknown
    frames += [tick("AAPL", 8, price=None, size=None, attrib=None, value="x")]
    frames += [tick("AAPL", 9, price=None, attrib=None, size=5.0)]
    frames += [tick("AAPL", 10, price=None, attrib=None, size=None, value=1.5)]
    frames += [heartbeat({"tick.AAPL": 12, "tick.MSFT": 2})]  # a lost tail of AAPL
    frames += [tick("AAPL", 13), tick("AAPL", 14)]
    frames += [tick("AAPL", 1, sid=OTHER_SID), tick("AAPL", 2, sid=OTHER_SID)]  # restart
    frames += [tick("MSFT", 3)]  # the old session, after the restart
    frames += [tick("MSFT", 1, sid=OTHER_SID), tick("MSFT", 2, sid=OTHER_SID)]
    frames += [tick("ESZ6", 1, sid=OTHER_SID), tick("ES", 1, sid=OTHER_SID)]
    frames += [[b"tick.AAPL"], [b"tick.AAPL", b"", b""]]  # 1 and 3 frames
    frames += [tick("AAPL", 3, sid=OTHER_SID)]
    return frames


class Run:
    """One intake fed a stream, by the full path or as the subscriber does."""

    def __init__(self, selection: Selection) -> None:
        self.events: list[Event] = []
        self.intake = Intake(selection, HeartbeatWatch(), self.events.append)
        self.delivered: list[Message] = []
        self.taken = 0

    def full(self, frames: list[bytes]) -> None:
        intake = self.intake
        msg = intake.decode(frames)
        if msg is not None:
            intake.note_session(msg)
            intake.process(msg)
        self.delivered.extend(intake.ready)
        intake.ready.clear()

    def fast(self, frames: list[bytes]) -> None:
        if len(frames) == 2:
            msg = self.intake.take(frames[0], frames[1])
            if msg is not None:
                self.taken += 1
                self.delivered.append(msg)
                return
        self.full(frames)

    def state(self) -> tuple[Any, ...]:
        intake = self.intake
        quotes = {
            key: (q.bid, q.mdt, q.updated_ns, q.ticks) for key, q in intake.book.quotes.items()
        }
        error = None if intake.last_error is None else str(intake.last_error)
        seqs = {t: intake.seq.last(t) for t in ("tick.AAPL", "tick.MSFT", "tick.ES", "tick.ESZ6")}
        return (self.delivered, intake.stats(), self.events, quotes, error, seqs)


SELECTIONS = {
    "everything": lambda: Selection([""], []),
    "tick prefix": lambda: Selection(["tick."], []),
    "exact keys": lambda: Selection([], ["AAPL", "ES"]),
    "a prefix of one key": lambda: Selection(["tick.MS"], []),
}


@pytest.mark.parametrize("name", SELECTIONS)
def test_take_then_the_full_path_is_the_full_path(name: str) -> None:
    full, fast = Run(SELECTIONS[name]()), Run(SELECTIONS[name]())
    for frames in stream():
        full.full(frames)
        fast.fast(frames)
    assert fast.state() == full.state()
    assert fast.taken > 0  # the fast path did run
    assert full.intake.stats().malformed > 0 or name == "a prefix of one key"


def test_take_refuses_all_but_the_common_tick_and_changes_nothing() -> None:
    run = Run(Selection([""], []))
    run.fast(tick("AAPL", 1))  # the first of a topic is not the common case
    assert run.taken == 0
    for frames in stream()[4:-1]:
        before = run.state()
        if len(frames) == 2 and run.intake.take(frames[0], frames[1]) is None:
            assert run.state() == before
        run.full(frames)


def test_a_granted_topic_is_taken_and_a_dropped_one_no_longer() -> None:
    selection = Selection([], ["AAPL"])
    run = Run(selection)
    for frames in (tick("MSFT", 1), tick("AAPL", 1), tick("MSFT", 2)):
        run.fast(frames)
    assert [m.topic for m in run.delivered] == ["tick.AAPL"] and run.taken == 0
    run.intake.joined(("tick.MSFT",))
    run.fast(tick("MSFT", 3))  # the first since the grant: a baseline
    run.fast(tick("MSFT", 4))
    assert [m.topic for m in run.delivered][-2:] == ["tick.MSFT", "tick.MSFT"]
    assert run.taken == 1
    selection.drop(["tick.MSFT"])
    run.fast(tick("MSFT", 5))
    assert len(run.delivered) == 3 and run.intake.stats().filtered == 3
