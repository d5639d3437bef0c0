"""The subscription machine: events in, actions out, no sockets and no clocks."""

import pytest

from publisher.config import InstrumentSpec
from publisher.core.instruments import (
    DELAYED,
    FAILED,
    PENDING,
    STALE,
    SUBSCRIBED,
    ContractMatch,
    Instrument,
)
from publisher.core.stale import StalePolicy
from publisher.core.subscriptions import (
    FIRST_REQ_ID,
    Add,
    Cancel,
    CancelAll,
    CheckStale,
    CodeKind,
    ContractMatched,
    DetailsEnded,
    InstrumentStatus,
    MarketDataType,
    Qualify,
    Remove,
    RequestCode,
    SessionLost,
    SessionReady,
    SetMarketDataType,
    StreamsKept,
    StreamsLost,
    Subscribe,
    SubscriptionAction,
    SubscriptionEvent,
    SubscriptionPolicy,
    Subscriptions,
    Ticking,
)

AAPL = InstrumentSpec(key="AAPL", sec_type="STK", symbol="AAPL")
MSFT = InstrumentSpec(key="MSFT", sec_type="STK", symbol="MSFT", con_id=272093)
NOW = 100.0
SECOND = 1_000_000_000


class Counter:
    """A tick counter that only counts."""

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1) -> None:
        self.value += amount


class Machine:
    """A machine with a fake counter factory, fed at a fixed time unless told otherwise."""

    def __init__(self, policy: SubscriptionPolicy | None = None) -> None:
        self.subs = Subscriptions(policy or SubscriptionPolicy(), lambda key: Counter())

    def __call__(self, event: SubscriptionEvent, now: float = NOW) -> list[SubscriptionAction]:
        return self.subs.handle(event, now)

    def inst(self, key: str) -> Instrument:
        inst = self.subs.get(key)
        assert inst is not None
        return inst


def match(con_id: int, symbol: str = "AAPL", exchange: str = "SMART") -> ContractMatch:
    return ContractMatch(con_id, symbol, "STK", symbol, exchange, "NASDAQ", "USD", symbol, 0.01)


def statuses(actions: list[SubscriptionAction]) -> list[InstrumentStatus]:
    return [a for a in actions if isinstance(a, InstrumentStatus)]


def streaming(machine: Machine, spec: InstrumentSpec = MSFT) -> Instrument:
    """Add a qualified instrument, bring the session up and deliver its first tick."""
    machine(Add(spec))
    machine(SessionReady())
    inst = machine.inst(spec.key)
    machine(Ticking(inst.data_req))
    return inst


def test_an_instrument_added_before_the_session_waits_for_it() -> None:
    """Add without a session requests nothing; the instrument is pending."""
    machine = Machine()
    assert machine(Add(AAPL)) == []
    assert machine.inst("AAPL").state == PENDING


def test_a_new_session_sets_the_market_data_type_then_qualifies() -> None:
    """SessionReady sets the configured market data type, then asks for contract details."""
    machine = Machine(SubscriptionPolicy(market_data_type=2))
    machine(Add(AAPL))
    assert machine(SessionReady()) == [SetMarketDataType(2), Qualify(FIRST_REQ_ID, AAPL)]


def test_a_qualified_instrument_is_subscribed_at_once() -> None:
    """An instrument with a configured conid skips qualification."""
    machine = Machine()
    machine(Add(MSFT))
    assert machine(SessionReady())[1:] == [Subscribe(FIRST_REQ_ID, MSFT, 272093)]


def test_an_instrument_added_during_a_session_is_requested_at_once() -> None:
    """Add while the session is up qualifies the instrument straight away."""
    machine = Machine()
    machine(SessionReady())
    assert machine(Add(AAPL)) == [Qualify(FIRST_REQ_ID, AAPL)]


def test_adding_a_key_twice_is_refused() -> None:
    """Two instruments cannot share a key."""
    machine = Machine()
    machine(Add(AAPL))
    with pytest.raises(ValueError, match="AAPL"):
        machine(Add(AAPL))


def test_one_match_subscribes_under_its_conid() -> None:
    """A contract-details answer with one match subscribes that contract."""
    machine = Machine()
    machine(Add(AAPL))
    machine(SessionReady())
    machine(ContractMatched(FIRST_REQ_ID, match(265598)))
    actions = machine(DetailsEnded(FIRST_REQ_ID))
    assert actions == [Subscribe(FIRST_REQ_ID + 1, AAPL, 265598)]
    assert machine.subs.by_data_req[FIRST_REQ_ID + 1].con_id == 265598


def test_no_match_fails_the_instrument_with_code_200() -> None:
    """A contract-details answer with no match fails the instrument."""
    machine = Machine()
    machine(Add(AAPL))
    machine(SessionReady())
    actions = machine(DetailsEnded(FIRST_REQ_ID))
    assert actions == [InstrumentStatus("AAPL", FAILED, "no contract matches", 200)]


def test_several_matches_fail_the_instrument_naming_them() -> None:
    """An ambiguous contract fails, listing each candidate."""
    machine = Machine()
    machine(Add(AAPL))
    machine(SessionReady())
    machine(ContractMatched(FIRST_REQ_ID, match(1, exchange="NASDAQ")))
    machine(ContractMatched(FIRST_REQ_ID, match(2, exchange="IBIS")))
    (status,) = statuses(machine(DetailsEnded(FIRST_REQ_ID)))
    assert status.state == FAILED
    assert status.message == "ambiguous contract: 2 match (AAPL@NASDAQ, AAPL@IBIS)"


def test_the_first_tick_makes_a_pending_instrument_subscribed() -> None:
    """Ticking on a live stream publishes subscribed once."""
    machine = Machine()
    machine(Add(MSFT))
    machine(SessionReady())
    req = machine.inst("MSFT").data_req
    (status,) = statuses(machine(Ticking(req)))
    assert (status.state, status.code) == (SUBSCRIBED, None)
    assert machine(Ticking(req)) == []


def test_market_data_type_3_makes_the_instrument_delayed() -> None:
    """The gateway's marketDataType 3 for a stream publishes delayed."""
    machine = Machine()
    machine(Add(MSFT))
    machine(SessionReady())
    req = machine.inst("MSFT").data_req
    actions = machine(MarketDataType(req, 3))
    assert actions == [InstrumentStatus("MSFT", DELAYED, "market data type 3 (delayed)")]


def test_10167_after_market_data_type_3_publishes_delayed_with_its_code() -> None:
    """The defect of issue 11: the 10167 that follows market data type 3 is not swallowed."""
    machine = Machine()
    machine(Add(MSFT))
    machine(SessionReady())
    req = machine.inst("MSFT").data_req
    machine(MarketDataType(req, 3))
    code = RequestCode(req, CodeKind.DELAYED_INSTEAD, 10167, "Displaying delayed data", True)
    assert statuses(machine(code)) == [
        InstrumentStatus("MSFT", DELAYED, "Displaying delayed data", 10167)
    ]


def test_the_same_state_and_code_is_not_said_twice() -> None:
    """A repeated 10167 publishes nothing more."""
    machine = Machine()
    machine(Add(MSFT))
    machine(SessionReady())
    req = machine.inst("MSFT").data_req
    code = RequestCode(req, CodeKind.DELAYED_INSTEAD, 10167, "delayed", True)
    machine(code)
    assert machine(code) == []


def test_no_permission_with_fallback_rerequests_as_delayed() -> None:
    """354 with allow_delayed_fallback cancels and re-requests under market data type 3."""
    machine = Machine(SubscriptionPolicy(allow_delayed_fallback=True))
    machine(Add(MSFT))
    machine(SessionReady())
    old = machine.inst("MSFT").data_req
    actions = machine(RequestCode(old, CodeKind.NO_LIVE_PERMISSION, 354, "no", True))
    assert actions[0] == InstrumentStatus(
        "MSFT", DELAYED, "no live market data permission (no); falling back to delayed data", 354
    )
    assert actions[1:] == [
        Cancel(old),
        SetMarketDataType(3),
        Subscribe(old + 1, MSFT, 272093, delayed=True),
        SetMarketDataType(1),
    ]


def test_no_permission_without_fallback_fails_and_forgets_the_request() -> None:
    """10089 without the fallback fails the instrument and its late ticks find nothing."""
    machine = Machine()
    machine(Add(MSFT))
    machine(SessionReady())
    req = machine.inst("MSFT").data_req
    actions = machine(RequestCode(req, CodeKind.NO_LIVE_PERMISSION, 10089, "no", True))
    assert actions == [InstrumentStatus("MSFT", FAILED, "no", 10089)]
    assert req not in machine.subs.by_data_req and not machine.subs.owns(req)


def test_a_failed_instrument_is_not_requested_on_the_next_session() -> None:
    """After a reconnect a failed instrument stays failed and unrequested."""
    machine = Machine()
    machine(Add(MSFT))
    machine(SessionReady())
    req = machine.inst("MSFT").data_req
    machine(RequestCode(req, CodeKind.REQUEST_FAILED, 200, "no such contract", True))
    machine(SessionLost())
    assert machine(SessionReady()) == [SetMarketDataType(1)]


def test_a_lost_stream_is_rerequested_at_once_while_the_link_is_up() -> None:
    """10182 with the gateway in touch with IB re-requests under a new id."""
    machine = Machine()
    inst = streaming(machine)
    old = inst.data_req
    actions = machine(RequestCode(old, CodeKind.REQUEST_LOST, 10182, "lost", link_up=True))
    assert actions == [
        InstrumentStatus("MSFT", PENDING, "lost; re-requesting", 10182),
        Cancel(old),
        Subscribe(old + 1, MSFT, 272093),
    ]


def test_a_stream_lost_while_the_link_is_down_waits_for_1102() -> None:
    """10182 while degraded re-requests nothing until StreamsKept."""
    machine = Machine()
    inst = streaming(machine)
    old = inst.data_req
    machine(RequestCode(old, CodeKind.REQUEST_LOST, 10182, "lost", link_up=False))
    assert machine(StreamsKept()) == [Cancel(old), Subscribe(old + 1, MSFT, 272093)]
    assert machine(StreamsKept()) == []


def test_a_competing_session_makes_the_instrument_stale() -> None:
    """10197 marks the instrument stale with its code."""
    machine = Machine()
    inst = streaming(machine)
    actions = machine(RequestCode(inst.data_req, CodeKind.COMPETING_SESSION, 10197, "x", True))
    assert actions == [InstrumentStatus("MSFT", STALE, "x", 10197)]


def test_losing_the_session_voids_every_request() -> None:
    """SessionLost empties both maps and makes every instrument pending."""
    machine = Machine()
    inst = streaming(machine)
    machine(Add(AAPL))
    actions = machine(SessionLost())
    assert actions == [InstrumentStatus("MSFT", PENDING, "waiting for the gateway")]
    assert len(machine.subs.by_data_req) == 0 and inst.data_req == 0
    assert machine(Add(InstrumentSpec(key="X", sec_type="STK", symbol="X"))) == []


def test_1101_rerequests_every_stream_on_the_same_session() -> None:
    """StreamsLost cancels and re-requests qualified instruments and re-qualifies the rest."""
    machine = Machine()
    inst = streaming(machine)
    old = inst.data_req
    machine(Add(AAPL))
    actions = machine(StreamsLost())
    requests = [a for a in actions if not isinstance(a, InstrumentStatus)]
    assert requests == [Cancel(old), Subscribe(old + 2, MSFT, 272093), Qualify(old + 3, AAPL)]
    assert [s.state for s in statuses(actions)] == [PENDING]


def test_removing_a_streaming_instrument_cancels_it() -> None:
    """Remove cancels the stream and forgets the instrument and its request id."""
    machine = Machine()
    inst = streaming(machine)
    req = inst.data_req
    assert machine(Remove("MSFT")) == [Cancel(req)]
    assert "MSFT" not in machine.subs and req not in machine.subs.by_data_req


def test_removing_an_unknown_key_does_nothing() -> None:
    """Remove of a key never added returns no action."""
    assert Machine()(Remove("NOPE")) == []


def test_the_tick_paths_view_cannot_be_written() -> None:
    """by_data_req is read-only: only the machine changes the request map."""
    machine = Machine()
    streaming(machine)
    with pytest.raises(TypeError):
        machine.subs.by_data_req[1] = machine.inst("MSFT")  # type: ignore[index]


def test_a_silent_instrument_is_rerequested_as_stale() -> None:
    """CheckStale re-requests an instrument silent for stale_after while another ticks."""
    machine = Machine(SubscriptionPolicy(stale=StalePolicy(after=5.0, max_retries=2)))
    msft = streaming(machine)
    aapl = streaming(machine, InstrumentSpec(key="AAPL", sec_type="STK", symbol="A", con_id=9))
    msft.last_tick_ns, aapl.last_tick_ns = 1 * SECOND, 20 * SECOND
    old = msft.data_req
    actions = machine(CheckStale(wall_ns=21 * SECOND), now=NOW + 10)
    assert actions[0] == InstrumentStatus(
        "MSFT", STALE, "no ticks for 5 s while others tick; re-requesting (1 of 2)"
    )
    assert actions[1:] == [Cancel(old), Subscribe(aapl.data_req + 1, MSFT, 272093)]


def test_cancel_all_cancels_every_stream() -> None:
    """CancelAll (shutdown) cancels each open stream."""
    machine = Machine()
    req = streaming(machine).data_req
    assert machine(CancelAll()) == [Cancel(req)]
    assert len(machine.subs.by_data_req) == 0
