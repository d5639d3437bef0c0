"""docs/subscribing.md: its examples run as written and match the shipped example files."""

import re
import subprocess
import sys

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
