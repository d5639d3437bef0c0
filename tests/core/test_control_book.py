"""The holdings book, driven without sockets: requests and gateway events in, actions and
replies out; the clock is a number passed in."""

from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter

from publisher.config import InstrumentSpec
from publisher.core.control import (
    ControlPolicy,
    Holdings,
    ListRequest,
    Outcome,
    RateLimiter,
    Refusal,
    RenewRequest,
    SubscribeRequest,
    UnsubscribeRequest,
    parse_request,
)
from publisher.core.instruments import ContractMatch, TickCounter
from publisher.core.subscriptions import (
    Add,
    Cancel,
    CodeKind,
    ContractMatched,
    DetailsEnded,
    Qualify,
    RequestCode,
    SessionLost,
    SessionReady,
    Subscribe,
    SubscriptionPolicy,
    Subscriptions,
)

WALL = 1_700_000_000_000_000_000
AAPL = InstrumentSpec(key="AAPL", sec_type="STK", symbol="AAPL")
SPY = InstrumentSpec(key="", sec_type="STK", symbol="SPY")
ES = InstrumentSpec(key="", sec_type="FUT", symbol="ES", exchange="CME")


def match(con_id: int, symbol: str = "SPY", local: str = "", date: str = "") -> ContractMatch:
    return ContractMatch(con_id, symbol, "STK", local, "SMART", "", "USD", "", 0.01, date)


def counter(key: str) -> TickCounter:
    return Counter("t", "t", ["k"], registry=CollectorRegistry()).labels(key)


def book(max_lines: int = 100, grace: float = 5.0, pinned: bool = True) -> Holdings:
    machine = Subscriptions(SubscriptionPolicy(), counter)
    if pinned:
        machine.handle(Add(AAPL), 0.0)
    machine.handle(SessionReady(), 0.0)
    return Holdings(
        machine,
        ControlPolicy(lease=10.0, grace=grace, max_lines=max_lines),
        ["AAPL"] if pinned else [],
    )


def qualify_of(out: Outcome) -> Qualify:
    return next(a for a in out.actions if isinstance(a, Qualify))


def answer(h: Holdings, out: Outcome, *matches: ContractMatch, now: float = 0.0) -> Outcome:
    req = qualify_of(out).req_id
    for m in matches:
        h.handle(ContractMatched(req, m), now, WALL)
    return h.handle(DetailsEnded(req), now, WALL)


def sub(
    h: Holdings,
    token: int,
    spec: InstrumentSpec,
    client: str = "a",
    now: float = 0.0,
    principal: bytes | None = None,
) -> Outcome:
    return h.request(token, SubscribeRequest(client, spec), principal, now, WALL)


def body(out: Outcome) -> dict[str, Any]:
    assert len(out.replies) == 1, out
    return dict(out.replies[0].body)


def test_a_new_contract_is_answered_when_qualified() -> None:
    h = book()
    out = sub(h, 1, SPY)
    assert out.replies == ()  # waits for IB
    done = answer(h, out, match(756733))
    reply = body(done)
    assert reply == {
        "v": 1,
        "ok": True,
        "key": "SPY",
        "conid": 756733,
        "topics": ["tick.SPY"],
        "state": "pending",
        "lease_expires": WALL + 10 * 10**9,
    }
    assert any(isinstance(a, Subscribe) and a.con_id == 756733 for a in done.actions)
    assert h.lines_used == 2 and h.leases_active == 1


def test_two_requests_share_one_subscription() -> None:
    h = book()
    first = sub(h, 1, SPY, "a")
    second = sub(h, 2, SPY, "b")  # while qualifying: answered with the first
    assert second.actions == () and second.replies == ()
    done = answer(h, first, match(756733))
    assert sorted(r.token for r in done.replies) == [1, 2]
    assert sum(isinstance(a, Subscribe) for a in done.actions) == 1
    third = sub(h, 3, SPY, "c")
    assert body(third)["ok"] and third.actions == ()
    assert h.holders("SPY") == ("a", "b", "c")


def test_the_same_contract_under_another_key_joins_by_con_id() -> None:
    h = book()
    answer(h, sub(h, 1, SPY), match(756733))
    other = sub(h, 2, InstrumentSpec(key="SPDR", sec_type="STK", symbol="SPY", exchange="ARCA"))
    done = answer(h, other, match(756733))
    assert body(done)["key"] == "SPY" and done.removed == ("SPDR",)
    assert "SPDR" not in h.machine
    assert not any(isinstance(a, Subscribe) for a in done.actions)


def test_unknown_and_ambiguous_contracts_hold_nothing() -> None:
    h = book()
    none = answer(h, sub(h, 1, InstrumentSpec(key="", sec_type="STK", symbol="NOPE")))
    assert body(none)["error"] == "unknown_contract" and "NOPE" not in h.machine
    amb = answer(
        h, sub(h, 2, ES), match(1, "ES", "ESZ6", "202612"), match(2, "ES", "ESH7", "202703")
    )
    reply = body(amb)
    assert reply["error"] == "ambiguous_contract"
    assert [c["local_symbol"] for c in reply["candidates"]] == ["ESZ6", "ESH7"]
    assert reply["candidates"][0]["last_trade_date"] == "202612"
    assert h.lines_used == 1 and h.leases_active == 0


def test_an_ib_error_on_qualification_is_unknown_contract() -> None:
    h = book()
    out = sub(h, 1, InstrumentSpec(key="", sec_type="STK", symbol="NOPE"))
    code = RequestCode(qualify_of(out).req_id, CodeKind.REQUEST_FAILED, 200, "No security", True)
    reply = body(h.handle(code, 0.0, WALL))
    assert reply["error"] == "unknown_contract" and "200" in reply["message"]


def test_budget_refuses_at_once_and_never_reaches_ib() -> None:
    h = book(max_lines=2)
    answer(h, sub(h, 1, SPY), match(756733))
    refused = sub(h, 2, InstrumentSpec(key="", sec_type="STK", symbol="QQQ"))
    assert body(refused)["error"] == "budget_exceeded" and refused.actions == ()
    assert "2 of 2" in body(refused)["message"]


def test_a_failed_line_frees_the_budget() -> None:
    h = book(max_lines=2)
    done = answer(h, sub(h, 1, SPY), match(756733))
    data_req = next(a for a in done.actions if isinstance(a, Subscribe)).req_id
    h.handle(RequestCode(data_req, CodeKind.REQUEST_FAILED, 101, "max tickers", True), 0.0, WALL)
    assert h.lines_used == 1 and h.holders("SPY") == ("a",)
    again = sub(h, 2, SPY)  # a new request retries it
    assert any(isinstance(a, Qualify) for a in again.actions)


def test_key_conflict_names_both() -> None:
    h = book()
    out = sub(h, 1, InstrumentSpec(key="AAPL", sec_type="STK", symbol="SPY"))
    reply = body(out)
    assert reply["error"] == "key_conflict"
    assert "AAPL" in reply["message"] and "SPY" in reply["message"]


def test_leases_expire_and_grace_cancels_but_pinned_stay() -> None:
    h = book(grace=5.0)
    done = answer(h, sub(h, 1, SPY), match(756733))
    data_req = next(a for a in done.actions if isinstance(a, Subscribe)).req_id
    assert h.expire(9.0).actions == ()
    renewed = h.request(2, RenewRequest("a", ("SPY",)), None, 9.0, WALL)
    assert body(renewed)["lease_expires"] == WALL + 10 * 10**9
    assert h.expire(18.0) == Outcome()  # renewed at 9: runs to 19
    assert h.expire(19.0).actions == ()  # expired: grace starts
    assert h.leases_active == 0
    assert h.expire(23.9).actions == ()
    out = h.expire(24.0)
    assert Cancel(data_req) in out.actions and out.removed == ("SPY",)
    assert "AAPL" in h.machine and h.expire(1000.0) == Outcome()


def test_unsubscribe_then_a_new_request_within_grace_keeps_the_line() -> None:
    h = book(grace=5.0)
    answer(h, sub(h, 1, SPY), match(756733))
    h.request(2, UnsubscribeRequest("a", ("SPY",)), None, 1.0, WALL)
    h.expire(1.0)
    back = sub(h, 3, SPY, now=3.0)
    assert body(back)["ok"] and back.actions == ()
    assert h.expire(10.0).actions == ()


def test_renew_of_a_key_not_held_is_refused() -> None:
    h = book()
    reply = body(h.request(1, RenewRequest("a", ("SPY",)), None, 0.0, WALL))
    assert reply["error"] == "bad_request" and "SPY" in reply["message"]


def test_a_client_name_is_bound_to_its_key() -> None:
    h = book()
    answer(h, sub(h, 1, SPY, principal=b"key-one"), match(756733))
    stolen = h.request(2, UnsubscribeRequest("a", ("SPY",)), b"key-two", 0.0, WALL)
    assert body(stolen)["error"] == "unauthorised"
    assert h.holders("SPY") == ("a",)


def test_list_shows_holders_pins_and_the_budget() -> None:
    h = book()
    answer(h, sub(h, 1, SPY), match(756733))
    listing = body(h.request(2, ListRequest(), None, 0.0, WALL))
    assert listing["lines_used"] == 2 and listing["lines_budget"] == 100
    rows = {row["key"]: row for row in listing["instruments"]}
    assert rows["AAPL"]["pinned"] and rows["AAPL"]["holders"] == []
    assert rows["SPY"]["holders"] == ["a"] and rows["SPY"]["data"] == ["l1"]


@pytest.mark.parametrize(
    ("raw", "op", "words"),
    [
        ([1, 2], "unknown", "msgpack map"),
        ({"v": 1, "op": "jump"}, "unknown", "unknown op"),
        ({"op": "list"}, "list", "version"),
        ({"v": 1, "op": "renew", "client": "a", "keys": "SPY"}, "renew", "keys"),
        ({"v": 1, "op": "subscribe", "client": "", "instrument": {}}, "subscribe", "client"),
        ({"v": 1, "op": "subscribe", "client": "a"}, "subscribe", "instrument"),
        (
            {"v": 1, "op": "subscribe", "client": "a", "instrument": {"symbol": "X"}},
            "subscribe",
            "sec_type",
        ),
        (
            {
                "v": 1,
                "op": "subscribe",
                "client": "a",
                "instrument": {"sec_type": "STK", "symbol": "X", "colour": "red"},
            },
            "subscribe",
            "instrument.colour",
        ),
        (
            {
                "v": 1,
                "op": "subscribe",
                "client": "a",
                "instrument": {"sec_type": "STK", "symbol": "X"},
                "data": ["depth:500"],
            },
            "subscribe",
            "ROWS must be 1 to 100",
        ),
        (
            {
                "v": 1,
                "op": "subscribe",
                "client": "a",
                "instrument": {"sec_type": "STK", "symbol": "X"},
                "lease": -1,
            },
            "subscribe",
            "lease",
        ),
    ],
)
def test_bad_requests_are_refusals(raw: object, op: str, words: str) -> None:
    refusal = parse_request(raw)
    assert isinstance(refusal, Refusal), refusal
    assert refusal.code == "bad_request" and refusal.op == op
    assert words in refusal.message


def test_a_good_subscribe_parses_into_a_frozen_value() -> None:
    req = parse_request(
        {
            "v": 1,
            "op": "subscribe",
            "client": "a",
            "lease": 5,
            "instrument": {"sec_type": "FUT", "symbol": "ES", "exchange": "CME"},
        }
    )
    assert req == SubscribeRequest("a", ES, ("l1",), 5.0)


def test_the_rate_limiter_refills_over_time() -> None:
    limiter = RateLimiter(2.0)
    assert [limiter.allow(b"a", 0.0) for _ in range(3)] == [True, True, False]
    assert limiter.allow(b"b", 0.0)  # per client
    assert not limiter.allow(b"a", 0.2)
    assert limiter.allow(b"a", 0.5)
    assert limiter.allow(b"a", 100.0) and limiter.allow(b"a", 100.0)
    assert not limiter.allow(b"a", 100.0)  # the burst is capped at the rate


def test_a_qualification_cut_by_a_lost_session_is_answered_by_the_next() -> None:
    h = book()
    first = sub(h, 1, SPY)
    h.handle(SessionLost(), 1.0, WALL)
    again = h.handle(SessionReady(), 2.0, WALL)
    spy = next(a for a in again.actions if isinstance(a, Qualify) and a.spec.key == "SPY")
    assert spy.req_id != qualify_of(first).req_id
    h.handle(ContractMatched(spy.req_id, match(756733)), 2.0, WALL)
    done = h.handle(DetailsEnded(spy.req_id), 2.0, WALL)
    assert body(done)["ok"] and body(done)["key"] == "SPY"


def test_a_request_by_con_id_is_qualified_before_it_is_answered() -> None:
    """A con_id is checked with IB first: no reply and no reqMktData until the details end."""
    h = book()
    out = sub(h, 1, InstrumentSpec(key="X", sec_type="STK", symbol="SPY", con_id=756733))
    assert out.replies == ()
    assert not any(isinstance(a, Subscribe) for a in out.actions)
    assert qualify_of(out).spec.con_id == 756733
    done = answer(h, out, match(756733))
    assert body(done)["ok"] and body(done)["conid"] == 756733
    assert any(isinstance(a, Subscribe) and a.con_id == 756733 for a in done.actions)


def test_an_unknown_con_id_is_refused() -> None:
    """A con_id IB does not know (no contract details) is unknown_contract, holding no line."""
    h = book()
    out = sub(h, 1, InstrumentSpec(key="X", sec_type="STK", symbol="SPY", con_id=1))
    done = answer(h, out)
    assert body(done)["error"] == "unknown_contract"
    assert h.lines_used == 1  # AAPL, pinned
