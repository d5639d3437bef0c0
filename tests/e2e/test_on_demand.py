"""On-demand instruments end to end (issue 12's tests): real sockets, real processes.

Subscribers that ask for instruments are child processes (a few lines of the library, run with
this environment's python, printing what they receive as JSON lines) or the ``ibsub`` commands
as a user types them; the publisher is the harness's (the real service on its own thread, so a
test can read its metrics and restart it) and the simulator counts its live market-data
subscriptions, which proves that two holders share one IB line.
"""

import json
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
import zmq

from subscribers.client import Subscriber
from subscribers.events import Event, SnapshotApplied
from subscribers.messages import Status
from tests.commands.test_demo import DEMO
from tests.support.config import AAPL, BOGUS, MSFT
from tests.support.processes import BIN, LineReader, Processes, free_port
from tests.support.stack import Publisher, Stack
from tests.support.waiting import DEADLINE, wait_for

CHILD = """
import json, signal, sys
from subscribers.client import Subscriber
from subscribers.events import Event, SnapshotApplied
from subscribers.messages import Status
from subscribers.wire import Tick

endpoint, control, client, *symbols = sys.argv[1:]

def stop(signum, frame):
    raise SystemExit(0)  # unwinds the with block: the subscriber releases what it holds

signal.signal(signal.SIGTERM, stop)

def on_event(event):
    fields = {"again": event.again} if hasattr(event, "again") else {}
    print(json.dumps({"event": type(event).__name__, **fields}), flush=True)

with Subscriber(
    endpoint, requests=symbols, control_endpoint=control, client=client, on_event=on_event
) as sub:
    print(json.dumps({"held": sorted(sub.held)}), flush=True)
    for msg in sub:
        if isinstance(msg, Tick):
            line = {"topic": msg.topic, "key": msg.key, "sid": msg.sid, "seq": msg.seq}
            print(json.dumps(line), flush=True)
"""
"""The subscriber child: ``python -c CHILD ENDPOINT CONTROL CLIENT SYMBOL...``."""

NVDA = "NVDA"
"""A stock the simulator knows and no test configuration names."""


# -- helpers -------------------------------------------------------------------------------


class Child:
    """A subscriber process holding ``symbols`` on demand, its JSON lines read as they come."""

    def __init__(self, procs: Processes, publisher: Publisher, client: str, *symbols: str):
        args = [publisher.endpoint, publisher.control_endpoint, client, *symbols]
        self.proc = procs.start([sys.executable, "-c", CHILD, *args])
        self.out = LineReader(self.proc.stdout)

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.lines if line.startswith("{")]

    def ticks(self, key: str) -> list[dict[str, Any]]:
        return [r for r in self.records() if r.get("key") == key]

    def until(self, done: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
        self.out.until(lambda _: done(self.records()))
        assert not self.out.eof, self.stderr()
        return self.records()

    def more_ticks(self, key: str, count: int = 5) -> None:
        """Wait for ``count`` ticks of ``key`` beyond those read so far."""
        seen = len(self.ticks(key))
        self.until(lambda _: len(self.ticks(key)) >= seen + count)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=DEADLINE)

    def stderr(self) -> str:
        if self.proc.poll() is None or self.proc.stderr is None:
            return ""
        return self.proc.stderr.read().decode(errors="replace")


def ibsub(*args: str) -> subprocess.CompletedProcess[str]:
    """``ibsub ARGS`` as a user types it."""
    return subprocess.run(
        [str(BIN / "ibsub"), *args], capture_output=True, text=True, timeout=DEADLINE, check=False
    )


def ask(publisher: Publisher, context: zmq.Context[Any], request: dict[str, Any]) -> Any:
    """One raw control request (a REQ socket, msgpack), as any language would send it."""
    sock = context.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.connect(publisher.control_endpoint)
        sock.send(msgpack.packb({"v": 1, **request}))
        assert sock.poll(int(DEADLINE * 1000)), "no reply from the control socket"
        return msgpack.unpackb(sock.recv())
    finally:
        sock.close(linger=0)


def listing(stack: Stack) -> dict[str, dict[str, Any]]:
    """The publisher's ``list`` reply, its instruments by key."""
    reply = ask(stack.publisher, stack.context, {"op": "list"})
    assert reply["ok"], reply
    return {held["key"]: held for held in reply["instruments"]}


def lines_in_use(stack: Stack) -> int:
    """The simulator's live market-data subscriptions: the IB lines really held."""
    count: int = stack.core(lambda core: core.active_market_data())
    return count


# -- two holders share one line; the last to leave frees it after grace --------------------


def test_two_processes_share_one_line_until_the_last_leaves(stack: Stack, procs: Processes) -> None:
    stack.start_gateway(rate=300.0)
    publisher = stack.start_publisher(instruments=(AAPL, MSFT), control={"grace": 1.0})
    stack.wait_streaming(("AAPL", "MSFT"))
    before = lines_in_use(stack)
    assert before == 2
    assert stack.metrics.value("ibpub_lines_used") == 2

    first = Child(procs, publisher, "first", NVDA)
    second = Child(procs, publisher, "second", NVDA)
    first.more_ticks(NVDA)
    second.more_ticks(NVDA)
    assert lines_in_use(stack) == before + 1, "two holders, one IB subscription"
    assert listing(stack)[NVDA]["holders"] == ["first", "second"]
    assert stack.metrics.value("ibpub_lines_used") == 3

    assert first.stop() == 0
    wait_for(lambda: listing(stack)[NVDA]["holders"] == ["second"], "first's release")
    second.more_ticks(NVDA)
    assert lines_in_use(stack) == before + 1

    assert second.stop() == 0
    wait_for(lambda: NVDA not in listing(stack), "NVDA cancelled after the grace period")
    wait_for(lambda: lines_in_use(stack) == before, "the simulator's line freed")
    assert stack.metrics.value("ibpub_lines_used") == 2
    assert NVDA not in stack.service.subscriptions


# -- the line budget -----------------------------------------------------------------------


def test_a_budget_of_three_refuses_the_fourth(stack: Stack) -> None:
    stack.start_gateway(rate=300.0)
    publisher = stack.start_publisher(instruments=(AAPL,), gateway={"max_lines": 3})
    stack.wait_streaming(("AAPL",))
    control = ("--control-endpoint", publisher.control_endpoint)
    for symbol in ("SPY", "QQQ"):
        granted = ibsub("request", symbol, *control)
        assert granted.returncode == 0, granted.stderr
        assert granted.stdout.startswith(f"{symbol}: conid "), granted.stdout

    refused = ibsub("request", NVDA, *control)
    assert refused.returncode == 1, (refused.stdout, refused.stderr)
    assert "ibsub request: refused: budget_exceeded:" in refused.stderr
    assert "3 of 3" in refused.stderr
    stack.wait_streaming(("AAPL", "SPY", "QQQ"))
    assert NVDA not in stack.service.subscriptions
    assert lines_in_use(stack) == 3, "the refused request never reached IB"
    assert (
        stack.metrics.count(
            "ibpub_control_requests_total", op="subscribe", outcome="budget_exceeded"
        )
        == 1
    )


# -- an ambiguous future, then a choice by con_id -------------------------------------------


def test_an_ambiguous_future_lists_candidates_and_a_con_id_streams(stack: Stack) -> None:
    stack.start_gateway(rate=300.0)
    publisher = stack.start_publisher(instruments=(AAPL,))
    stack.wait_streaming(("AAPL",))
    control = ("--control-endpoint", publisher.control_endpoint)
    future = ("--sec-type", "FUT", "--symbol", "ES", "--exchange", "CME")

    ambiguous = ibsub("request", *future, *control)
    assert ambiguous.returncode == 1, (ambiguous.stdout, ambiguous.stderr)
    assert "refused: ambiguous_contract" in ambiguous.stderr
    assert "ask again with --con-id CONID" in ambiguous.stderr
    header, *rows = ambiguous.stdout.splitlines()
    assert header.split() == [
        "CONID",
        "SEC_TYPE",
        "SYMBOL",
        "LOCAL_SYMBOL",
        "LAST_TRADE",
        "EXCHANGE",
        "CURRENCY",
    ]
    assert len(rows) >= 2, ambiguous.stdout
    assert all(re.match(r"\d+ +FUT +ES ", row) for row in rows), rows
    assert "ES" not in stack.service.subscriptions

    conid = rows[-1].split()[0]
    chosen = ibsub(
        "request",
        "--con-id",
        conid,
        "--sec-type",
        "FUT",
        "--exchange",
        "CME",
        "--key",
        "ESX",
        "--json",
        *control,
    )
    assert chosen.returncode == 0, chosen.stderr
    reply = json.loads(chosen.stdout)
    assert reply["ok"] and reply["key"] == "ESX" and reply["conid"] == int(conid), reply
    assert reply["topics"] == ["tick.ESX"]
    listener = stack.listen((b"tick.ESX", b"hb."))
    listener.until(lambda m: len(listener.ticks("ESX")) >= 3, "ticks on tick.ESX")


# -- a publisher restart --------------------------------------------------------------------


def test_the_library_requests_again_after_a_publisher_restart(
    stack: Stack, procs: Processes
) -> None:
    stack.start_gateway(rate=300.0)
    publisher = stack.start_publisher(instruments=(AAPL,))
    stack.wait_streaming(("AAPL",))
    child = Child(procs, publisher, "survivor", NVDA)
    child.more_ticks(NVDA)
    old_sid = publisher.sid
    assert {t["sid"] for t in child.ticks(NVDA)} == {old_sid}

    publisher.restart()
    new_sid = publisher.sid
    assert new_sid != old_sid
    child.until(lambda _: any(t["sid"] == new_sid for t in child.ticks(NVDA)))
    child.more_ticks(NVDA)
    assert {"event": "Requested", "again": True} in child.records()
    assert listing(stack)[NVDA]["holders"] == ["survivor"]
    wait_for(lambda: lines_in_use(stack) == 2, "AAPL and NVDA only: the old session's lines gone")
    assert child.stop() == 0


# -- a late joiner learns a failure ------------------------------------------------------------


def test_a_subscriber_started_after_a_failure_sees_it_in_states(stack: Stack) -> None:
    stack.start_gateway(rate=300.0)
    publisher = stack.start_publisher(instruments=(AAPL, BOGUS))
    stack.wait_streaming(("AAPL",))
    failed = {"state": "failed", "scope": "instrument", "key": "BOGUS"}
    wait_for(
        lambda: listing(stack).get("BOGUS", {}).get("state") == "failed",
        "BOGUS failed (no security definition)",
    )
    at_snapshot: list[Status | None] = []

    def on_event(event: Event) -> None:
        if isinstance(event, SnapshotApplied):  # live messages are still held back here
            at_snapshot.append(sub.states.get(("instrument", "BOGUS")))

    with Subscriber(
        publisher.endpoint,
        prefixes=("tick.AAPL",),
        snapshot=True,
        snapshot_endpoint=publisher.snapshot_endpoint,
        context=stack.context,
        on_event=on_event,
    ) as sub:
        wait_for(lambda: sub.recv(0.1) is not None and sub.synchronised, "a synchronised tick")
        assert len(at_snapshot) == 1 and at_snapshot[0] is not None, "from the snapshot's states"
        state = sub.states["instrument", "BOGUS"]
        assert state == at_snapshot[0]
        assert {"state": state.state, "scope": state.scope, "key": state.key} == failed
        assert state.code == 200
        assert sub.states["instrument", "AAPL"].state == "subscribed"
        assert sub.stats.snapshots == 1


# -- ibsub lines -----------------------------------------------------------------------------


def test_ibsub_lines_shows_what_is_held_and_by_whom(stack: Stack, procs: Processes) -> None:
    stack.start_gateway(rate=300.0)
    publisher = stack.start_publisher(instruments=(AAPL,), gateway={"max_lines": 10})
    stack.wait_streaming(("AAPL",))
    control = ("--control-endpoint", publisher.control_endpoint)
    assert ibsub("request", "SPY", "--client", "alice", *control).returncode == 0
    child = Child(procs, publisher, "bob", NVDA, "SPY")
    child.more_ticks(NVDA)

    shown = ibsub("lines", "--json", *control)
    assert shown.returncode == 0, shown.stderr
    reply = json.loads(shown.stdout)
    assert reply["ok"] and reply["lines_used"] == 3 and reply["lines_budget"] == 10, reply
    held = {i["key"]: i for i in reply["instruments"]}
    assert set(held) == {"AAPL", "SPY", NVDA}
    assert held["AAPL"]["pinned"] is True and held["AAPL"]["holders"] == []
    assert held["SPY"]["holders"] == ["alice", "bob"] and held["SPY"]["pinned"] is False
    assert held[NVDA]["holders"] == ["bob"] and held[NVDA]["state"] == "subscribed"
    assert all(held[k]["lease_expires"] > 0 for k in ("SPY", NVDA))

    table = ibsub("lines", *control)
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0] == "lines 3/10 in use"
    assert re.search(r"^SPY .* no .* alice, bob$", table.stdout, re.M), table.stdout


# -- Done means: ibpub demo, then ibsub quotes --request NVDA -------------------------------


def demo_config(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The shipped demo configuration on free ports (and a control socket on one); the
    endpoints ``ibsub`` needs."""
    ports = {name: free_port() for name in ("gateway", "pub", "snapshot", "control")}
    endpoints = {
        "--endpoint": f"tcp://127.0.0.1:{ports['pub']}",
        "--snapshot-endpoint": f"tcp://127.0.0.1:{ports['snapshot']}",
        "--control-endpoint": f"tcp://127.0.0.1:{ports['control']}",
    }
    text = DEMO.read_text()
    text = text.replace("port = 4010", f"port = {ports['gateway']}")
    text = text.replace('"tcp://127.0.0.1:7700"', json.dumps(endpoints["--endpoint"]))
    text = text.replace('"tcp://127.0.0.1:7701"', json.dumps(endpoints["--snapshot-endpoint"]))
    text = text.replace('"127.0.0.1:9700"', '"127.0.0.1:0"')
    assert "[control]" not in text, "the demo now sets its control socket: adapt this test"
    text += f"\n[control]\nlisten = {json.dumps(endpoints['--control-endpoint'])}\n"
    path = tmp_path / "demo.toml"
    path.write_text(text)
    return path, endpoints


def test_demo_then_quotes_request_streams_nvda(tmp_path: Path, procs: Processes) -> None:
    """The issue's "done means": no config touched for NVDA, nothing restarted."""
    config, endpoints = demo_config(tmp_path)
    demo = procs.start([str(BIN / "ibpub"), "demo", "--config", str(config)])
    demo_out = LineReader(demo.stdout)
    demo_out.until(lambda lines: any("AAPL" in line and "last" in line for line in lines))
    assert NVDA not in config.read_text()

    flags = [arg for pair in endpoints.items() for arg in pair]
    quotes = procs.start(
        [str(BIN / "ibsub"), "quotes", "--request", NVDA, "--interval", "0.2", *flags]
    )
    out = LineReader(quotes.stdout)
    quoted = re.compile(rf"\b{NVDA} [\d.]+/[\d.]+ last")
    out.until(lambda lines: any(quoted.search(line) for line in lines))
    control = ("--control-endpoint", endpoints["--control-endpoint"])
    held = json.loads(ibsub("lines", "--json", *control).stdout)["instruments"]
    (holders,) = [i["holders"] for i in held if i["key"] == NVDA]
    assert len(holders) == 1, f"ibsub quotes holds NVDA: {holders}"
    quotes.send_signal(signal.SIGINT)
    assert quotes.wait(timeout=DEADLINE) == 0
    released = json.loads(ibsub("lines", "--json", *control).stdout)["instruments"]
    assert all(i["holders"] == [] for i in released if i["key"] == NVDA), "released on exit"

    demo.send_signal(signal.SIGINT)
    assert demo.wait(timeout=DEADLINE) == 0
