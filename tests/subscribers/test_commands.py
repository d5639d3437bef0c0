"""``ibsub snapshot``, ``quotes``, ``record`` and ``tail --snapshot`` as a user runs them:
subprocesses against a real publisher (in-process, on real sockets)."""

import csv
import json
import os
import pty
import select
import signal
import subprocess
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pyarrow.parquet as pq  # type: ignore[import-untyped,unused-ignore]  # no type information
import pytest
import zmq

from tests.support.config import FOUR_KEYS, LIVE
from tests.support.processes import BIN, LineReader, Processes, free_port
from tests.support.stack import Publisher, Stack
from tests.support.waiting import DEADLINE, wait_for

IBSUB = str(BIN / "ibsub")
KEYS = FOUR_KEYS


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Publisher]:
    """One publisher streaming every test instrument, shared by this module's tests."""
    stack = Stack(tmp_path_factory.mktemp("commands"))
    try:
        stack.start_gateway(rate=300)
        publisher = stack.start_publisher(**LIVE)
        stack.wait_streaming(KEYS)
        snapshot = publisher.service.snapshot
        assert snapshot is not None
        wait_for(
            lambda: {t.removeprefix("tick.") for t, _ in snapshot.cache.topics()} >= set(KEYS),
            "every instrument in the snapshot cache",
        )
        yield publisher
    finally:
        stack.close()


def endpoints(live: Publisher) -> list[str]:
    return ["--endpoint", live.endpoint, "--snapshot-endpoint", live.snapshot_endpoint]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([IBSUB, *args], capture_output=True, text=True, timeout=DEADLINE)


# -- ibsub snapshot ------------------------------------------------------------------------------


def test_snapshot_json_holds_every_instrument(live: Publisher) -> None:
    """``ibsub snapshot --json`` prints one object with the session and every instrument's ticks."""
    done = run("snapshot", "--json", *endpoints(live))
    assert done.returncode == 0, done.stderr
    snapshot = json.loads(done.stdout)
    assert snapshot["sid"] == live.sid
    topics = {t["topic"]: t for t in snapshot["topics"]}
    assert set(topics) == {f"tick.{key}" for key in KEYS}
    for entry in topics.values():
        fields = [tick["field"] for tick in entry["ticks"]]
        assert len(fields) == len(set(fields))  # one latest tick per field
        assert max(tick["seq"] for tick in entry["ticks"]) <= entry["seq"]


def test_snapshot_prefix_and_line_output(live: Publisher) -> None:
    """A prefix limits the topics; line mode prints a header, the topic and tail-style lines."""
    done = run("snapshot", "tick.AAPL", "--utc", *endpoints(live))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"snapshot of sid {live.sid} at ")
    assert lines[1].startswith("tick.AAPL  last seq ")
    assert all(" tick.AAPL " in line for line in lines[2:])
    assert any(" bid " in line for line in lines[2:])


def test_snapshot_without_a_publisher_exits_1() -> None:
    """No reply within --timeout: status 1 and a message naming the endpoint."""
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    done = run("snapshot", "--snapshot-endpoint", endpoint, "--timeout", "0.3")
    assert done.returncode == 1
    assert f"no snapshot reply from {endpoint}" in done.stderr


# -- ibsub tail --snapshot -----------------------------------------------------------------------


def test_tail_snapshot_prints_current_values_first(live: Publisher) -> None:
    """``tail --snapshot`` first prints the latest value of every field, then live ticks."""
    done = run("tail", "--snapshot", "--json", "--count", "40", *endpoints(live), "tick.AAPL")
    assert done.returncode == 0, done.stderr
    assert "snapshot applied" in done.stderr
    ticks = [json.loads(line) for line in done.stdout.splitlines()]
    assert {"high", "low", "open", "close"} <= {t["field"] for t in ticks}  # sent once, at start
    by_topic: dict[str, list[int]] = defaultdict(list)
    for tick in ticks:
        by_topic[tick["topic"]].append(tick["seq"])
    assert all(seqs == sorted(set(seqs)) for seqs in by_topic.values())  # no repeats


# -- ibsub quotes --------------------------------------------------------------------------------


def test_quotes_prints_plain_lines_when_not_a_terminal(live: Publisher, procs: Processes) -> None:
    """Piped, ``ibsub quotes`` prints periodic lines with every instrument and the gateway."""
    proc = procs.start([IBSUB, "quotes", "--interval", "0.2", *endpoints(live)])
    out = LineReader(proc.stdout)
    lines = out.until(lambda got: any(all(k in line for k in KEYS) for line in got))
    line = next(line for line in lines if all(k in line for k in KEYS))
    assert f"gateway {live.name}: connected" in line
    assert "gaps 0 (0 lost)" in line
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=DEADLINE) == 0


def test_quotes_draws_a_table_on_a_terminal(live: Publisher, procs: Processes) -> None:
    """On a terminal it switches to the alternate screen, draws the table, and on SIGTERM
    restores the screen and exits 0."""
    leader, follower = pty.openpty()
    try:
        proc = procs.start(
            [IBSUB, "quotes", "AAPL", "MSFT", *endpoints(live)], stdout=follower, stdin=follower
        )
        os.close(follower)
        follower = -1
        screen = b""

        def shows(text: bytes) -> bool:
            nonlocal screen
            while select.select([leader], [], [], 0.05)[0]:
                try:
                    screen += os.read(leader, 65536)
                except OSError:
                    break
            return text in screen

        wait_for(lambda: shows(b"MSFT") and shows(b"LOST"), "the table with both keys")
        assert screen.startswith(b"\x1b[?1049h")
        assert b"EUR.USD" not in screen  # only the keys asked for
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=DEADLINE) == 0
        shows(b"")
        assert screen.endswith(b"\x1b[?25h\x1b[?1049l")
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)


# -- ibsub record --------------------------------------------------------------------------------


def read_rows(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".csv":
        with path.open(newline="") as f:
            return list(csv.DictReader(f))
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text().splitlines()]
    rows: list[dict[str, Any]] = pq.read_table(path).to_pylist()  # a standard reader
    return rows


def recorded_count(stderr: str) -> int:
    (line,) = [line for line in stderr.splitlines() if "ibsub: recorded " in line]
    return int(line.split()[2])


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_record_keeps_every_received_tick_after_sigterm(
    live: Publisher, procs: Processes, tmp_path: Path, fmt: str
) -> None:
    """After SIGTERM the files hold exactly the ticks the recorder reports receiving, in seq
    order per topic, and they open with a standard reader."""
    out = tmp_path / "rec"
    proc = procs.start([IBSUB, "record", "--out", str(out), "--format", fmt, *endpoints(live)])
    wait_for(lambda: out.is_dir() and any(out.iterdir()), "the first file")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=DEADLINE) == 0
    assert proc.stderr is not None
    stderr = proc.stderr.read().decode()
    files = sorted(out.glob(f"ibsub-*.{fmt}"))
    assert files and not list(out.glob(".*.part")), stderr
    rows = [row for path in files for row in read_rows(path)]
    ticks = [row for row in rows if row["row"] == "tick"]
    assert len(ticks) == recorded_count(stderr) > 0
    seqs: dict[str, list[int]] = defaultdict(list)
    for row in ticks:
        seqs[row["topic"]].append(int(row["seq"]))
    for topic, got in seqs.items():
        assert got == list(range(got[0], got[0] + len(got))), topic  # no loss on this bus


def test_record_writes_gap_rows_where_seqs_are_missing(procs: Processes, tmp_path: Path) -> None:
    """Seqs that never arrive leave one gap row, between the ticks around them."""
    context: zmq.Context[Any] = zmq.Context()
    pub = context.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    endpoint = f"tcp://127.0.0.1:{pub.bind_to_random_port('tcp://127.0.0.1')}"
    out = tmp_path / "rec"
    try:
        proc = procs.start([IBSUB, "record", "--out", str(out), "--endpoint", endpoint])
        seq = 0

        def send(step: int = 1) -> None:
            nonlocal seq
            seq += step
            body = {"v": 1, "type": "tick", "pub": "p", "sid": 3, "seq": seq, "ts": time.time_ns()}
            body.update(key="A", conid=1, field="bid", tick_type=1, price=1.0, attrib=0, mdt=1)
            pub.send_multipart([b"tick.A", msgpack.packb({**body, "ts_recv": 1})])

        def first_tick_recorded() -> bool:  # PUB/SUB joins asynchronously: send until it does
            send()
            return "\ntick," in "".join(p.read_text() for p in out.glob("ibsub-*"))

        wait_for(first_tick_recorded, "the recorder to write a tick", every=0.2)
        send(4)  # seqs seq+1 .. seq+3 never sent
        send()
        wait_for(lambda: "\ngap," in "".join(p.read_text() for p in out.glob("ibsub-*")), "a gap")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=DEADLINE) == 0
    finally:
        pub.close()
        context.term()
    rows = [row for path in sorted(out.glob("ibsub-*.csv")) for row in read_rows(path)]
    (gap,) = [row for row in rows if row["row"] == "gap"]
    at = rows.index(gap)
    assert int(gap["seq"]) == int(rows[at - 1]["seq"]) + 1
    assert int(gap["missing"]) == 3
    assert int(rows[at + 1]["seq"]) == int(gap["seq"]) + 3


def test_record_without_out_is_a_usage_error() -> None:
    """--out is required: status 2 and a usage line."""
    done = run("record")
    assert done.returncode == 2
    assert "--out" in done.stderr


def test_help_lists_every_command() -> None:
    """``ibsub --help`` names all five commands and exits 0."""
    done = run("--help")
    assert done.returncode == 0
    for command in ("tail", "quotes", "record", "latency", "snapshot"):
        assert command in done.stdout
