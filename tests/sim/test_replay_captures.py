"""The two real gateway recordings replayed into ``ibpub run``, as processes on real sockets.

``ibpub sim --replay <capture>`` serves the recording, ``ibpub run`` (the unmodified ibapi client
inside) connects to it, and a raw ZeroMQ SUB reads the bus. For the 225 session the expected
ticks come from ibapi's own Decoder run over ``server_frames.bin`` with a recording wrapper:
every one must be published, field by field, in order per instrument.
"""

import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.sim.support import RecordingWrapper, decode_frames
from tests.support.config import AAPL, EURUSD
from tests.support.listener import Message, status_seen
from tests.support.paths import CAPTURE_176, CAPTURE_225, CAPTURES
from tests.support.processes import BIN, LineReader, Processes, port_open
from tests.support.stack import Stack
from tests.support.waiting import wait_for

pytestmark = pytest.mark.skipif(
    not CAPTURES.is_dir(), reason=f"{CAPTURES} (the real gateway recordings) is absent"
)

KEYS = {1: "AAPL", 2: "EUR.USD"}
"""The recorded request ids of the 225 session and the instruments they asked for."""


def start_replay(
    stack: Stack, procs: Processes, source: Path, *args: str
) -> subprocess.Popen[bytes]:
    """``ibpub sim --replay`` on the stack's gateway port; returns once it listens."""
    proc = procs.start(
        [
            str(BIN / "ibpub"),
            "sim",
            "--port",
            str(stack.gateway_port),
            "--replay",
            str(source),
            *args,
        ]
    )
    wait_for(lambda: port_open(stack.gateway_port), "the replaying simulator to listen")
    return proc


def start_run(stack: Stack, procs: Processes) -> subprocess.Popen[bytes]:
    publisher = stack.publisher_for(name="replay", client_id=5, instruments=(AAPL, EURUSD))
    return procs.start([str(BIN / "ibpub"), "run", "--config", str(publisher.config_file())])


def expected_ticks() -> list[tuple[Any, ...]]:
    """(key, tick_type, value) for every tick callback ibapi makes from the recording."""
    wrapper = RecordingWrapper()
    decode_frames((CAPTURE_225 / "server_frames.bin").read_bytes(), 225, wrapper)
    ticks: list[tuple[Any, ...]] = []
    for name, args in wrapper.calls:
        if name == "tickPrice":
            req_id, tick_type, price, attrib = args
            mask = int(attrib.canAutoExecute) | int(attrib.pastLimit) << 1
            ticks.append((KEYS[req_id], tick_type, "price", price, mask | attrib.preOpen << 2))
        elif name == "tickSize":
            req_id, tick_type, size = args
            assert isinstance(size, Decimal)
            ticks.append((KEYS[req_id], tick_type, "size", float(size)))
        elif name in ("tickString", "tickGeneric"):
            req_id, tick_type, value = args
            ticks.append((KEYS[req_id], tick_type, "value", str(value)))
    return ticks


def published(tick: Message) -> tuple[Any, ...]:
    if "price" in tick:
        return (tick["key"], tick["tick_type"], "price", tick["price"], tick["attrib"])
    if "size" in tick:
        return (tick["key"], tick["tick_type"], "size", tick["size"])
    return (tick["key"], tick["tick_type"], "value", str(tick["value"]))


def test_every_tick_of_the_225_session_is_published_as_ibapi_decodes_it(
    stack: Stack, procs: Processes
) -> None:
    expected = expected_ticks()
    assert len(expected) == 27  # 21 tick frames, and the 6 sizes ibapi raises after prices
    start_run(stack, procs)
    listener = stack.listen()
    start_replay(stack, procs, CAPTURE_225, "--speed", "0")
    count = len(expected)
    listener.until(lambda m: len([t for t in m if t["type"] == "tick"]) >= count, "every tick")
    ticks = listener.ticks()
    for key in KEYS.values():
        want = [t for t in expected if t[0] == key]
        got = [published(t) for t in ticks if t["key"] == key]
        assert got == want, key
    # the market data type the gateway announced for each: delayed AAPL, live EUR.USD
    assert {t["mdt"] for t in listener.ticks("AAPL")} == {3}
    assert {t["mdt"] for t in listener.ticks("EUR.USD")} == {1}
    assert {t["conid"] for t in listener.ticks("AAPL")} == {265598}
    # the recorded advisory 10167 reached the publisher under its own request id
    listener.until(status_seen("instrument", "delayed", key="AAPL", code=10167), "10167")


def test_the_176_session_replays_and_the_publisher_stays_up(stack: Stack, procs: Processes) -> None:
    """No market data in it: the startup burst and the account, position and order traffic
    reach the publisher, which skips it; contract details and market data come from the
    simulator's catalogue; the publisher keeps running and heartbeating."""
    run = start_run(stack, procs)
    listener = stack.listen()
    sim = start_replay(stack, procs, CAPTURE_176, "--speed", "0")
    log = LineReader(sim.stderr)
    log.until(lambda lines: any("replay started" in line for line in lines))
    listener.until(status_seen("gateway", "connected"), "the publisher to connect")
    for key in ("AAPL", "EUR.USD"):
        listener.until(status_seen("instrument", "subscribed", key=key), f"{key} subscribed")
    mark = len(listener.messages)
    listener.until(
        lambda m: [x for x in m[mark:] if x["type"] == "hb"][2:], "three more heartbeats"
    )
    assert run.poll() is None
    assert listener.statuses("gateway")[-1]["state"] == "connected"
