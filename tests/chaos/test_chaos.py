"""Three seeds of the chaos run (``make chaos`` runs fifty): every invariant of
:mod:`tests.chaos.driver` holds against a real ``ibpub run`` process."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.chaos.driver import report, run_seed
from tests.chaos.schedule import KINDS, make_schedule

FAULTS = 4


def test_a_seed_gives_the_same_schedule_every_time() -> None:
    """The schedule is a function of the seed alone, so a failing seed replays exactly."""
    assert make_schedule(11, 20) == make_schedule(11, 20)
    assert make_schedule(11, 20) != make_schedule(12, 20)
    assert {f.kind for seed in range(40) for f in make_schedule(seed, 8)} == set(KINDS)


@pytest.mark.parametrize("seed", [3, 21, 24])
def test_seed_holds_every_invariant(seed: int, tmp_path: Path) -> None:
    """The publisher survives the seed's faults and recovers from each within the bound (the
    three seeds cover truncated, 326, oversized, silent, 1100/1101/1102, 10197, a flood and
    SIGTERM)."""
    problems, summary = run_seed(seed, tmp_path, FAULTS)
    assert not problems, report(seed, FAULTS, problems, summary)


def test_a_short_soak_stays_within_its_bounds() -> None:
    """Twenty seconds of the soak (5k ticks/s, a fault every 8 s): no invariant broken and no
    resource beyond its bound (``make soak`` runs thirty minutes)."""
    command = [sys.executable, "-m", "tests.chaos.soak", "--minutes", "0.34"]
    command += ["--fault-every", "8", "--report-every", "10"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "soak: 0.34 min at 5000 ticks/s, 2 faults" in done.stdout, done.stdout
