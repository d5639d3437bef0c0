"""``ibpub sim``'s data-kind flags as a process: --max-depth, --max-tick-by-tick, --bar-seconds
reach the gateway; bad values are usage errors; --help documents them."""

import re
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
from ibapi.client import EClient

from publisher.sim.protocol import frame
from tests.sim.support import (
    RawClient,
    RecordingWrapper,
    decode_frames,
    ibapi_contract,
    ibapi_request,
)
from tests.sim.test_cli import RUNNER, _first_line
from tests.support.waiting import DEADLINE


@pytest.fixture
def spawn() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=DEADLINE)


def _start(procs: list[subprocess.Popen[str]], *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", RUNNER, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    procs.append(proc)
    return proc


def test_limits_and_bar_period_reach_the_gateway(spawn: list[subprocess.Popen[str]]) -> None:
    """With --max-depth 1 --max-tick-by-tick 1 the second of each is refused (309 naming the
    limit, 10190), and --bar-seconds 0.2 brings bars at once, labelled 5 s apart."""
    proc = _start(
        spawn, "--port", "0", "--max-depth", "1", "--max-tick-by-tick", "1", "--bar-seconds", "0.2"
    )
    match = re.search(r"listening on 127\.0\.0\.1:(\d+)", _first_line(proc))
    assert match
    client = RawClient(int(match.group(1)))
    wrapper = RecordingWrapper()
    aapl = ibapi_contract("AAPL", "STK", "SMART")
    calls: list[Callable[[EClient], None]] = [
        lambda c: c.reqMktDepth(1, aapl, 3, False, []),
        lambda c: c.reqMktDepth(2, aapl, 3, False, []),
        lambda c: c.reqTickByTickData(3, aapl, "BidAsk", 0, False),
        lambda c: c.reqTickByTickData(4, aapl, "MidPoint", 0, False),
        lambda c: c.reqRealTimeBars(5, aapl, 5, "MIDPOINT", False, []),
    ]
    try:
        version, _ = client.handshake()
        client.start_api(7)
        for call in calls:
            client.send_payload(ibapi_request(version, call))
        while len(wrapper.named("realtimeBar")) < 3:
            decode_frames(frame(client.next_frame()), version, wrapper)
    finally:
        client.close()
    refused = [e for e in wrapper.errors() if e[0] > 0]
    assert refused == [
        (2, 309, "Max number (1) of market depth requests has been reached"),
        (4, 10190, "Max number of tick-by-tick requests has been reached."),
    ]
    times = [bar[1] for bar in wrapper.named("realtimeBar")]
    assert times[1] - times[0] == 5 and times[2] - times[1] == 5
    proc.terminate()
    assert proc.wait(timeout=DEADLINE) == 0


@pytest.mark.parametrize(
    "args", [["--max-depth", "-1"], ["--max-tick-by-tick", "x"], ["--bar-seconds", "0"]]
)
def test_bad_values_are_usage_errors(spawn: list[subprocess.Popen[str]], args: list[str]) -> None:
    """A negative count, a non-number or a period <= 0 is refused by argument parsing (exit 2)."""
    proc = _start(spawn, *args)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and args[0] in err


def test_help_documents_the_data_kind_flags(spawn: list[subprocess.Popen[str]]) -> None:
    """--help names each flag, its IB error and its default."""
    proc = _start(spawn, "--help")
    out, _err = proc.communicate(timeout=30)
    text = " ".join(out.split())
    assert "--max-tick-by-tick N" in text and "error 10190 (5)" in text
    assert "--max-depth N" in text and "error 309 (3" in text
    assert "--bar-seconds S" in text and "5-second bar" in text
