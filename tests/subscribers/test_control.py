"""The control protocol's client side, pure: request encoding, reply decoding (every error code,
candidates, broken replies), the lease books' timing and retries, and the state table."""

import time
from typing import Any

import msgpack
import msgspec
import pytest

from subscribers.control import (
    ControlError,
    decode_reply,
    default_client_name,
    describe_instrument,
    encode_list,
    encode_renew,
    encode_subscribe,
    encode_unsubscribe,
    instrument_from,
)
from subscribers.leases import RETRY_FIRST, RETRY_MAX, Holdings, Wanted
from subscribers.messages import Status
from subscribers.schema import (
    ERROR_CODES,
    ControlInstrument,
    ControlRequest,
    ListReply,
    RenewReply,
    SubscribeReply,
    UnsubscribeReply,
)
from subscribers.states import StateTable, instruments_in

NOW_NS = 1_800_000_000_000_000_000


def pack(value: Any) -> bytes:
    return bytes(msgpack.packb(value))


# -- requests ------------------------------------------------------------------------------------


def test_a_bare_symbol_is_a_us_stock() -> None:
    """A bare symbol means a US stock: STK on SMART in USD."""
    body = msgpack.unpackb(encode_subscribe("me", "NVDA"))
    assert body == {
        "op": "subscribe", "v": 1, "client": "me", "data": ["l1"],
        "instrument": {"sec_type": "STK", "symbol": "NVDA", "exchange": "SMART", "currency": "USD"},
    }  # fmt: skip


def test_a_mapping_is_sent_with_only_its_keys() -> None:
    """A config-style mapping is sent as given, with ``lease`` when asked for."""
    spec = {"sec_type": "FUT", "symbol": "ES", "exchange": "CME", "last_trade_date": "202703"}
    body = msgpack.unpackb(encode_subscribe("me", spec, ["l1"], lease=12))
    assert (body["instrument"], body["lease"]) == (spec, 12.0)


def test_bad_instruments_are_refused_before_sending() -> None:
    """Unknown keys, wrong types and an empty symbol are ValueErrors, not requests."""
    with pytest.raises(ValueError, match="unknown instrument keys: colour"):
        instrument_from({"symbol": "A", "colour": "red"})
    with pytest.raises(ValueError, match="bad instrument"):
        instrument_from({"con_id": "twelve"})
    with pytest.raises(ValueError):
        instrument_from("")
    with pytest.raises(ValueError):
        encode_subscribe("me", "A", lease=0)
    with pytest.raises(TypeError):
        encode_subscribe("me", "A", "l1")


def test_the_other_requests_are_the_contract_maps() -> None:
    """renew, unsubscribe and list carry v, op and exactly their keys."""
    assert msgpack.unpackb(encode_renew("me", ["A"])) == {
        "op": "renew",
        "v": 1,
        "client": "me",
        "keys": ["A"],
    }
    assert msgpack.unpackb(encode_unsubscribe("me", ["A", "B"]))["keys"] == ["A", "B"]
    assert msgpack.unpackb(encode_list()) == {"op": "list", "v": 1}


def test_the_publisher_decodes_any_request_with_one_decoder() -> None:
    """The request union is tagged by ``op``: one typed decoder reads every request back."""
    decoder = msgspec.msgpack.Decoder(ControlRequest)
    request = decoder.decode(encode_subscribe("me", {"symbol": "A", "con_id": 7}))
    assert request.instrument == ControlInstrument(symbol="A", con_id=7)  # type: ignore[union-attr]
    assert decoder.decode(encode_list()).v == 1
    assert decoder.decode(
        pack({"v": 1, "op": "subscribe", "client": "c", "instrument": {}})
    ).data == ["l1"]  # type: ignore[union-attr]


def test_names_are_readable_and_unique() -> None:
    """The default holder name is host:pid:random, different each time."""
    first, second = default_client_name(), default_client_name()
    assert first != second and first.count(":") == 2
    assert describe_instrument(instrument_from("NVDA")) == "STK NVDA SMART USD"
    assert describe_instrument(instrument_from({"key": "ES1", "symbol": "ES"})) == "ES1"


# -- replies -------------------------------------------------------------------------------------


def test_ok_replies_decode_into_their_structs() -> None:
    """Each op's ok reply decodes typed; unknown keys are ignored."""
    sub = decode_reply("subscribe", pack({
        "v": 1, "ok": True, "key": "A", "conid": 5, "topics": ["tick.A"], "state": "pending",
        "lease_expires": NOW_NS, "later": 1,
    }))  # fmt: skip
    assert isinstance(sub, SubscribeReply) and (sub.key, sub.topics) == ("A", ["tick.A"])
    renew = decode_reply("renew", pack({"v": 1, "ok": True, "lease_expires": NOW_NS}))
    assert isinstance(renew, RenewReply) and renew.lease_expires == NOW_NS
    assert isinstance(decode_reply("unsubscribe", pack({"v": 1, "ok": True})), UnsubscribeReply)
    listed = decode_reply("list", pack({
        "v": 1, "ok": True, "lines_used": 1, "lines_budget": 100, "instruments": [
            {"key": "A", "conid": 5, "data": ["l1"], "state": "subscribed", "pinned": True,
             "holders": [], "lease_expires": None},
        ],
    }))  # fmt: skip
    assert isinstance(listed, ListReply) and listed.instruments[0].pinned


@pytest.mark.parametrize("code", ERROR_CODES)
def test_every_error_code_raises_control_error(code: str) -> None:
    """Each of the contract's codes becomes a ControlError with it and the message."""
    with pytest.raises(ControlError) as caught:
        decode_reply("subscribe", pack({"v": 1, "ok": False, "error": code, "message": "why"}))
    assert (caught.value.error, caught.value.message, caught.value.refused) == (code, "why", True)
    assert caught.value.candidates == ()


def test_ambiguous_contract_carries_candidates() -> None:
    """The candidates of ambiguous_contract are decoded with their con_ids."""
    candidate = {"conid": 9, "sec_type": "FUT", "symbol": "ES", "local_symbol": "ESH7",
                 "last_trade_date": "20270319", "exchange": "CME", "currency": "USD"}  # fmt: skip
    body = pack({"v": 1, "ok": False, "error": "ambiguous_contract", "message": "2 match",
                 "candidates": [candidate, {**candidate, "conid": 10}]})  # fmt: skip
    with pytest.raises(ControlError) as caught:
        decode_reply("subscribe", body)
    assert [c.conid for c in caught.value.candidates] == [9, 10]


@pytest.mark.parametrize(
    "body",
    [
        b"\xc1",
        pack([1, 2]),
        pack({"v": 2, "ok": True}),
        pack({"v": 1, "ok": True, "key": "A"}),
        pack({"v": 1, "ok": False, "error": "x"}),
    ],
)
def test_a_broken_reply_is_bad_reply(body: bytes) -> None:
    """Bad msgpack, another version, missing keys: ControlError("bad_reply"), not refused."""
    with pytest.raises(ControlError) as caught:
        decode_reply("subscribe", body)
    assert caught.value.error == "bad_reply" and not caught.value.refused


# -- lease books ---------------------------------------------------------------------------------


def grant(holdings: Holdings, wanted: Wanted, now: float, lease_s: float, key: str = "A") -> None:
    reply = SubscribeReply(
        v=1, ok=True, key=key, conid=1, topics=[f"tick.{key}"], state="pending",
        lease_expires=NOW_NS + int(lease_s * 1e9),
    )  # fmt: skip
    holdings.granted(wanted, reply, now, NOW_NS)


def test_renewal_is_due_after_a_third_of_the_granted_lease() -> None:
    """With the publisher's 30 s lease, the renewal falls due at 10 s, once, until answered."""
    holdings = Holdings()
    wanted = Wanted(instrument_from("A"))
    grant(holdings, wanted, now=100.0, lease_s=30.0)
    assert holdings.next_due() == pytest.approx(110.0)
    assert holdings.due_renewals(109.9) == ()
    assert holdings.due_renewals(110.0) == ("A",)
    assert holdings.due_renewals(111.0) == ()  # in flight
    holdings.renewed(["A"], NOW_NS + int(30e9), 111.0, NOW_NS)
    assert holdings.next_due() == pytest.approx(121.0)


def test_a_lease_asked_for_sets_the_interval() -> None:
    """A lease the caller asked for is renewed every third of it, whatever the clocks say."""
    holdings = Holdings()
    wanted = Wanted(instrument_from("A"), lease=0.6)
    grant(holdings, wanted, now=0.0, lease_s=-5.0)  # skewed clocks: the reply is "in the past"
    assert holdings.next_due() == pytest.approx(0.2)


def test_a_timed_out_renewal_is_tried_again_soon() -> None:
    """No answer: the renewal is retried within a second, the hold kept."""
    holdings = Holdings()
    grant(holdings, Wanted(instrument_from("A")), now=0.0, lease_s=30.0)
    holdings.due_renewals(10.0)
    holdings.renew_timed_out(["A"], 20.0)
    assert holdings.next_due() == pytest.approx(20.0 + RETRY_FIRST)
    assert set(holdings.held) == {"A"}


def test_a_refused_renewal_gives_the_request_back() -> None:
    """A refused renewal drops the hold and returns what to ask for again."""
    holdings = Holdings()
    wanted = Wanted(instrument_from("A"))
    grant(holdings, wanted, now=0.0, lease_s=30.0)
    assert holdings.renew_refused(["A"]) == (wanted,)
    assert not holdings.held


def test_a_restart_asks_again_for_everything_held() -> None:
    """After a restart every held request is returned and renewals stop until re-granted."""
    holdings = Holdings()
    a, b = Wanted(instrument_from("A")), Wanted(instrument_from("B"))
    grant(holdings, a, 0.0, 30.0, "A")
    grant(holdings, b, 0.0, 30.0, "B")
    assert set(holdings.restarted()) == {a, b}
    assert holdings.next_due() == float("inf")


def test_transient_refusals_back_off_and_permanent_ones_give_up() -> None:
    """budget_exceeded is retried after 1, 2, 4 ... s (capped); unknown_contract is not."""
    holdings = Holdings()
    wanted = Wanted(instrument_from("A"))
    delays = []
    now = 0.0
    for _ in range(8):
        assert holdings.refused(wanted, "budget_exceeded", now)
        delays.append(holdings.next_due() - now)
        now = holdings.next_due()
        assert holdings.due_requests(now) == (wanted,)
    assert delays[:3] == [RETRY_FIRST, 2 * RETRY_FIRST, 4 * RETRY_FIRST]
    assert max(delays) == RETRY_MAX
    assert not holdings.refused(wanted, "unknown_contract", now)
    assert holdings.next_due() == float("inf")


def test_release_forgets_one_key() -> None:
    """release(key) returns the hold and stops its timers; an unknown key is None."""
    holdings = Holdings()
    grant(holdings, Wanted(instrument_from("A")), 0.0, 30.0)
    assert holdings.release("A") is not None
    assert holdings.release("A") is None
    assert holdings.next_due() == float("inf")


# -- states --------------------------------------------------------------------------------------


def status(seq: int, state: str, key: str | None = "A", sid: int = 1, ts: int = 0) -> Status:
    scope = "gateway" if key is None else "instrument"
    return Status(pub="p", sid=sid, seq=seq, ts=ts or seq, scope=scope, state=state, key=key,
                  code=None, message="")  # fmt: skip


def test_the_newer_state_wins() -> None:
    """Within a session the higher seq wins; across sessions the later ts."""
    table = StateTable()
    assert table.apply(status(5, "subscribed"))
    assert not table.apply(status(4, "failed"))
    assert table.view["instrument", "A"].state == "subscribed"
    assert not table.apply(status(1, "failed", sid=2, ts=3))  # another session, older
    assert table.apply(status(1, "failed", sid=2, ts=time.time_ns()))
    assert table.view["instrument", "A"].state == "failed"


def test_trouble_lists_failed_delayed_and_stale_instruments() -> None:
    """instruments_in picks the instruments in trouble, by key; not the gateway."""
    table = StateTable()
    table.apply_all([status(1, "failed", "B"), status(2, "subscribed", "A"),
                     status(3, "delayed", "C"), status(4, "disconnected", None)])  # fmt: skip
    assert [s.key for s in instruments_in(table.view)] == ["B", "C"]
