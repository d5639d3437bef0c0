"""The control socket on a real publisher and simulated gateway (contract 1.1, "Control").

A raw DEALER client speaking msgpack, as any language would: subscribe to instruments the
configuration does not name, share them, release them, and the refusals the contract lists.
"""

import time
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
import zmq

from tests.support.config import AAPL
from tests.support.stack import Stack
from tests.support.waiting import wait_for

SPY = {"symbol": "SPY", "sec_type": "STK", "exchange": "SMART", "currency": "USD"}
QQQ = {"symbol": "QQQ", "sec_type": "STK", "exchange": "SMART", "currency": "USD"}
MSFT = {"symbol": "MSFT", "sec_type": "STK", "exchange": "SMART", "currency": "USD"}
ES = {"symbol": "ES", "sec_type": "FUT", "exchange": "CME", "currency": "USD"}


class Client:
    """A DEALER on the control socket: one msgpack map each way."""

    def __init__(self, context: zmq.Context[Any], endpoint: str) -> None:
        self.socket = context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(endpoint)

    def send(self, request: dict[str, Any]) -> None:
        self.socket.send(msgpack.packb(request))

    def receive(self, timeout: float = 10.0) -> dict[str, Any]:
        assert self.socket.poll(int(timeout * 1000)), "no reply"
        reply: dict[str, Any] = msgpack.unpackb(self.socket.recv())
        return reply

    def ask(self, request: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
        self.send(request)
        return self.receive(timeout)

    def subscribe(self, client: str, instrument: dict[str, Any], **more: Any) -> dict[str, Any]:
        return self.ask(
            {"v": 1, "op": "subscribe", "client": client, "instrument": instrument, **more}
        )

    def close(self) -> None:
        self.socket.close(linger=0)


@pytest.fixture
def running(stack: Stack) -> Stack:
    stack.start_gateway(rate=200.0)
    stack.start_publisher(instruments=(AAPL,), control={"grace": 0.5, "lease": 30.0})
    stack.wait_streaming(("AAPL",))
    return stack


@pytest.fixture
def client(running: Stack) -> Iterator[Client]:
    c = Client(running.context, running.publisher.control_endpoint)
    yield c
    c.close()


def market_data(stack: Stack) -> int:
    """The simulator's live market-data subscriptions (its sessions' streams)."""
    count: int = stack.core(lambda core: sum(s.stream_count for s in core.sessions))
    return count


def test_subscribe_streams_an_instrument_not_configured(running: Stack, client: Client) -> None:
    listener = running.listen((b"tick.SPY", b"hb."))
    reply = client.subscribe("a", SPY)
    assert reply["ok"] is True, reply
    assert reply["key"] == "SPY"
    assert reply["topics"] == ["tick.SPY"]
    assert reply["conid"] == 756733
    assert reply["lease_expires"] > time.time_ns()
    listener.until(lambda m: any(x["type"] == "tick" for x in m), "a SPY tick")
    assert running.metrics.count("ibpub_control_requests_total", op="subscribe", outcome="ok") == 1


def test_two_holders_share_then_grace_cancels(running: Stack, client: Client) -> None:
    before = market_data(running)
    first = client.subscribe("a", SPY)
    second = client.subscribe("b", SPY)
    assert first["ok"] and second["ok"], (first, second)
    assert second["key"] == first["key"] == "SPY"
    wait_for(lambda: market_data(running) == before + 1, "one simulator subscription for SPY")
    listing = client.ask({"v": 1, "op": "list"})
    spy = next(i for i in listing["instruments"] if i["key"] == "SPY")
    assert spy["holders"] == ["a", "b"] and spy["pinned"] is False
    aapl = next(i for i in listing["instruments"] if i["key"] == "AAPL")
    assert aapl["pinned"] is True
    assert listing["lines_used"] == 2 and listing["lines_budget"] == 100
    assert client.ask({"v": 1, "op": "unsubscribe", "client": "a", "keys": ["SPY"]})["ok"]
    assert "SPY" in running.service.subscriptions
    assert client.ask({"v": 1, "op": "unsubscribe", "client": "b", "keys": ["SPY"]})["ok"]
    wait_for(lambda: "SPY" not in running.service.subscriptions, "SPY cancelled after grace")
    wait_for(lambda: market_data(running) == before, "the simulator's line freed")
    assert running.metrics.value("ibpub_lines_used") == 1


def test_budget_refuses_beyond_max_lines(stack: Stack) -> None:
    stack.start_gateway(rate=200.0)
    stack.start_publisher(instruments=(AAPL,), gateway={"max_lines": 3})
    stack.wait_streaming(("AAPL",))
    client = Client(stack.context, stack.publisher.control_endpoint)
    try:
        assert client.subscribe("a", SPY)["ok"]
        assert client.subscribe("a", QQQ)["ok"]
        refused = client.subscribe("a", MSFT)
        assert refused["ok"] is False and refused["error"] == "budget_exceeded", refused
        assert "3 of 3" in refused["message"]
        stack.wait_streaming(("AAPL", "SPY", "QQQ"))
        assert "MSFT" not in stack.service.subscriptions
        assert stack.metrics.value("ibpub_lines_budget") == 3
    finally:
        client.close()


def test_ambiguous_future_then_by_con_id(running: Stack, client: Client) -> None:
    reply = client.subscribe("a", ES)
    assert reply["ok"] is False and reply["error"] == "ambiguous_contract", reply
    conids = {c["conid"] for c in reply["candidates"]}
    assert {649180695, 672387468} <= conids
    first = reply["candidates"][0]
    assert set(first) == {
        "conid",
        "sec_type",
        "symbol",
        "local_symbol",
        "last_trade_date",
        "exchange",
        "currency",
    }
    assert "ES" not in running.service.subscriptions
    chosen = client.subscribe(
        "a", {"key": "ESZ6", "sec_type": "FUT", "con_id": 649180695, "exchange": "CME"}
    )
    assert chosen["ok"] and chosen["conid"] == 649180695, chosen
    running.wait_streaming(("ESZ6",))


def test_an_unknown_con_id_is_refused_before_anything_streams(
    running: Stack, client: Client
) -> None:
    """A con_id the gateway does not know is checked with IB first and refused."""
    reply = client.subscribe("a", {"key": "BOGUS", "sec_type": "STK", "con_id": 1})
    assert reply["ok"] is False and reply["error"] == "unknown_contract", reply
    assert "BOGUS" not in running.service.subscriptions


def test_unknown_contract_and_key_conflict(running: Stack, client: Client) -> None:
    unknown = client.subscribe("a", {"symbol": "NOSUCHSYMBOL", "sec_type": "STK"})
    assert unknown["error"] == "unknown_contract", unknown
    assert "NOSUCHSYMBOL" not in running.service.subscriptions
    conflict = client.subscribe("a", {**SPY, "key": "AAPL"})
    assert conflict["error"] == "key_conflict", conflict
    assert "AAPL" in conflict["message"] and "SPY" in conflict["message"]


def test_bad_requests_are_answered_and_counted(running: Stack, client: Client) -> None:
    assert client.ask({"v": 1, "op": "fly"})["error"] == "bad_request"
    assert client.ask({"v": 2, "op": "list"})["error"] == "bad_request"
    tbt = client.subscribe("a", SPY, data=["tbt_lastest"])
    assert tbt["error"] == "bad_request" and "unknown data kind" in tbt["message"]
    greeks = client.subscribe("a", SPY, data=["greeks"])
    assert greeks["error"] == "bad_request" and "options only" in greeks["message"], greeks
    client.socket.send(b"\xc1garbage")
    assert client.receive()["error"] == "bad_request"
    bad = client.subscribe("a", {"sec_type": "STK", "symbol": "X", "strike": "high"})
    assert bad["error"] == "bad_request" and "instrument.strike" in bad["message"], bad
    metrics = running.metrics
    assert metrics.count("ibpub_control_requests_total", op="unknown", outcome="bad_request") == 2
    assert metrics.count("ibpub_control_requests_total", op="list", outcome="bad_request") == 1
    assert metrics.count("ibpub_control_requests_total", op="subscribe", outcome="bad_request") == 3


def test_a_flood_of_garbage_leaves_ticks_and_others_unharmed(
    running: Stack, client: Client
) -> None:
    listener = running.listen((b"tick.AAPL", b"hb."))
    for _ in range(10_000):
        client.socket.send(b"\x00garbage")
    other = Client(running.context, running.publisher.control_endpoint)
    try:
        reply = other.ask({"v": 1, "op": "list"})
        assert reply["ok"], reply
        seen = len(listener.ticks())
        listener.until(lambda m: len([x for x in m if x["type"] == "tick"]) > seen + 10, "ticks")
        replies = [client.receive() for _ in range(10_000)]
        assert {r["error"] for r in replies} <= {"bad_request", "rate_limited"}
        assert sum(r["error"] == "rate_limited" for r in replies) > 9_000
    finally:
        other.close()


def test_rate_limit_answers_rate_limited(stack: Stack) -> None:
    stack.start_gateway(rate=50.0)
    stack.start_publisher(instruments=(AAPL,), control={"max_requests_per_second": 2.0})
    client = Client(stack.context, stack.publisher.control_endpoint)
    try:
        for _ in range(5):
            client.send({"v": 1, "op": "list"})
        errors = [client.receive().get("error") for _ in range(5)]
        assert errors.count("rate_limited") >= 2, errors
        assert errors[0] is None
    finally:
        client.close()


def test_a_late_joiner_sees_a_failed_instrument_in_the_snapshot_states(stack: Stack) -> None:
    stack.start_gateway(rate=100.0)
    bogus = {"key": "BOGUS", "symbol": "NOSUCHSYMBOL", "sec_type": "STK"}
    stack.start_publisher(instruments=(AAPL, bogus))
    stack.wait_streaming(("AAPL",))
    wait_for(
        lambda: stack.service.subscriptions.get("BOGUS").state == "failed",  # type: ignore[union-attr]
        "BOGUS failed",
    )
    socket = stack.context.socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    socket.connect(stack.publisher.snapshot_endpoint)
    try:
        socket.send(msgpack.packb({"v": 1, "prefix": ""}))
        assert socket.poll(10_000)
        reply = msgpack.unpackb(socket.recv())
    finally:
        socket.close(linger=0)
    states = {(s["scope"], s["key"]): s for s in reply["states"]}
    failed = states[("instrument", "BOGUS")]
    assert failed["state"] == "failed" and failed["code"] == 200
    assert failed["type"] == "status" and failed["sid"] == reply["sid"] and failed["seq"] >= 1
    assert ("gateway", None) in states and ("publisher", None) in states


def test_ib_101_fails_the_instrument_frees_the_line_and_tells_holders(
    running: Stack, client: Client
) -> None:
    running.faults(lambda f: f.reject_market_data("QQQ", 101, "Max number of tickers reached"))
    listener = running.listen((b"status.", b"hb."))
    reply = client.subscribe("a", QQQ)
    assert reply["ok"], reply  # qualified; the line request fails afterwards
    failed = listener.until(
        lambda m: [
            x
            for x in m
            if x["type"] == "status" and x.get("key") == "QQQ" and x["state"] == "failed"
        ],
        "QQQ failed",
    )
    assert failed[0]["code"] == 101
    wait_for(lambda: running.metrics.value("ibpub_lines_used") == 1, "the line freed")
    listing = client.ask({"v": 1, "op": "list"})
    qqq = next(i for i in listing["instruments"] if i["key"] == "QQQ")
    assert qqq["holders"] == ["a"]
    # 101 is transient: retried with backoff while a line is free (here it fails again)
    listener.until(
        lambda m: [
            x
            for x in m
            if x["type"] == "status"
            and x.get("key") == "QQQ"
            and "retrying after IB code 101" in x["message"]
        ],
        "a retry of QQQ",
    )


def test_10090_is_an_advisory_on_the_status_not_a_failure(running: Stack, client: Client) -> None:
    assert client.subscribe("a", SPY)["ok"]
    running.wait_streaming(("SPY",))
    listener = running.listen((b"status.", b"hb."))
    running.faults(
        lambda f: f.send_error(10090, "Part of requested market data is not subscribed", "SPY")
    )
    advisory = listener.until(
        lambda m: [x for x in m if x["type"] == "status" and x.get("code") == 10090],
        "the 10090 advisory",
    )
    assert advisory[0]["key"] == "SPY" and advisory[0]["state"] == "subscribed"
    assert running.service.subscriptions.get("SPY").state == "subscribed"  # type: ignore[union-attr]


def test_a_req_client_and_an_oversized_request(running: Stack, client: Client) -> None:
    req = running.context.socket(zmq.REQ)
    req.setsockopt(zmq.LINGER, 0)
    req.connect(running.publisher.control_endpoint)
    try:
        req.send(msgpack.packb({"v": 1, "op": "list"}))
        assert req.poll(10_000)
        assert msgpack.unpackb(req.recv())["ok"] is True
    finally:
        req.close(linger=0)
    client.send({"v": 1, "op": "list", "pad": "x" * 20_000})
    big = client.receive()
    assert big["error"] == "bad_request" and "too large" in big["message"]
    assert client.ask({"v": 1, "op": "list"})["ok"]  # still connected and answered


def test_an_unrenewed_lease_runs_out_and_the_line_is_cancelled(
    running: Stack, client: Client
) -> None:
    before = market_data(running)
    reply = client.subscribe("a", QQQ, lease=0.3)
    assert reply["ok"], reply
    wait_for(lambda: market_data(running) == before + 1, "QQQ subscribed at the simulator")
    # no renew: the lease runs out, then the grace (0.5 s), then the cancel
    wait_for(lambda: "QQQ" not in running.service.subscriptions, "QQQ cancelled")
    wait_for(lambda: market_data(running) == before, "the simulator's line freed")
    assert running.metrics.value("ibpub_leases_active") == 0
