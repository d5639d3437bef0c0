"""Loss accounting beyond consecutive seqs (heartbeat tails, snapshot baselines) and liveness."""

import pytest

from subscribers.liveness import DEFAULT_INTERVAL, HeartbeatWatch
from subscribers.tracking import SeqStatus, SeqTracker

SID = 7


# -- SeqTracker: heartbeat tails and snapshot baselines ------------------------------------------


def test_heartbeat_reveals_a_lost_tail() -> None:
    """A heartbeat seq above the last received counts the difference as one gap."""
    tracker = SeqTracker()
    tracker.observe("tick.A", SID, 10)
    assert tracker.observe_tail("tick.A", SID, 13) == 3
    assert (tracker.gaps, tracker.lost) == (1, 3)


def test_a_tail_is_counted_once() -> None:
    """After a heartbeat counted the tail, the next message continues without another gap."""
    tracker = SeqTracker()
    tracker.observe("tick.A", SID, 10)
    tracker.observe_tail("tick.A", SID, 13)
    assert tracker.observe_tail("tick.A", SID, 13) == 0
    assert tracker.observe("tick.A", SID, 14).status is SeqStatus.NEXT
    assert tracker.lost == 3


def test_heartbeat_matching_the_last_seq_is_no_loss() -> None:
    """A heartbeat that agrees with what was received changes nothing."""
    tracker = SeqTracker()
    tracker.observe("tick.A", SID, 10)
    assert tracker.observe_tail("tick.A", SID, 10) == 0
    assert tracker.gaps == 0


def test_heartbeat_of_another_session_or_unknown_topic_is_ignored() -> None:
    """With nothing to compare with (new sid, topic never seen), a heartbeat counts nothing."""
    tracker = SeqTracker()
    tracker.observe("tick.A", SID, 10)
    assert tracker.observe_tail("tick.A", SID + 1, 50) == 0
    assert tracker.observe_tail("tick.B", SID, 50) == 0
    assert tracker.lost == 0


def test_reset_sets_the_baseline_older_messages_are_stale() -> None:
    """After reset to seq 20, seq 20 is stale and seq 21 in order."""
    tracker = SeqTracker()
    tracker.reset("tick.A", SID, 20)
    assert tracker.observe("tick.A", SID, 20).status is SeqStatus.STALE
    assert tracker.observe("tick.A", SID, 21).status is SeqStatus.NEXT


def test_complete_session_counts_messages_before_the_first_received() -> None:
    """In a complete session a tick topic's first message at seq 4 means seqs 1-3 were lost."""
    tracker = SeqTracker()
    tracker.complete_sid = SID
    result = tracker.observe("tick.NEW", SID, 4)
    assert (result.status, result.missing) == (SeqStatus.GAP, 3)
    assert tracker.observe("tick.OTHER", SID, 1).status is SeqStatus.NEXT


def test_complete_session_heartbeat_counts_a_topic_never_received() -> None:
    """In a complete session a heartbeat naming an unseen tick topic at seq 5 means 5 lost."""
    tracker = SeqTracker()
    tracker.complete_sid = SID
    assert tracker.observe_tail("tick.NEW", SID, 5) == 5


def test_complete_session_leaves_status_and_heartbeat_topics_alone() -> None:
    """Status and hb topics are not in snapshots, so joining them late is not a loss."""
    tracker = SeqTracker()
    tracker.complete_sid = SID
    assert tracker.observe("hb.p", SID, 40).status is SeqStatus.FIRST
    assert tracker.observe("status.p", SID, 3).status is SeqStatus.FIRST
    assert tracker.lost == 0


def test_other_sessions_are_not_complete() -> None:
    """A topic first seen in another session is a plain first message."""
    tracker = SeqTracker()
    tracker.complete_sid = SID
    assert tracker.observe("tick.A", SID + 1, 9).status is SeqStatus.FIRST


# -- HeartbeatWatch (pure; the clock is passed in) ---------------------------------------------


def beat(watch: HeartbeatWatch, now: float, seq: int, *, sid: int = SID, ts: float = 0.0) -> bool:
    return watch.beat("p", sid, seq, int((ts or now) * 1e9), "connected", now)


def test_first_heartbeat_announces_the_publisher() -> None:
    """The first heartbeat of a publisher reports it as new and alive."""
    watch = HeartbeatWatch(interval=1.0)
    assert beat(watch, 100.0, 1)
    assert "p" in watch
    assert watch.info()["p"].alive


def test_silent_after_exactly_three_intervals() -> None:
    """Just under 3 intervals is still alive; at 3 intervals the publisher is silent."""
    watch = HeartbeatWatch(interval=0.5)
    beat(watch, 100.0, 1)
    assert watch.overdue(101.49) == []
    (silence,) = watch.overdue(101.5)
    assert (silence.pub, silence.sid, silence.interval) == ("p", SID, 0.5)
    assert silence.silent_for == pytest.approx(1.5)
    assert not watch.info()["p"].alive


def test_silence_is_reported_once() -> None:
    """A silent publisher is reported once, not at every check."""
    watch = HeartbeatWatch(interval=1.0)
    beat(watch, 0.0, 1)
    assert len(watch.overdue(5.0)) == 1
    assert watch.overdue(50.0) == []
    assert watch.next_check() is None


def test_a_heartbeat_after_silence_brings_it_back() -> None:
    """The next heartbeat after a silence reports the publisher as back, alive again."""
    watch = HeartbeatWatch(interval=1.0)
    beat(watch, 0.0, 1)
    watch.overdue(10.0)
    assert beat(watch, 11.0, 12)
    assert watch.info()["p"].alive
    assert not beat(watch, 12.0, 13)


def test_interval_is_learnt_from_consecutive_heartbeats() -> None:
    """Without a given interval the watch uses the publish-time gap of consecutive heartbeats."""
    watch = HeartbeatWatch()
    beat(watch, 0.0, 1, ts=1000.0)
    assert watch.info()["p"].interval == DEFAULT_INTERVAL
    beat(watch, 0.25, 2, ts=1000.25)
    assert watch.info()["p"].interval == pytest.approx(0.25)
    assert watch.next_check() == pytest.approx(0.25 + 3 * 0.25)


def test_interval_is_not_learnt_across_a_lost_heartbeat() -> None:
    """Heartbeats whose seqs are not consecutive say nothing about the interval."""
    watch = HeartbeatWatch()
    beat(watch, 0.0, 1, ts=1000.0)
    beat(watch, 0.5, 3, ts=1000.5)
    assert watch.info()["p"].interval == DEFAULT_INTERVAL


def test_interval_must_be_positive() -> None:
    """A zero interval is refused at construction."""
    with pytest.raises(ValueError):
        HeartbeatWatch(interval=0)
