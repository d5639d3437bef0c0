"""bench/callgrind.py: the dump arithmetic, the workers (plain Python) and callgrind's dumps."""

import subprocess
import sys
from pathlib import Path

import pytest

from bench import callgrind
from bench.report import _instructions_verdict
from publisher.sim.burst import CLASSIC_VERSION, PROTOBUF_VERSION


def test_per_frame_is_the_difference_of_the_two_segments() -> None:
    """Start-up (dump 0) is ignored; a fixed per-segment cost cancels in B (2N) - A (N)."""
    fixed, per = 5_000, 40
    dumps = [10**9, fixed + per * 100, fixed + per * 200, 77]
    assert callgrind.per_frame(dumps, 100) == per
    with pytest.raises(ValueError, match="at least 3"):
        callgrind.per_frame([1, 2], 100)


def test_totals_reads_each_numbered_dump_in_order(tmp_path: Path) -> None:
    for n, total in ((2, 300), (1, 200), (10, 900)):
        (tmp_path / f"cg.out.{n}").write_bytes(b"events: Ir\nsummary: %d\n" % total)
    (tmp_path / "cg.out").write_bytes(b"events: Ir\ntotals: 5\n")  # the final dump: not numbered
    assert callgrind.totals(tmp_path, "cg.out") == [200, 300, 900]
    (tmp_path / "cg.out.11").write_bytes(b"events: Ir\n")
    with pytest.raises(ValueError, match="no summary"):
        callgrind.totals(tmp_path, "cg.out")


def test_a_count_is_repeatable_only_when_its_runs_agree() -> None:
    same = callgrind.Count("ibpub", 10, (1000.0, 1004.0))
    apart = callgrind.Count("stock", 10, (1000.0, 1100.0))
    assert same.repeatable and same.per_frame == 1000.0
    assert not apart.repeatable
    result = callgrind.Instructions(PROTOBUF_VERSION, same, apart)
    assert result.ratio == 1.0
    assert "MISS" in _instructions_verdict(result)
    assert "PASS" in _instructions_verdict(callgrind.Instructions(PROTOBUF_VERSION, same, same))
    assert "not run" in _instructions_verdict(None)


@pytest.mark.parametrize("version", [CLASSIC_VERSION, PROTOBUF_VERSION])
@pytest.mark.parametrize("implementation", callgrind.IMPLEMENTATIONS)
def test_the_worker_runs_every_frame_through_each_implementation(
    tmp_path: Path, implementation: str, version: int
) -> None:
    """Without valgrind: the worker reads the frame file and runs its three parts."""
    frames = tmp_path / "frames.bin"
    callgrind.write_frames(version, 20, frames)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.callgrind",
            "worker",
            implementation,
            str(version),
            str(frames),
            "20",
        ],
        cwd=callgrind.REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    too_many = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.callgrind",
            "worker",
            implementation,
            str(version),
            str(frames),
            "2000",
        ],
        cwd=callgrind.REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert too_many.returncode != 0 and "too few frames" in too_many.stderr


def test_callgrind_dumps_at_each_getppid_call(tmp_path: Path) -> None:
    """The mechanism the counts rest on: one dump per os.getppid(), each holding the
    instructions since the last, so a segment doing 100x the work counts far more."""
    script = "import os\nos.getppid()\nsum(range(1000))\nos.getppid()\nsum(range(100000))\n"
    script += "os.getppid()\n"
    out = tmp_path / "cg.out"
    subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            f"--dump-before={callgrind.DUMP_SYMBOL}",
            sys.executable,
            "-c",
            script,
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    dumps = callgrind.totals(tmp_path, "cg.out")
    assert len(dumps) == 3
    assert dumps[2] > 20 * dumps[1]
