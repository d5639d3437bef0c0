"""Faults as an operator meets them, with every part a real process: ``ibpub sim`` killed and
restarted, ``ibpub run`` stopped by SIGTERM while it waits to reconnect, ``--scenario``."""

import json
import os
import signal
import subprocess
from collections import defaultdict
from typing import Any

from tests.support.config import AAPL, FAST_FAULTS, MSFT
from tests.support.processes import BIN, LineReader, Processes, free_port
from tests.support.stack import Publisher, Stack
from tests.support.waiting import DEADLINE


def start_publisher(
    stack: Stack, procs: Processes, **gateway: float
) -> tuple[Publisher, subprocess.Popen[bytes]]:
    """``ibpub run`` with two instruments and fast fault detection (``gateway``: overrides)."""
    config = stack.publisher_for(
        name="resproc",
        client_id=9,
        instruments=(AAPL, MSFT),
        gateway={**FAST_FAULTS, **gateway},
        metrics={"listen": f"127.0.0.1:{free_port()}"},
    )
    return config, procs.start([str(BIN / "ibpub"), "run", "--config", str(config.config_file())])


def tail(procs: Processes, publisher: Publisher) -> LineReader:
    """``ibsub tail --json`` on the publisher's bus, once it has printed a heartbeat."""
    proc = procs.start([str(BIN / "ibsub"), "tail", "--endpoint", publisher.endpoint, "--json"])
    out = LineReader(proc.stdout)
    out.until(lambda lines: any('"hb"' in line for line in lines))
    return out


def parsed(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines if line.strip()]


def test_simulator_killed_and_restarted_on_the_same_port(stack: Stack, procs: Processes) -> None:
    """After the gateway process dies and comes back, ticks resume: same sid, seq continues."""
    config, _ = start_publisher(stack, procs)
    out = tail(procs, config)
    sim = stack.start_gateway_process(procs, 200)
    out.until(lambda lines: sum('"tick"' in line for line in lines) > 50)
    os.killpg(sim.pid, signal.SIGKILL)
    sim.wait(timeout=DEADLINE)
    out.until(lambda lines: any('"disconnected"' in line for line in lines))
    mark = len(out.lines)
    stack.start_gateway_process(procs, 200)
    out.until(
        lambda lines: (
            {"AAPL", "MSFT"} <= {m["key"] for m in parsed(lines[mark:]) if m["type"] == "tick"}
        )
    )
    messages = parsed(out.lines)
    assert len({m["sid"] for m in messages}) == 1
    seqs: dict[str, list[int]] = defaultdict(list)
    for m in messages:
        if m["type"] == "tick":
            seqs[m["topic"]].append(m["seq"])
    for topic, got in seqs.items():
        assert got == list(range(got[0], got[0] + len(got))), topic
    gateway_states = [
        m["state"] for m in messages if m["type"] == "status" and m["scope"] == "gateway"
    ]
    assert gateway_states[-1] == "connected"
    assert "disconnected" in gateway_states


def test_sigterm_during_reconnect_backoff_exits_0(stack: Stack, procs: Processes) -> None:
    """With no gateway and a long backoff, SIGTERM still stops the publisher at once, exit 0
    (the backoff is ten times the deadline: waiting it out could not pass)."""
    backoff = 10 * DEADLINE
    config, publisher = start_publisher(
        stack, procs, reconnect_initial=backoff, reconnect_max=backoff
    )
    out = tail(procs, config)
    log = LineReader(publisher.stderr)
    log.until(lambda lines: any("retrying in" in line for line in lines))
    publisher.send_signal(signal.SIGTERM)
    assert publisher.wait(timeout=DEADLINE) == 0
    out.until(lambda lines: any('"stopping"' in line for line in lines))


def test_sim_scenario_reserves_a_client_id(stack: Stack, procs: Processes) -> None:
    """``--scenario 0:reserve-client-id=9`` makes the gateway refuse id 9 with 326."""
    config, _ = start_publisher(stack, procs)
    out = tail(procs, config)
    stack.start_gateway_process(procs, 200, "--scenario", "0:reserve-client-id=9")
    out.until(lambda lines: any('"code":326' in line for line in lines))


def test_sim_scenario_rejects_a_bad_step(procs: Processes) -> None:
    """An unknown fault in ``--scenario`` is a usage error (exit 2) naming the step."""
    proc = procs.start([str(BIN / "ibpub"), "sim", "--port", "0", "--scenario", "1:explode"])
    assert proc.wait(timeout=DEADLINE) == 2
    assert proc.stderr is not None
    assert b"1:explode" in proc.stderr.read()
