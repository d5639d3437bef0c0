"""Retries of failed instruments: which codes, when (capped backoff, jitter), and the book
re-requesting them; clock and random source injected."""

from prometheus_client import CollectorRegistry, Counter

from publisher.config import InstrumentSpec
from publisher.core.control import ControlPolicy, Holdings
from publisher.core.control.retries import Retries, RetryPolicy
from publisher.core.instruments import TickCounter
from publisher.core.subscriptions import (
    Add,
    CodeKind,
    ContractMatched,
    DetailsEnded,
    InstrumentStatus,
    Qualify,
    RequestCode,
    SessionReady,
    Subscribe,
    SubscriptionPolicy,
    Subscriptions,
)
from tests.core.test_control_book import match

AAPL = InstrumentSpec(key="AAPL", sec_type="STK", symbol="AAPL")


def counter(key: str) -> TickCounter:
    return Counter("t", "t", ["k"], registry=CollectorRegistry()).labels(key)


def test_backoff_doubles_is_capped_and_jittered() -> None:
    policy = RetryPolicy(initial=1.0, maximum=8.0)
    assert [policy.delay(n, 1.0) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert policy.delay(3, 0.0) == 2.0  # jitter scales into [50 %, 100 %)


def test_transient_codes_are_retried_permanent_ones_not() -> None:
    retries = Retries(RetryPolicy(initial=1.0, maximum=60.0), lambda: 1.0)
    for code in (200, 354, 10168, None, 322):
        assert retries.failed("X", code, 0.0) is None
    assert retries.failed("P", 100, 0.0) == 1.0
    assert retries.failed("P", 100, 1.0) == 3.0  # second attempt: 2 s
    assert retries.due(2.9, lines_free=True) == []
    assert retries.due(3.0, lines_free=True) == [("P", 100, 2)]
    retries.recovered("P")
    assert retries.failed("P", 10197, 10.0) == 11.0


def test_a_101_waits_for_a_free_line() -> None:
    retries = Retries(RetryPolicy(), lambda: 0.0)
    retries.failed("Q", 101, 0.0)
    assert retries.due(100.0, lines_free=False) == []
    assert retries.due(100.0, lines_free=True) == [("Q", 101, 1)]


def test_the_book_re_requests_a_pinned_instrument_failed_by_101() -> None:
    machine = Subscriptions(SubscriptionPolicy(), counter)
    machine.handle(Add(AAPL), 0.0)
    book = Holdings(
        machine,
        ControlPolicy(max_lines=5),
        ["AAPL"],
        retry=RetryPolicy(1.0, 4.0),
        jitter=lambda: 1.0,
    )
    qualify = next(a for a in book.handle(SessionReady(), 0.0, 0).actions if isinstance(a, Qualify))
    book.handle(ContractMatched(qualify.req_id, match(265598, "AAPL")), 0.0, 0)
    sub = next(
        a
        for a in book.handle(DetailsEnded(qualify.req_id), 0.0, 0).actions
        if isinstance(a, Subscribe)
    )
    failed = RequestCode(sub.req_id, CodeKind.REQUEST_FAILED, 101, "max tickers", True)
    book.handle(failed, 0.0, 0)
    assert "AAPL" in book.retries and book.lines_used == 0
    assert book.expire(0.5).actions == ()
    out = book.expire(1.0)
    statuses = [a for a in out.actions if isinstance(a, InstrumentStatus)]
    assert statuses[0].state == "pending" and "101" in statuses[0].message
    requalify = next(a for a in out.actions if isinstance(a, Qualify))  # asked afresh
    book.handle(ContractMatched(requalify.req_id, match(265598, "AAPL")), 1.0, 0)
    again = [
        a
        for a in book.handle(DetailsEnded(requalify.req_id), 1.0, 0).actions
        if isinstance(a, Subscribe)
    ]
    assert again and again[0].con_id == 265598 and book.lines_used == 1
    gone = RequestCode(again[0].req_id, CodeKind.REQUEST_FAILED, 200, "no definition", True)
    book.handle(gone, 1.0, 0)
    assert "AAPL" not in book.retries  # permanent: stays failed
    assert book.expire(1000.0).actions == ()
