"""``ibsub tail`` and the documented example subscriber, run as subprocesses on a real bus."""

import contextlib
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq

from tests.support.paths import REPO
from tests.support.waiting import DEADLINE, wait_for

ROOT = REPO
DOC = ROOT / "docs" / "wire-protocol.md"
IBSUB = [sys.executable, "-m", "subscribers.cli"]
LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{6} tick\.AAPL +#\d+ bid 189\.52 \(mdt 1\)$")


class Bus:
    """A test-side PUB socket sending contract v1 messages with per-topic seqs."""

    def __init__(self, context: zmq.Context[Any]) -> None:
        self.socket = context.socket(zmq.PUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        port = self.socket.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{port}"
        self.seqs: dict[str, int] = {}

    def send(self, topic: str, kind: str, body: dict[str, Any]) -> None:
        seq = self.seqs[topic] = self.seqs.get(topic, 0) + 1
        payload = {"v": 1, "type": kind, "pub": "ibpub", "sid": 99, "seq": seq}
        payload.update(ts=time.time_ns(), **body)
        self.socket.send_multipart([topic.encode(), msgpack.packb(payload)])

    def tick(self, key: str = "AAPL") -> None:
        body = {"key": key, "conid": 265598, "field": "bid", "tick_type": 1, "price": 189.52}
        self.send(f"tick.{key}", "tick", {**body, "attrib": 0, "mdt": 1, "ts_recv": time.time_ns()})

    def status(self) -> None:
        body = {"scope": "gateway", "state": "connected", "key": None, "code": None}
        self.send("status.ibpub", "status", {**body, "message": "connected"})


@pytest.fixture
def bus() -> Iterator[Bus]:
    context: zmq.Context[Any] = zmq.Context()
    bus = Bus(context)
    yield bus
    bus.socket.close(linger=0)
    context.term()


class Proc:
    """A subprocess with binary pipes that is always killed at teardown."""

    def __init__(self, args: list[str]) -> None:
        self.popen = subprocess.Popen(
            args,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.buffer = b""

    def read_available(self, wait: float) -> None:
        """Add whatever stdout has within ``wait`` seconds to the buffer."""
        assert self.popen.stdout is not None
        if select.select([self.popen.stdout], [], [], wait)[0]:
            self.buffer += os.read(self.popen.stdout.fileno(), 65536)

    def lines(self) -> list[str]:
        return self.buffer.decode().splitlines()

    def finish(self, timeout: float = DEADLINE) -> tuple[int, str, str]:
        """Wait for exit; returns (status, all of stdout, stderr)."""
        out, err = self.popen.communicate(timeout=timeout)
        return self.popen.returncode, (self.buffer + out).decode(), err.decode()

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.communicate()


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    yield started
    for proc in started:
        proc.kill()


def start(procs: list[Proc], *args: str, command: list[str] = IBSUB) -> Proc:
    proc = Proc([*command, *args])
    procs.append(proc)
    return proc


def publish_until_exit(bus: Bus, proc: Proc, *kinds: str) -> tuple[int, str, str]:
    """Publish a round of each kind (tick, ESZ6, ES, status, garbage) until the process exits."""

    def exited() -> bool:
        if proc.popen.poll() is not None:
            return True
        for kind in kinds or ("tick",):
            if kind == "status":
                bus.status()
            elif kind == "garbage":
                bus.socket.send_multipart([b"tick.AAPL", b"\xc1"])
            else:
                bus.tick("AAPL" if kind == "tick" else kind)
        proc.read_available(0.02)
        return False

    wait_for(exited, "the process to exit", every=0)
    return proc.finish()


def publish_until_lines(bus: Bus, proc: Proc, count: int) -> None:
    """Publish ticks until the process has printed ``count`` lines."""

    def printed() -> bool:
        if len(proc.lines()) >= count:
            return True
        assert proc.popen.poll() is None, proc.finish()
        bus.tick()
        proc.read_available(0.02)
        return False

    wait_for(printed, f"{count} lines", every=0)


def test_json_count_prints_n_json_objects_and_exits_0(bus: Bus, procs: list[Proc]) -> None:
    """--json --count 3 prints three JSON lines carrying the payload keys and the topic."""
    proc = start(procs, "tail", "--json", "--count", "3", "--endpoint", bus.endpoint)
    status, out, err = publish_until_exit(bus, proc)
    assert (status, err) == (0, "")
    objects = [json.loads(line) for line in out.splitlines()]
    assert len(objects) == 3
    for obj in objects:
        assert obj["topic"] == "tick.AAPL"
        assert (obj["type"], obj["key"], obj["price"], obj["sid"]) == ("tick", "AAPL", 189.52, 99)
        common = {"v", "pub", "seq", "ts"}
        assert common | {"conid", "field", "tick_type", "attrib", "mdt", "ts_recv"} <= set(obj)


def test_line_mode_prints_human_lines(bus: Bus, procs: list[Proc]) -> None:
    """Without --json each message is one readable line: time, topic, #seq, field, value, mdt."""
    proc = start(procs, "tail", "tick.AAPL", "--count", "2", "--utc", "--endpoint", bus.endpoint)
    status, out, _ = publish_until_exit(bus, proc, "status", "tick")
    assert status == 0
    lines = out.splitlines()
    assert len(lines) == 2
    assert all(LINE.match(line) for line in lines), lines


def test_exact_prints_only_that_key(bus: Bus, procs: list[Proc]) -> None:
    """--exact ES prints tick.ES and never tick.ESZ6."""
    args = ("tail", "--exact", "ES", "--json", "--count", "3", "--endpoint", bus.endpoint)
    proc = start(procs, *args)
    status, out, _ = publish_until_exit(bus, proc, "ESZ6", "ES")
    assert status == 0
    assert [json.loads(line)["topic"] for line in out.splitlines()] == ["tick.ES"] * 3


def test_type_filter_prints_only_that_type(bus: Bus, procs: list[Proc]) -> None:
    """--type status prints status messages only."""
    args = ("tail", "--type", "status", "--json", "--count", "2", "--endpoint", bus.endpoint)
    proc = start(procs, *args)
    status, out, _ = publish_until_exit(bus, proc, "tick", "status")
    assert status == 0
    assert [json.loads(line)["type"] for line in out.splitlines()] == ["status"] * 2


def test_malformed_message_is_reported_and_skipped(bus: Bus, procs: list[Proc]) -> None:
    """A malformed message is reported on stderr and tail goes on printing valid ones."""
    proc = start(procs, "tail", "--json", "--count", "3", "--endpoint", bus.endpoint)
    status, out, err = publish_until_exit(bus, proc, "garbage", "tick")
    assert status == 0
    assert len(out.splitlines()) == 3
    assert "malformed" in err
    assert "Traceback" not in err


def test_timeout_exits_1_with_a_message(bus: Bus, procs: list[Proc]) -> None:
    """--timeout exits with status 1 and says why when nothing arrives in time."""
    proc = start(procs, "tail", "--timeout", "0.5", "--endpoint", bus.endpoint)
    status, out, err = proc.finish()
    assert (status, out) == (1, "")
    assert "no message within 0.5 s" in err


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_exits_0_without_traceback(
    bus: Bus, procs: list[Proc], signum: signal.Signals
) -> None:
    """Ctrl-C or SIGTERM while tailing exits with status 0 and prints no traceback."""
    proc = start(procs, "tail", "--endpoint", bus.endpoint)
    publish_until_lines(bus, proc, 1)
    proc.popen.send_signal(signum)
    status, _, err = proc.finish()
    assert (status, err) == (0, "")


def test_closed_stdout_exits_quietly(bus: Bus, procs: list[Proc]) -> None:
    """When the reader of stdout goes away (``| head``) tail exits 0 without a traceback."""
    proc = start(procs, "tail", "--endpoint", bus.endpoint)
    publish_until_lines(bus, proc, 1)
    assert proc.popen.stdout is not None
    proc.popen.stdout.close()

    def exited() -> bool:
        if proc.popen.poll() is not None:
            return True
        bus.tick()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.popen.wait(timeout=0.01)
        return False

    wait_for(exited, "tail to exit with its stdout closed", every=0)
    assert proc.popen.stderr is not None
    assert (proc.popen.returncode, proc.popen.stderr.read()) == (0, b"")


def test_help_exits_0_with_examples(procs: list[Proc]) -> None:
    """The installed ibsub script's ``tail --help`` exits 0 and shows examples and exit codes."""
    proc = start(procs, "tail", "--help", command=[str(Path(sys.executable).with_name("ibsub"))])
    status, out, _ = proc.finish()
    assert status == 0
    assert "examples:" in out
    assert "exit status:" in out


def test_usage_error_exits_2(procs: list[Proc]) -> None:
    """--exact without a key is a usage error: status 2 and a usage line on stderr."""
    status, _, err = start(procs, "tail", "--exact").finish()
    assert status == 2
    assert "usage:" in err


def test_bad_endpoint_exits_1(procs: list[Proc]) -> None:
    """An endpoint ZeroMQ cannot use exits with status 1 and names it."""
    status, _, err = start(procs, "tail", "--endpoint", "nonsense://x").finish()
    assert status == 1
    assert "nonsense://x" in err
    assert "Traceback" not in err


def test_documented_python_subscriber_works(bus: Bus, procs: list[Proc]) -> None:
    """The Python subscriber in docs/wire-protocol.md receives ticks from a real bus."""
    pattern = r"<!-- test: example-subscriber -->\s*```python\n(.*?)```"
    found = re.search(pattern, DOC.read_text(), re.S)
    assert found, "the example subscriber is missing from the docs"
    proc = start(procs, "3", command=[sys.executable, "-c", found.group(1), bus.endpoint])
    status, out, err = publish_until_exit(bus, proc)
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert len(lines) == 3
    assert all(re.fullmatch(r"tick\.AAPL \d+ bid 189\.52", line) for line in lines), lines


def test_subscribers_never_import_publisher_or_ibapi() -> None:
    """Importing the subscribers package and its CLI loads neither publisher nor ibapi."""
    code = (
        "import sys, subscribers, subscribers.cli\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('publisher', 'ibapi'))\n"
        "print(bad)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
