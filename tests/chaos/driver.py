"""Seeded chaos against real processes: one seed's faults, one by one, with invariants checked.

A run starts the simulated gateway (in this process, so its faults can be called directly),
the publisher as ``ibpub run --config FILE`` (a real process), a checker subscriber (a SUB
socket reading everything) and a subscriber that never reads. For each fault of the seed's
schedule (:mod:`tests.chaos.schedule`) it carries the fault out and waits, reading the bus and
polling ``/readyz`` all along, until the publisher has recovered. The invariants
(:data:`RECOVERY` is the stated bound):

1. the publisher process never exits unless the schedule stopped it (SIGTERM: exit 0);
2. within :data:`RECOVERY` seconds of each fault, the gateway is ``connected`` again and every
   instrument has ticked again;
3. within one ``sid``, a topic's ``seq`` never repeats nor goes backwards; a jump is a loss the
   subscriber sees (declared by the gap itself; counted), and a heartbeat's ``seqs`` never
   claims less than what was received; every fault that loses data upstream is declared by a
   status (:data:`DECLARED`);
4. ``/readyz`` answers whenever polled while the publisher runs, and tells the truth: 200 only
   while the gateway is connected, 503 only while it is not or an instrument is not yet
   subscribed, judged against the states on the bus from :data:`READY_SLACK` seconds before
   the request to as long after its answer (the bus and HTTP are read at slightly different
   moments).
"""

import contextlib
import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import msgpack
import zmq

from publisher.sim import SimulatedGateway
from tests.chaos.schedule import Fault, make_schedule
from tests.support.config import FAST_FAULTS, THREE_KEYS
from tests.support.processes import BIN, free_port
from tests.support.stack import Publisher

RECOVERY: Final = 20.0
"""Seconds within which the gateway state and every instrument must recover after a fault
(reconnect backoff at most 1 s, probes every 0.3 s, refusals and stalls of at most 2 s)."""
READY_SLACK: Final = 2.0
DOWN: Final = frozenset({"disconnected", "connecting"})
DECLARED: Final[dict[str, tuple[str, frozenset[str]]]] = {
    "drop": ("gateway", DOWN),
    "refuse": ("gateway", DOWN),
    "truncated": ("gateway", DOWN),
    "oversized": ("gateway", DOWN),
    "326": ("gateway", DOWN),
    "1100-1101": ("gateway", frozenset({"degraded"})),
    "1100-1102": ("gateway", frozenset({"degraded"})),
    "10197": ("instrument", frozenset({"stale"})),
}
"""The status that declares each fault that loses data: the scope, and the states of which one
must be published after the fault (for ``10197`` on the instrument it names). A stall shorter
than the probe timeout (``silent``) loses no frame the publisher could know of; garbage is
counted in ``ibpub_decode_errors_total``; a flood and slow readers lose nothing upstream."""
EXIT_WAIT: Final = 20.0
KEYS: Final = THREE_KEYS
RATE: Final = 300.0


@dataclass
class Checker:
    """Reads the bus and /readyz and records every invariant broken."""

    socket: zmq.Socket[Any]
    url: str
    problems: list[str] = field(default_factory=list)
    seqs: dict[tuple[int, str], int] = field(default_factory=dict)
    gaps: int = 0
    received: int = 0
    sid: int | None = None
    gateway: list[tuple[float, str]] = field(default_factory=list)
    instruments: dict[str, str] = field(default_factory=dict)
    subscribed_dips: list[float] = field(default_factory=list)
    last_tick: dict[str, float] = field(default_factory=dict)
    polls: list[tuple[float, float, int, str]] = field(default_factory=list)
    statuses: list[tuple[float, str, str | None, str]] = field(default_factory=list)
    sid_changes: list[float] = field(default_factory=list)
    subscribed_at: list[float] = field(default_factory=list)
    expect_http: bool = True
    _next_poll: float = 0.0

    def pump(self, seconds: float) -> None:
        """Read the bus (and poll /readyz every 0.25 s) for ``seconds``."""
        end = time.monotonic() + seconds
        while True:
            now = time.monotonic()
            if now >= end:
                return
            if now >= self._next_poll:
                self._poll_ready(now)
                self._next_poll = now + 0.25
            if self.socket.poll(50):
                self._drain()

    def _drain(self) -> None:
        for _ in range(10_000):
            try:
                topic, payload = self.socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            self._check(topic.decode(), msgpack.unpackb(payload), time.monotonic())

    def _check(self, topic: str, msg: dict[str, Any], now: float) -> None:
        self.received += 1
        sid, seq = msg["sid"], msg["seq"]
        if sid != self.sid:
            self.sid = sid
            self.instruments.clear()
            self.sid_changes.append(now)
        last = self.seqs.get((sid, topic), 0)
        if seq <= last:
            self.problems.append(f"{topic}: seq {seq} after {last} in sid {sid}")
        elif seq > last + 1 and last:
            self.gaps += 1
        self.seqs[(sid, topic)] = max(seq, last)
        kind = msg["type"]
        if kind == "tick":
            self.last_tick[msg["key"]] = now
        if kind == "status":
            self.statuses.append((now, msg["scope"], msg["key"], msg["state"]))
        if kind == "status" and msg["scope"] == "gateway":
            self.gateway.append((now, msg["state"]))
        elif kind == "status" and msg["scope"] == "instrument":
            self.instruments[msg["key"]] = msg["state"]
            if msg["state"] != "subscribed":
                self.subscribed_dips.append(now)
            else:
                self.subscribed_at.append(now)
        elif kind == "hb":
            self.gateway.append((now, msg["gateway"]))
            for tick_topic, sent in msg["seqs"].items():
                seen = self.seqs.get((sid, tick_topic), 0)
                if sent < seen:
                    self.problems.append(f"hb seqs {tick_topic}={sent} below received {seen}")

    def _poll_ready(self, now: float) -> None:
        try:
            with urllib.request.urlopen(self.url + "/readyz", timeout=5) as answer:
                code, body = int(answer.status), answer.read().decode()
        except urllib.error.HTTPError as exc:
            code, body = int(exc.code), exc.read().decode()
            exc.close()
        except OSError as exc:
            if self.expect_http:
                self.problems.append(f"/readyz did not answer: {exc}")
            return
        self.polls.append((now, time.monotonic(), code, body))

    def recovered(self, since: float) -> bool:
        """The gateway connected (last state seen) and every instrument ticked after ``since``."""
        if not self.gateway or self.gateway[-1][1] != "connected":
            return False
        return all(self.last_tick.get(key, 0.0) > since for key in KEYS)

    def judge_readiness(self) -> None:
        """Each /readyz answer agrees with a state seen on the bus near its moment."""
        for at, done, code, body in self.polls:
            near = [s for t, s in self.gateway if at - READY_SLACK <= t <= done + READY_SLACK]
            before = [state for t, state in self.gateway if t <= at]
            if before:
                near.append(before[-1])
            if code == 200 and "connected" not in near:
                self.problems.append(f"/readyz 200 at {at:.2f} ({body}) while gateway {near}")
            dip = any(at - READY_SLACK <= t <= done + READY_SLACK for t in self.subscribed_dips)
            # The first statuses of a session can precede this subscriber's connection: until
            # an instrument is seen subscribed in the session, "none subscribed" may be true.
            session = max((t for t in self.sid_changes if t <= at), default=0.0)
            dip = dip or not any(session <= t <= done + READY_SLACK for t in self.subscribed_at)
            if code == 503 and all(s == "connected" for s in near) and not dip and near:
                self.problems.append(f"/readyz 503 at {at:.2f} ({body}) while all was well")


class ChaosRun:
    """One seed: the gateway, the publisher process, the checker; :meth:`close` ends them."""

    def __init__(self, seed: int, directory: Path, faults: int = 4, rate: float = RATE) -> None:
        self.seed = seed
        self.schedule = make_schedule(seed, faults)
        self.directory = directory
        self.gateway_port = free_port()
        self.http_port = free_port()
        self.gateway = SimulatedGateway(port=self.gateway_port, rate=rate, seed=seed).start()
        self.config = Publisher(
            directory,
            self.gateway_port,
            name="chaos",
            client_id=40,
            gateway={**FAST_FAULTS, "fallback_client_ids": [41, 42]},
            metrics={"listen": f"127.0.0.1:{self.http_port}"},
        )
        self.config_path = self.config.config_file()
        self.context: zmq.Context[Any] = zmq.Context()
        sub = self.context.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.RCVHWM, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(self.config.endpoint)
        self.stuck = self.context.socket(zmq.SUB)  # a subscriber that never reads
        self.stuck.setsockopt(zmq.LINGER, 0)
        self.stuck.setsockopt(zmq.RCVHWM, 10)
        self.stuck.setsockopt(zmq.SUBSCRIBE, b"")
        self.stuck.connect(self.config.endpoint)
        self.slow: list[zmq.Socket[Any]] = []
        self.checker = Checker(sub, f"http://127.0.0.1:{self.http_port}")
        self.checker.expect_http = False
        self.log = (directory / "publisher.log").open("ab")
        self.proc = self._start_publisher()

    def _start_publisher(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [str(BIN / "ibpub"), "run", "--config", str(self.config_path)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def alive(self) -> None:
        code = self.proc.poll()
        if code is not None:
            raise AssertionError(f"the publisher exited on its own (exit {code})")

    def wait_recovered(self, since: float, what: str) -> None:
        deadline = time.monotonic() + RECOVERY
        while not self.checker.recovered(since):
            self.alive()
            if time.monotonic() > deadline:
                raise AssertionError(f"no recovery within {RECOVERY:g} s after {what}")
            self.checker.pump(0.1)
        self.checker.expect_http = True

    def run(self) -> list[str]:
        """Carry out the schedule; the invariants broken (empty: the seed passed)."""
        try:
            self.wait_recovered(0.0, "the start")
            for fault in self.schedule:
                started = time.monotonic()
                since = self.apply(fault) or started
                since = max(since, self.wait_declared(fault, started))
                self.wait_recovered(since, str(fault))
            self.checker.pump(0.5)
            self.alive()
        except AssertionError as exc:
            self.checker.problems.append(str(exc))
        self.checker.judge_readiness()
        return self.checker.problems

    def wait_declared(self, fault: Fault, since: float) -> float:
        """Wait for the status that declares a loss-making fault (:data:`DECLARED`); returns
        when it was read (``since`` for a fault that declares nothing)."""
        wanted = DECLARED.get(fault.kind)
        if wanted is None:
            return since
        scope, states = wanted
        key = fault.arg if scope == "instrument" else None
        deadline = time.monotonic() + RECOVERY
        while True:
            for t, s, k, state in self.checker.statuses:
                if t >= since and s == scope and k == key and state in states:
                    return t
            self.alive()
            if time.monotonic() > deadline:
                raise AssertionError(f"{fault}: no {scope} status {sorted(states)} declared it")
            self.checker.pump(0.1)

    def _faults(self, fn: Any) -> Any:
        return self.gateway.call(lambda core: fn(core.faults))

    def apply(self, fault: Fault) -> float | None:
        """Carry out one fault (through the simulator's Faults, or on the process); returns
        the moment recovery is measured from when it is not the fault's start (a restart:
        the first message of the new sid, since the old process's last messages may still be
        read after its exit)."""
        arg = fault.arg
        match fault.kind:
            case "drop":
                self._faults(lambda f: f.drop_all())
            case "refuse":
                self._faults(lambda f: f.refuse_for(float(arg)))
            case "silent":
                self._faults(lambda f: f.go_silent(float(arg)))
            case "truncated":
                self._faults(lambda f: f.send_truncated())
            case "garbage":
                self._faults(lambda f: f.send_garbage())
            case "oversized":
                self._faults(lambda f: f.send_oversized())
            case "1100-1101" | "1100-1102":
                self._faults(lambda f: f.send_error(1100))
                self.checker.pump(0.3)
                self._faults(lambda f: f.send_error(int(fault.kind[-4:])))
            case "farm":
                self._faults(lambda f: f.send_error(int(arg)))
            case "326":
                client_id = 40
                self._faults(lambda f: f.reserve_client_id(client_id))
                self._faults(lambda f: f.drop_all())
                self.checker.pump(float(arg))  # the id stays taken this long
                self._faults(lambda f: f.release_client_id(client_id))
            case "10197":
                self._faults(lambda f: f.send_error(10197, symbol=arg))
            case "flood":
                self._faults(lambda f: f.flood(int(arg)))
            case "slow_reader":
                slow = self.context.socket(zmq.SUB)
                slow.setsockopt(zmq.LINGER, 0)
                slow.setsockopt(zmq.RCVHWM, 1)
                slow.setsockopt(zmq.SUBSCRIBE, b"tick.")
                slow.connect(self.config.endpoint)
                self.slow.append(slow)
            case "sigterm":
                self.checker.expect_http = False
                self.proc.send_signal(signal.SIGTERM)
                try:
                    code = self.proc.wait(EXIT_WAIT)
                except subprocess.TimeoutExpired:
                    raise AssertionError("the publisher did not stop on SIGTERM") from None
                if code != 0:
                    raise AssertionError(f"SIGTERM ended the publisher with exit {code}")
                old_sid = self.checker.sid
                self.proc = self._start_publisher()
                deadline = time.monotonic() + RECOVERY
                while self.checker.sid == old_sid:
                    self.alive()
                    if time.monotonic() > deadline:
                        raise AssertionError(f"no message of a new sid within {RECOVERY:g} s")
                    self.checker.pump(0.1)
                return time.monotonic()
            case other:
                raise ValueError(f"unknown fault {other}")
        return None

    def summary(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "faults": [str(f) for f in self.schedule],
            "received": self.checker.received,
            "gaps": self.checker.gaps,
            "readyz_polls": len(self.checker.polls),
        }

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(EXIT_WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.gateway.stop()
        for sock in self.slow:
            sock.close()
        self.context.destroy(linger=0)
        self.log.close()


def run_seed(seed: int, directory: Path, faults: int = 4) -> tuple[list[str], dict[str, Any]]:
    """Run one seed; (problems, summary)."""
    directory.mkdir(parents=True, exist_ok=True)
    chaos = ChaosRun(seed, directory, faults)
    try:
        problems = chaos.run()
        return problems, chaos.summary()
    finally:
        with contextlib.suppress(Exception):
            chaos.close()


def replay_command(seed: int, faults: int) -> str:
    return f".venv/bin/python -m tests.chaos.run --seed {seed} --faults {faults}"


def report(seed: int, faults: int, problems: list[str], summary: dict[str, Any]) -> str:
    head = "ok" if not problems else "FAILED"
    line = f"chaos seed {seed}: {head} {json.dumps(summary)}"
    if problems:
        line += "\n  " + "\n  ".join(problems[:10])
        line += f"\n  replay: {replay_command(seed, faults)}"
    return line
