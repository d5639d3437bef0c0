"""Stale detection: a pure function of the records, the two clocks and the policy."""

from publisher.config import InstrumentSpec
from publisher.core.instruments import DELAYED, PENDING, STALE, SUBSCRIBED, Instrument
from publisher.core.stale import Finding, StalePolicy, Verdict, find_stale

SECOND = 1_000_000_000
POLICY = StalePolicy(after=5.0, max_retries=2)
NOW = 100.0
WALL = 1_000 * SECOND


class Counter:
    def inc(self, amount: float = 1) -> None:
        pass


def record(
    key: str, *, silent_for: float, requested_ago: float = 60.0, **fields: object
) -> Instrument:
    """A streaming instrument whose last tick was ``silent_for`` seconds before WALL."""
    inst = Instrument(InstrumentSpec(key=key, sec_type="STK", symbol=key), Counter())
    inst.state = SUBSCRIBED
    inst.data_req = 1
    inst.requested_at = NOW - requested_ago
    inst.last_tick_ns = WALL - int(silent_for * SECOND)
    for name, value in fields.items():
        setattr(inst, name, value)
    return inst


def check(*instruments: Instrument, policy: StalePolicy = POLICY) -> list[Finding]:
    return find_stale(instruments, NOW, WALL, policy)


def test_a_silent_instrument_among_ticking_ones_is_retried() -> None:
    """Silent for longer than ``after`` while another ticks: the first retry."""
    assert check(record("A", silent_for=6), record("B", silent_for=0)) == [
        Finding("A", Verdict.RETRY, 1)
    ]


def test_nothing_is_stale_when_nothing_ticks() -> None:
    """When every instrument is silent the market is quiet: no findings."""
    assert check(record("A", silent_for=6), record("B", silent_for=7)) == []


def test_a_recent_request_is_left_alone() -> None:
    """An instrument requested less than ``after`` ago is not judged yet."""
    assert check(record("A", silent_for=6, requested_ago=2), record("B", silent_for=0)) == []


def test_an_instrument_without_a_request_is_left_alone() -> None:
    """No stream (data_req 0) or no request time: nothing to re-request."""
    quiet = record("A", silent_for=6, data_req=0)
    unrequested = record("C", silent_for=6, requested_at=None)
    assert check(quiet, unrequested, record("B", silent_for=0)) == []


def test_pending_and_failed_instruments_are_not_judged() -> None:
    """Only streaming (subscribed, delayed) and stale instruments can go stale."""
    assert check(record("A", silent_for=6, state=PENDING), record("B", silent_for=0)) == []


def test_a_delayed_instrument_can_go_stale() -> None:
    """Delayed data is streaming data: its silence counts."""
    found = check(record("A", silent_for=6, state=DELAYED), record("B", silent_for=0))
    assert [f.verdict for f in found] == [Verdict.RETRY]


def test_retries_are_numbered_from_the_count_so_far() -> None:
    """A stale instrument with one retry behind it gets attempt 2."""
    silent = record("A", silent_for=6, state=STALE, stale_retries=1)
    assert check(silent, record("B", silent_for=0)) == [Finding("A", Verdict.RETRY, 2)]


def test_the_last_retry_is_followed_by_giving_up_once() -> None:
    """At max_retries the verdict is give-up; beyond it, nothing more is said."""
    spent = record("A", silent_for=6, state=STALE, stale_retries=2)
    assert check(spent, record("B", silent_for=0)) == [Finding("A", Verdict.GIVE_UP)]
    said = record("A", silent_for=6, state=STALE, stale_retries=3)
    assert check(said, record("B", silent_for=0)) == []


def test_a_streaming_instrument_that_ticks_again_recovers() -> None:
    """Ticking for a whole period after retries resets them."""
    back = record("A", silent_for=1, stale_retries=2)
    assert check(back, record("B", silent_for=0)) == [Finding("A", Verdict.RECOVERED)]


def test_a_stale_instrument_that_ticks_is_not_yet_recovered() -> None:
    """Recovery needs the streaming state back (the tick path's first tick sets it)."""
    assert check(record("A", silent_for=1, state=STALE, stale_retries=1)) == []


def test_a_policy_of_zero_seconds_finds_nothing() -> None:
    """stale_after = 0 turns detection off."""
    off = StalePolicy(after=0.0, max_retries=2)
    assert check(record("A", silent_for=6), record("B", silent_for=0), policy=off) == []


def test_the_check_interval_is_a_quarter_period_up_to_a_second() -> None:
    """Checks come every after/4 seconds, at most one second apart."""
    assert StalePolicy(after=2.0, max_retries=1).interval == 0.5
    assert StalePolicy(after=30.0, max_retries=1).interval == 1.0
