"""Faults as an operator meets them, with every part a real process: ``ibpub sim`` killed and
restarted, ``ibpub run`` stopped by SIGTERM while it waits to reconnect, ``--scenario``."""

import json
import os
import signal
from collections import defaultdict
from pathlib import Path
from typing import Any

from tests.support.processes import BIN, LineReader, Processes, free_port, port_open
from tests.support.waiting import DEADLINE, wait_for

CONFIG = """\
[publisher]
name = "resproc"

[gateway]
port = {gw_port}
client_id = 9
connect_timeout = 2.0
reconnect_initial = {reconnect_initial}
reconnect_max = {reconnect_max}
probe_interval = 0.5
probe_timeout = 3.0

[bus]
pub = ["tcp://127.0.0.1:{bus_port}"]
snapshot = "tcp://127.0.0.1:{snap_port}"
heartbeat_interval = 0.2

[metrics]
listen = "127.0.0.1:{metrics_port}"

[[instruments]]
symbol = "AAPL"
sec_type = "STK"

[[instruments]]
symbol = "MSFT"
sec_type = "STK"
"""


class Run:
    """Ports, config file and the processes of one run."""

    def __init__(self, procs: Processes, tmp_path: Path, **config: float) -> None:
        self.procs = procs
        self.gw_port = free_port()
        self.endpoint = f"tcp://127.0.0.1:{free_port()}"
        self.config = tmp_path / "ibpub.toml"
        values = {"reconnect_initial": 0.2, "reconnect_max": 1.0, **config}
        self.config.write_text(
            CONFIG.format(
                gw_port=self.gw_port,
                bus_port=self.endpoint.rsplit(":", 1)[1],
                snap_port=free_port(),
                metrics_port=free_port(),
                **values,
            )
        )

    def sim(self, *args: str) -> Any:
        proc = self.procs.start(
            [str(BIN / "ibpub"), "sim", "--port", str(self.gw_port), "--rate", "200", *args]
        )
        wait_for(lambda: port_open(self.gw_port), "the simulator to listen")
        return proc

    def publisher(self) -> Any:
        return self.procs.start([str(BIN / "ibpub"), "run", "--config", str(self.config)])

    def tail(self) -> LineReader:
        proc = self.procs.start([str(BIN / "ibsub"), "tail", "--endpoint", self.endpoint, "--json"])
        out = LineReader(proc.stdout)
        out.until(lambda lines: any('"hb"' in line for line in lines))
        return out


def parsed(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines if line.strip()]


def test_simulator_killed_and_restarted_on_the_same_port(procs: Processes, tmp_path: Path) -> None:
    """After the gateway process dies and comes back, ticks resume: same sid, seq continues."""
    run = Run(procs, tmp_path)
    run.publisher()
    out = run.tail()
    sim = run.sim()
    out.until(lambda lines: sum('"tick"' in line for line in lines) > 50)
    os.killpg(sim.pid, signal.SIGKILL)
    sim.wait(timeout=DEADLINE)
    out.until(lambda lines: any('"disconnected"' in line for line in lines))
    mark = len(out.lines)
    run.sim()
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


def test_sigterm_during_reconnect_backoff_exits_0(procs: Processes, tmp_path: Path) -> None:
    """With no gateway and a long backoff, SIGTERM still stops the publisher at once, exit 0
    (the backoff is ten times the deadline: waiting it out could not pass)."""
    run = Run(procs, tmp_path, reconnect_initial=10 * DEADLINE, reconnect_max=10 * DEADLINE)
    publisher = run.publisher()
    out = run.tail()
    log = LineReader(publisher.stderr)
    log.until(lambda lines: any("retrying in" in line for line in lines))
    publisher.send_signal(signal.SIGTERM)
    assert publisher.wait(timeout=DEADLINE) == 0
    out.until(lambda lines: any('"stopping"' in line for line in lines))


def test_sim_scenario_reserves_a_client_id(procs: Processes, tmp_path: Path) -> None:
    """``--scenario 0:reserve-client-id=9`` makes the gateway refuse id 9 with 326."""
    run = Run(procs, tmp_path)
    run.publisher()
    out = run.tail()
    run.sim("--scenario", "0:reserve-client-id=9")
    out.until(lambda lines: any('"code":326' in line for line in lines))


def test_sim_scenario_rejects_a_bad_step(procs: Processes, tmp_path: Path) -> None:
    """An unknown fault in ``--scenario`` is a usage error (exit 2) naming the step."""
    proc = procs.start([str(BIN / "ibpub"), "sim", "--port", "0", "--scenario", "1:explode"])
    assert proc.wait(timeout=DEADLINE) == 2
    assert proc.stderr is not None
    assert b"1:explode" in proc.stderr.read()
