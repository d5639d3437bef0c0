"""End to end as a user runs it: ``ibpub sim`` + ``ibpub run`` + ``ibsub tail`` as processes.

Real sockets only: the unmodified ibapi client inside the publisher talks TCP to the simulated
gateway, the publisher binds a real PUB socket, and ``ibsub tail`` subscribes to it.
"""

import json
import signal
import subprocess
from collections import defaultdict
from typing import Any

from tests.support.config import BOGUS, SEVEN, SEVEN_KEYS
from tests.support.processes import BIN, LineReader, Processes, free_port
from tests.support.stack import Publisher, Stack
from tests.support.waiting import DEADLINE

GOOD_KEYS = SEVEN_KEYS


def e2e_publisher(stack: Stack, mdt: str = "live") -> Publisher:
    """The publisher's configuration: seven good instruments and a bogus one, every port fixed
    (the metrics one too: a process cannot report the one it was given)."""
    return stack.publisher_for(
        name="e2e",
        client_id=7,
        instruments=(*SEVEN, BOGUS),
        gateway={"market_data_type": mdt},
        bus={"heartbeat_interval": 0.5},
        metrics={"listen": f"127.0.0.1:{free_port()}"},
    )


COMMON_TYPES: dict[str, Any] = {
    "v": int,
    "type": str,
    "pub": str,
    "sid": int,
    "seq": int,
    "ts": int,
}
TICK_TYPES: dict[str, Any] = {
    "key": str,
    "conid": int,
    "field": str,
    "tick_type": int,
    "mdt": int,
    "ts_recv": int,
}


def start_publisher(procs: Processes, publisher: Publisher) -> subprocess.Popen[bytes]:
    return procs.start([str(BIN / "ibpub"), "run", "--config", str(publisher.config_file())])


def start_tail(procs: Processes, publisher: Publisher, *args: str) -> subprocess.Popen[bytes]:
    return procs.start(
        [str(BIN / "ibsub"), "tail", "--endpoint", publisher.endpoint, "--json", *args]
    )


def collect(stack: Stack, procs: Processes, count: int, mdt: str = "live") -> list[dict[str, Any]]:
    """Start the publisher, then a tail, then the gateway, so the tail sees everything.

    The publisher retries its gateway connection, so starting the simulator last guarantees
    the subscriber is connected before the first status or tick is published.
    """
    publisher = e2e_publisher(stack, mdt)
    start_publisher(procs, publisher)
    tail = start_tail(procs, publisher, "--count", str(count))
    out = LineReader(tail.stdout)
    out.until(lambda lines: any('"hb"' in line for line in lines))  # subscribed and flowing
    stack.start_gateway_process(procs)
    lines = out.rest(timeout=120)
    assert tail.wait(timeout=DEADLINE) == 0
    return [json.loads(line) for line in lines if line.strip()]


def test_every_instrument_flows_and_payloads_match_the_contract(
    stack: Stack, procs: Processes
) -> None:
    """Each good instrument delivers ticks with the contract's keys; a bad one fails alone."""
    messages = collect(stack, procs, 1500)

    ticks = [m for m in messages if m["type"] == "tick"]
    statuses = [m for m in messages if m["type"] == "status"]
    assert {t["key"] for t in ticks} == set(GOOD_KEYS)

    for msg in messages:
        assert msg["topic"].split(".", 1)[0] == msg["type"] or msg["type"] == "hb"
        for key, kind in COMMON_TYPES.items():
            assert isinstance(msg[key], kind), (key, msg)
        assert msg["v"] == 1 and msg["pub"] == "e2e"
        assert 0 < msg["sid"] < 2**63
    for tick in ticks:
        assert tick["topic"] == f"tick.{tick['key']}"
        for key, kind in TICK_TYPES.items():
            assert isinstance(tick[key], kind), (key, tick)
        present = [k for k in ("price", "size", "value") if k in tick]
        assert len(present) == 1, tick
        if "price" in tick:
            assert tick["price"] is None or isinstance(tick["price"], float)
            assert isinstance(tick["attrib"], int)
        if "size" in tick:
            assert isinstance(tick["size"], float)
        assert tick["mdt"] == 1
        assert tick["ts"] >= tick["ts_recv"]

    failed = [s for s in statuses if s["scope"] == "instrument" and s["state"] == "failed"]
    assert [s["key"] for s in failed] == ["BOGUS"]
    assert failed[0]["code"] == 200
    gateway_states = [s["state"] for s in statuses if s["scope"] == "gateway"]
    assert "connected" in gateway_states
    assert {m["sid"] for m in messages} == {messages[0]["sid"]}


def test_seq_is_contiguous_per_topic(stack: Stack, procs: Processes) -> None:
    """Within one sid, every topic's seq runs 1, 2, 3 ... without a gap."""
    messages = collect(stack, procs, 800)
    seqs: dict[str, list[int]] = defaultdict(list)
    for msg in messages:
        seqs[msg["topic"]].append(msg["seq"])
    for topic, got in seqs.items():
        if topic.startswith("tick."):
            assert got == list(range(1, len(got) + 1)), topic
        else:  # the tail may join after the first status and heartbeats
            assert got == list(range(got[0], got[0] + len(got))), topic


def test_first_ticks_carry_the_full_quote(stack: Stack, procs: Processes) -> None:
    """A new subscription publishes bid, ask, last with sizes, volume and the session fields."""
    messages = collect(stack, procs, 600)
    fields = {t["field"] for t in messages if t["type"] == "tick" and t["key"] == "AAPL"}
    assert {"bid", "ask", "last", "bid_size", "ask_size", "last_size", "volume"} <= fields
    assert {"high", "low", "close", "open", "last_timestamp"} <= fields


def test_delayed_market_data_is_marked(stack: Stack, procs: Processes) -> None:
    """With market_data_type delayed, ticks carry delayed ids and mdt 3."""
    messages = collect(stack, procs, 400, mdt="delayed")
    ticks = [m for m in messages if m["type"] == "tick"]
    assert ticks
    assert all(t["mdt"] == 3 for t in ticks)
    assert {t["tick_type"] for t in ticks if t["field"] == "bid"} == {66}
    delayed = [m for m in messages if m["type"] == "status" and m.get("state") == "delayed"]
    assert delayed


def test_sigterm_stops_the_publisher_cleanly(stack: Stack, procs: Processes) -> None:
    """SIGTERM makes ``ibpub run`` publish 'stopping' and exit 0."""
    stack.start_gateway_process(procs)
    config = e2e_publisher(stack)
    publisher = start_publisher(procs, config)
    tail = start_tail(procs, config)
    out = LineReader(tail.stdout)
    out.until(lambda lines: any('"tick"' in line for line in lines))
    publisher.send_signal(signal.SIGTERM)
    assert publisher.wait(timeout=DEADLINE) == 0
    out.until(lambda lines: any('"stopping"' in line for line in lines))
    tail.send_signal(signal.SIGINT)
    assert tail.wait(timeout=DEADLINE) == 0
