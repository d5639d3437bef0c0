"""docs/subscribing.md: its examples run as written and match the shipped example files."""

import contextlib
import re
import subprocess
import sys
import time
from typing import Any

from tests.subscribers.control_server import SnapshotServer, servers
from tests.support.config import LIVE
from tests.support.paths import REPO
from tests.support.stack import Stack
from tests.support.waiting import DEADLINE

ROOT = REPO
DOC = ROOT / "docs" / "subscribing.md"


def block(name: str) -> str:
    """The fenced code block after ``<!-- test: name -->`` in the doc."""
    found = re.search(rf"<!-- test: {name} -->\s*```\w+\n(.*?)```", DOC.read_text(), re.S)
    assert found, f"block {name!r} is missing from {DOC.name}"
    return found.group(1)


def test_quickstart_runs_against_a_live_publisher(stack: Stack) -> None:
    """The five-minute example starts from a snapshot and prints 20 live AAPL ticks with quotes."""
    stack.start_gateway(rate=300)
    live = stack.start_publisher(**LIVE)
    args = [sys.executable, "-c", block("quickstart"), live.endpoint, live.snapshot_endpoint]
    done = subprocess.run(args, capture_output=True, text=True, timeout=DEADLINE, cwd=ROOT)
    live.stop()
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("! snapshot applied: ") for line in lines), lines[:3]
    quotes = [line for line in lines if "| bid " in line]
    assert len(quotes) >= 20
    assert not any(line.startswith("! gap") for line in lines)
    assert re.fullmatch(r"\d+ \w+ \S+ \| bid [\d.]+ ask [\d.]+", quotes[-1]), quotes[-1]


def test_node_example_in_the_doc_is_the_shipped_file() -> None:
    """The Node.js subscriber shown in the doc is exactly the tested example file."""
    shipped = (ROOT / "subscribers" / "examples" / "node" / "subscriber.mjs").read_text()
    assert block("node-subscriber") == shipped


def run_against_scripted_servers(name: str) -> tuple[subprocess.CompletedProcess[str], list[Any]]:
    """Run the doc block ``name`` with the bus and control endpoints of the scripted servers,
    publishing ticks of every held instrument until it exits; returns it and the requests."""
    with servers() as (_, control, bus):
        args = [sys.executable, "-c", block(name), bus.endpoint, control.endpoint]
        proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
        )
        try:
            deadline = time.monotonic() + DEADLINE
            while proc.poll() is None and time.monotonic() < deadline:
                for key in list(control.holds):
                    bus.tick(key)
                proc_wait(proc)
            out, err = proc.communicate(timeout=DEADLINE)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        done = subprocess.CompletedProcess(args, proc.returncode, out, err)
        return done, [r for _, r in control.requests]


def proc_wait(proc: subprocess.Popen[str]) -> None:
    """Give the child a moment (the publishing loop's pace), returning early if it exits."""
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(0.02)


def test_on_demand_example_requests_streams_and_releases() -> None:
    """The on-demand example asks for NVDA and an ES future, prints 10 ticks, and releases both."""
    done, requests = run_against_scripted_servers("on-demand")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "holding ['ES', 'NVDA'] ES streams on ['tick.ES']"
    assert len(lines) == 11 and all(line.startswith("tick.") for line in lines[1:])
    ops = [r["op"] for r in requests]
    assert ops[:2] == ["subscribe", "subscribe"] and ops[-1] == "unsubscribe"
    assert sorted(requests[-1]["keys"]) == ["ES", "NVDA"]


def test_async_on_demand_example_requests_streams_and_releases() -> None:
    """The asyncio example asks for NVDA and AMD, prints 10 ticks, and releases both on exit."""
    done, requests = run_against_scripted_servers("on-demand-async")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 10 and all(line.startswith("tick.") for line in lines)
    assert [r["instrument"]["symbol"] for r in requests if r["op"] == "subscribe"] == [
        "NVDA",
        "AMD",
    ]
    assert requests[-1]["op"] == "unsubscribe" and sorted(requests[-1]["keys"]) == ["AMD", "NVDA"]


def test_the_depth_example_prints_the_book_it_was_sent() -> None:
    """The depth example takes the book from the snapshot, applies ten changes and prints the
    top rows: the same book the (scripted) publisher holds."""
    with servers() as (context, _, bus):
        snap = SnapshotServer(context, bus.sid, [], bus)
        for at in range(5):
            bus.depth("ES", at, "insert", "bid", 100.0 - at, 1.0 + at)
            bus.depth("ES", at, "insert", "ask", 101.0 + at, 2.0 + at)
        args = [sys.executable, "-c", block("depth-book"), bus.endpoint, snap.endpoint]
        proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
        )
        try:
            deadline = time.monotonic() + DEADLINE
            size = 10.0
            while proc.poll() is None and time.monotonic() < deadline:
                bus.heartbeat()
                size += 1
                bus.depth("ES", 0, "update", "bid", 100.0, size)
                bus.depth("ESZ6", 0, "insert", "bid", 1.0, 1.0)
                time.sleep(0.02)
            out, err = proc.communicate(timeout=DEADLINE)
        finally:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            snap.close()
    assert proc.returncode == 0, err
    lines = out.splitlines()
    changes = [line for line in lines if line.startswith("update bid[0]")]
    assert len(changes) == 10 and changes[-1].endswith("spread 1.0"), lines
    ladder = [line.split() for line in lines if "|" in line]
    book = bus.books["ES"]
    assert ladder[1:] == [
        [f"{b[1]:g}", f"{b[0]:g}", "|", f"{a[0]:g}", f"{a[1]:g}"]
        for b, a in zip(book.bids[1:5], book.asks[1:5], strict=True)
    ]
