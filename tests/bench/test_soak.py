"""bench/soak.py: the flatness arithmetic, and a seconds-long soak through the real pipeline."""

import math
import subprocess
import sys

from bench import soak
from tests.support.paths import REPO


def test_growth_compares_the_halves_after_the_warm_up() -> None:
    # 10 samples: the first (10 % warm-up) is left out; halves of 4 and 5.
    samples = [1000, 100, 100, 100, 100, 110, 110, 110, 110, 110]
    assert math.isclose(soak.growth(samples), 0.10)
    assert math.isnan(soak.growth([5]))
    flat = soak.Soak((100, 100, 104, 104), 200, 9, 1000, 0)
    assert flat.flat
    assert not soak.Soak((100, 100, 100, 120), 200, 9, 1000, 0).flat
    assert not soak.Soak((100, 100, 100, 100), 200, 9, 1000, 1).flat  # a lost tick


def test_a_short_soak_samples_the_publisher_and_loses_nothing() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--soak", "--minutes", "0.05"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "soak, 0.05 min at 20k ticks/s: RSS first" in run.stdout
    assert "lost 0\n" in run.stdout
    assert "6 memory: RSS flat within 10%: " in run.stdout
    assert run.stderr.count("  soak: ") >= 2  # sampled after every step


def test_minutes_must_be_positive() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--soak", "--minutes", "0"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2 and "--minutes" in run.stderr
