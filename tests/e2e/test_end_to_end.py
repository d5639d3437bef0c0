"""End to end as a user runs it: ``ibpub sim`` + ``ibpub run`` + ``ibsub tail`` as processes.

Real sockets only: the unmodified ibapi client inside the publisher talks TCP to the simulated
gateway, the publisher binds a real PUB socket, and ``ibsub tail`` subscribes to it.
"""

import json
import signal
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import BIN, LineReader, Processes, free_port, port_open, processes
from tests.support.waiting import wait_for

GOOD_KEYS = ("AAPL", "MSFT", "SPY", "QQQ", "ESZ6", "CLF7", "EUR.USD")

CONFIG = """\
[publisher]
name = "e2e"

[gateway]
host = "127.0.0.1"
port = {gw_port}
client_id = 7
connect_timeout = 5.0
market_data_type = "{mdt}"

[bus]
pub = ["tcp://127.0.0.1:{bus_port}"]
snapshot = "tcp://127.0.0.1:{snap_port}"
heartbeat_interval = 0.5

[metrics]
listen = "127.0.0.1:{metrics_port}"

[[instruments]]
symbol = "AAPL"
sec_type = "STK"
primary_exchange = "NASDAQ"

[[instruments]]
symbol = "MSFT"
sec_type = "STK"

[[instruments]]
symbol = "SPY"
sec_type = "STK"

[[instruments]]
symbol = "QQQ"
sec_type = "STK"

[[instruments]]
key = "ESZ6"
symbol = "ES"
sec_type = "FUT"
exchange = "CME"
last_trade_date = "202612"

[[instruments]]
key = "CLF7"
symbol = "CL"
sec_type = "FUT"
exchange = "NYMEX"
last_trade_date = "202701"

[[instruments]]
symbol = "EUR"
sec_type = "CASH"
exchange = "IDEALPRO"
currency = "USD"

[[instruments]]
key = "BOGUS"
symbol = "NOSUCHSYMBOL"
sec_type = "STK"
"""

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


class Stack:
    """Ports, config and processes of one end-to-end run."""

    def __init__(self, procs: Processes, tmp_path: Path, mdt: str = "live") -> None:
        self.procs = procs
        self.gw_port = free_port()
        self.bus_port = free_port()
        self.metrics_port = free_port()
        self.endpoint = f"tcp://127.0.0.1:{self.bus_port}"
        self.config = tmp_path / "ibpub.toml"
        self.config.write_text(
            CONFIG.format(
                gw_port=self.gw_port,
                bus_port=self.bus_port,
                snap_port=free_port(),
                metrics_port=self.metrics_port,
                mdt=mdt,
            )
        )

    def start_sim(self, rate: int = 300) -> None:
        self.procs.start(
            [str(BIN / "ibpub"), "sim", "--port", str(self.gw_port), "--rate", str(rate)]
        )
        wait_for(lambda: port_open(self.gw_port), "the simulator to listen")

    def start_publisher(self) -> Any:
        return self.procs.start([str(BIN / "ibpub"), "run", "--config", str(self.config)])

    def start_tail(self, *args: str) -> Any:
        return self.procs.start(
            [str(BIN / "ibsub"), "tail", "--endpoint", self.endpoint, "--json", *args]
        )


@pytest.fixture
def procs() -> Iterator[Processes]:
    with processes() as group:
        yield group


def collect(stack: Stack, count: int) -> list[dict[str, Any]]:
    """Start the publisher, then a tail, then the gateway, so the tail sees everything.

    The publisher retries its gateway connection, so starting the simulator last guarantees
    the subscriber is connected before the first status or tick is published.
    """
    stack.start_publisher()
    tail = stack.start_tail("--count", str(count))
    out = LineReader(tail.stdout)
    out.until(lambda lines: any('"hb"' in line for line in lines))  # subscribed and flowing
    stack.start_sim()
    lines = out.rest(timeout=120)
    assert tail.wait(timeout=30) == 0
    return [json.loads(line) for line in lines if line.strip()]


def test_every_instrument_flows_and_payloads_match_the_contract(
    procs: Processes, tmp_path: Path
) -> None:
    """Each good instrument delivers ticks with the contract's keys; a bad one fails alone."""
    stack = Stack(procs, tmp_path)
    messages = collect(stack, 1500)

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


def test_seq_is_contiguous_per_topic(procs: Processes, tmp_path: Path) -> None:
    """Within one sid, every topic's seq runs 1, 2, 3 ... without a gap."""
    stack = Stack(procs, tmp_path)
    messages = collect(stack, 800)
    seqs: dict[str, list[int]] = defaultdict(list)
    for msg in messages:
        seqs[msg["topic"]].append(msg["seq"])
    for topic, got in seqs.items():
        if topic.startswith("tick."):
            assert got == list(range(1, len(got) + 1)), topic
        else:  # the tail may join after the first status and heartbeats
            assert got == list(range(got[0], got[0] + len(got))), topic


def test_first_ticks_carry_the_full_quote(procs: Processes, tmp_path: Path) -> None:
    """A new subscription publishes bid, ask, last with sizes, volume and the session fields."""
    stack = Stack(procs, tmp_path)
    messages = collect(stack, 600)
    fields = {t["field"] for t in messages if t["type"] == "tick" and t["key"] == "AAPL"}
    assert {"bid", "ask", "last", "bid_size", "ask_size", "last_size", "volume"} <= fields
    assert {"high", "low", "close", "open", "last_timestamp"} <= fields


def test_delayed_market_data_is_marked(procs: Processes, tmp_path: Path) -> None:
    """With market_data_type delayed, ticks carry delayed ids and mdt 3."""
    stack = Stack(procs, tmp_path, mdt="delayed")
    messages = collect(stack, 400)
    ticks = [m for m in messages if m["type"] == "tick"]
    assert ticks
    assert all(t["mdt"] == 3 for t in ticks)
    assert {t["tick_type"] for t in ticks if t["field"] == "bid"} == {66}
    delayed = [m for m in messages if m["type"] == "status" and m.get("state") == "delayed"]
    assert delayed


def test_sigterm_stops_the_publisher_cleanly(procs: Processes, tmp_path: Path) -> None:
    """SIGTERM makes ``ibpub run`` publish 'stopping' and exit 0."""
    stack = Stack(procs, tmp_path)
    stack.start_sim()
    publisher = stack.start_publisher()
    tail = stack.start_tail()
    out = LineReader(tail.stdout)
    out.until(lambda lines: any('"tick"' in line for line in lines))
    publisher.send_signal(signal.SIGTERM)
    assert publisher.wait(timeout=20) == 0
    out.until(lambda lines: any('"stopping"' in line for line in lines), timeout=20)
    tail.send_signal(signal.SIGINT)
    assert tail.wait(timeout=20) == 0
