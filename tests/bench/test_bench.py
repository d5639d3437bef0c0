"""The benchmark's code, run on tiny inputs so it cannot rot (no timing is asserted here)."""

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

from ibapi.decoder import Decoder
from ibapi.wrapper import EWrapper

from bench.scenarios import Plan, Run, Step
from bench.stats import bucket_delta, histogram_quantile, quantile
from publisher.gateway.framing import FrameBuffer, split_message
from publisher.sim import Catalogue
from publisher.sim.burst import (
    CHUNK_BYTES,
    CLASSIC_VERSION,
    PROTOBUF_VERSION,
    callbacks_in,
    chunks,
    generate,
)
from tests.support.paths import REPO

ROOT = REPO


class CountingWrapper(EWrapper):  # type: ignore[misc]  # ibapi is untyped
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def tickPrice(self, *args: object) -> None:
        self.calls += 1

    def tickSize(self, *args: object) -> None:
        self.calls += 1

    def tickString(self, *args: object) -> None:
        self.calls += 1

    def tickGeneric(self, *args: object) -> None:
        self.calls += 1

    def tickPriceProtoBuf(self, *args: object) -> None: ...
    def tickSizeProtoBuf(self, *args: object) -> None: ...
    def tickStringProtoBuf(self, *args: object) -> None: ...
    def tickGenericProtoBuf(self, *args: object) -> None: ...


def test_callback_counts_match_ibapi() -> None:
    """The expected tick count of each frame set is what ibapi's decoder really raises."""
    instruments = list(Catalogue.builtin())
    req_ids = list(range(1000, 1000 + len(instruments)))
    for version in (CLASSIC_VERSION, PROTOBUF_VERSION):
        frames = generate(version, req_ids, instruments, 300, seed=3)
        wrapper = CountingWrapper()
        decoder = Decoder(wrapper, version)
        buffer = FrameBuffer()
        buffer.feed(frames.blob)
        for payload in buffer.take():
            msg_id, body = split_message(payload, version)
            if msg_id > 200:
                decoder.processProtoBuf(body, msg_id - 200)
            else:
                decoder.interpret(tuple(body.split(b"\0")[:-1]), msg_id)
        assert wrapper.calls == frames.callbacks[-1]
        assert frames.count == 300


def test_paced_runs_cycle_through_the_frame_set() -> None:
    """Callbacks of a run that wraps around are counted lap by lap."""
    prefix = (0, 2, 3, 5, 6)  # four frames raising 2, 1, 2, 1
    assert callbacks_in(prefix, 0, 4) == 6
    assert callbacks_in(prefix, 3, 2) == 3  # frame 3, then frame 0
    assert callbacks_in(prefix, 1, 9) == 2 * 6 + 1


def test_chunks_hold_whole_frames_only() -> None:
    """A queued span is cut at frame boundaries, so replies can be slipped in between."""
    instruments = list(Catalogue.builtin())
    frames = generate(CLASSIC_VERSION, list(range(len(instruments))), instruments, 9000, 1)
    views = chunks(frames, 17, 9000)
    assert b"".join(bytes(v) for v in views) == bytes(frames.span(17, 9000))
    boundaries = set(frames.offsets)
    position = frames.offsets[17]
    for view in views:
        position += len(view)
        assert position in boundaries
        assert len(view) <= CHUNK_BYTES + 64


def test_quantiles() -> None:
    """Nearest-rank quantiles of samples, and Prometheus-style ones of bucket counts."""
    assert quantile([5.0, 1.0, 3.0, 2.0, 4.0], 0.5) == 3.0
    assert math.isnan(quantile([], 0.5))
    before = [(1.0, 0.0), (2.0, 0.0), (math.inf, 0.0)]
    after = [(1.0, 50.0), (2.0, 100.0), (math.inf, 100.0)]
    buckets = bucket_delta(before, after)
    assert histogram_quantile(buckets, 0.5) == 1.0
    assert histogram_quantile(buckets, 0.75) == 1.5
    assert math.isnan(histogram_quantile([(math.inf, 0.0)], 0.5))


def test_a_tiny_run_prints_the_table_and_writes_results(tmp_path: Path) -> None:
    """`python -m bench --tiny` measures both clients on both encodings and writes JSON."""
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--tiny", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    assert "machine: cpus" in out and "method:" in out
    assert "read path: compiled (mypyc)" in out or "read path: pure Python: " in out
    assert out.count("compiled vs pure (us of CPU per frame)") == 2  # once per encoding
    for title in ("classic (server version 200)", "protobuf (server version"):
        assert title in out
    assert "issue 15 targets" in out
    for n in ("1 burst", "2 sustained", "3 tick-to-publish", "7 instructions"):
        assert out.count(n) == 2, n  # once per encoding
    assert "fan-out at 10k ticks/s, publisher CPU per tick (idle " in out
    for entry in json.loads(next(tmp_path.glob("bench-*.json")).read_text())["results"]:
        assert [f["subscribers"] for f in entry["fanout"]] == [1, 2]
        assert all(min(f["received"]) == f["ticks"] for f in entry["fanout"])  # none lost
    assert "4 subscriber library" in out and "subscriber library, " in out
    assert "4b ibsub record (parquet)" in out and "ibsub record --format parquet, " in out
    assert "burst of 1,000 frames" in out  # the smaller burst, before the 2,000-frame one
    [result] = tmp_path.glob("bench-*.json")
    document = json.loads(result.read_text())
    assert [r["encoding"] for r in document["results"]] == ["classic", "protobuf"]
    for entry in document["results"]:
        assert entry["ibpub_lost_ticks"] == 0
        assert entry["ibpub_burst"]["received"] == entry["ibpub_burst"]["ticks"]
        assert entry["stock_burst"]["received"] == entry["stock_burst"]["ticks"]
        assert entry["ibpub_small_burst"]["received"] == entry["ibpub_small_burst"]["ticks"]
        assert entry["ibpub_sustained"]["steps"] and entry["stock_sustained"]["steps"]
    assert document["subscriber"]["gaps"] == 0 and document["subscriber"]["messages"] > 0
    assert document["subscriber"]["record_lost"] == 0 and document["subscriber"]["record"] > 0
    assert len(list(tmp_path.glob("bench-*.txt"))) == 1
    # The depth row: decode costs always; the rest once the publisher publishes depth.
    assert "depth: 10 books x 10 rows a side" in out
    assert [r["encoding"] for r in document["depth"]] == ["classic", "protobuf"]
    for row in document["depth"]:
        assert row["fast_decode_us"] > 0 and row["ibapi_decode_us"] > 0
        assert row["error"] or (row["lost"] == 0 and row["kept_up"]), row


def test_usage_errors_exit_2() -> None:
    """A bad flag is a usage error."""
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--burst", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2
    assert "--burst" in run.stderr


def test_the_sustained_search_refines_between_the_last_kept_and_first_failed_rate() -> None:
    """Ladder 10k, 20k, 40k; 40k fails (twice); then geometric midpoints 28.3k, then 33.6k."""
    limit = 30_000.0
    tried: list[float] = []

    class Ladder(Run):
        def step(self, target: Any, rate: float, seconds: float) -> Step:
            tried.append(rate)
            kept = rate <= limit
            return Step(rate, int(rate), int(rate), int(rate), 0.0 if kept else math.inf, kept, 1.0)

    class Target:
        name = "fake"

    plan = Plan(first_rate=10_000, rate_factor=2.0, max_rate=80_000, refine_steps=2)
    ladder = Ladder(None, (0, 1), plan)  # type: ignore[arg-type]  # no feeder: step is faked
    found = ladder.sustained(Target(), lambda message: None)  # type: ignore[arg-type]
    assert tried == [10_000, 20_000, 40_000, 40_000, 28_300, 33_600, 33_600]
    assert found.rate == 28_300
