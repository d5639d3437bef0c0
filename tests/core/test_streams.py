"""The subscription machine's other data kinds (tick-by-tick, depth, bars): each stream has its
own request, fails alone, and is re-requested with the rest; pure, events in and actions out."""

from dataclasses import replace

from publisher.core.instruments import FAILED, PENDING, SUBSCRIBED
from publisher.core.subscriptions import (
    Add,
    BookInvalid,
    Cancel,
    CancelAll,
    CancelStream,
    CodeKind,
    Extend,
    Remove,
    RequestCode,
    SessionLost,
    SessionReady,
    StreamsLost,
    Subscribe,
    SubscribeStream,
    SubscriptionAction,
    Ticking,
)
from subscribers.kinds import parse_kinds
from tests.core.test_subscriptions import MSFT, Machine, statuses

KINDS = replace(MSFT, data=("l1", "depth:5", "tbt_last"))
DEPTH_ONLY = replace(MSFT, key="MSFT.D", data=("depth",))


def streams(actions: list[SubscriptionAction]) -> list[SubscribeStream]:
    return [a for a in actions if isinstance(a, SubscribeStream)]


def failed(code: int, req_id: int) -> RequestCode:
    return RequestCode(req_id, CodeKind.REQUEST_FAILED, code, "refused", link_up=True)


def test_each_stream_is_requested_cancelled_and_re_requested() -> None:
    machine = Machine()
    machine(Add(KINDS))
    actions = machine(SessionReady())
    assert [type(a) for a in actions if not isinstance(a, SubscribeStream)].count(Subscribe) == 1
    depth, tbt = streams(actions)
    assert (depth.kind.name, depth.topic, tbt.kind.tbt_type) == ("depth:5", "depth.MSFT", "Last")
    assert len({depth.req_id, tbt.req_id, machine.inst("MSFT").data_req}) == 3
    assert machine.subs.owns(depth.req_id) and machine.subs.streams_in_use("depth") == 1

    again = machine(StreamsLost())  # 1101: every stream afresh, under new ids
    cancelled = [a.req_id for a in again if isinstance(a, CancelStream)]
    assert sorted(cancelled) == sorted([depth.req_id, tbt.req_id])
    assert len(streams(again)) == 2

    machine(SessionLost())
    assert not machine.subs.by_stream_req
    renewed = machine(SessionReady())
    assert len(streams(renewed)) == 2

    gone = machine(Remove("MSFT"))
    assert len([a for a in gone if isinstance(a, CancelStream)]) == 2
    assert any(isinstance(a, Cancel) for a in gone)
    assert not machine.subs.by_stream_req


def test_a_refused_stream_fails_alone_and_is_said_on_the_status() -> None:
    machine = Machine()
    machine(Add(KINDS))
    depth, _ = streams(machine(SessionReady()))
    inst = machine.inst("MSFT")
    machine(Ticking(inst.data_req))
    assert inst.state == SUBSCRIBED
    (status,) = statuses(machine(failed(309, depth.req_id)))
    assert status.state == SUBSCRIBED and status.code == 309
    assert status.message.startswith("depth:5 failed")
    assert machine.subs.streams_in_use("depth") == 0
    assert not machine.subs.owns(depth.req_id)
    assert len(streams(machine(StreamsLost()))) == 1  # the failed one is not asked again


def test_an_instrument_of_streams_only_ticks_on_them_and_fails_with_them() -> None:
    machine = Machine()
    machine(Add(DEPTH_ONLY))
    actions = machine(SessionReady())
    assert not any(isinstance(a, Subscribe) for a in actions)  # no market-data line
    (depth,) = streams(actions)
    inst = machine.inst("MSFT.D")
    assert inst.state == PENDING and inst.topics == ["depth.MSFT.D"]
    machine(Ticking(depth.req_id))
    assert machine.inst("MSFT.D").state == SUBSCRIBED
    machine(failed(10092, depth.req_id))
    assert machine.inst("MSFT.D").state == FAILED


def test_an_impossible_book_re_requests_its_depth() -> None:
    machine = Machine()
    machine(Add(KINDS))
    depth, _ = streams(machine(SessionReady()))
    actions = machine(BookInvalid(depth.req_id))
    assert [a.req_id for a in actions if isinstance(a, CancelStream)] == [depth.req_id]
    (again,) = streams(actions)
    assert again.kind == depth.kind and again.req_id != depth.req_id
    assert "impossible" in statuses(actions)[0].message


def test_extend_adds_only_the_new_kinds() -> None:
    machine = Machine()
    machine(Add(replace(MSFT, data=("depth",))))
    machine(SessionReady())
    actions = machine(Extend("MSFT", parse_kinds(["l1", "depth", "bars_5s:MIDPOINT"])))
    assert any(isinstance(a, Subscribe) for a in actions)  # l1 needs reqMktData now
    (bars,) = streams(actions)
    assert (bars.kind.what, bars.topic) == ("MIDPOINT", "bar.MSFT")
    assert machine.inst("MSFT").data == ["l1", "depth:10", "bars_5s:MIDPOINT"]
    shutdown = machine(CancelAll())
    assert len([a for a in shutdown if isinstance(a, CancelStream)]) == 2
