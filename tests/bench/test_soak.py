"""bench/soak.py: the flatness arithmetic, the per-instrument figure, the results file the
target table quotes, and a seconds-long soak (both runs) through the real pipeline."""

import json
import math
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench import soak, universe
from bench.report import target_table
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


def test_the_per_instrument_cost_is_the_peak_difference_over_the_extra_instruments() -> None:
    main = soak.Soak((100, 100), 144_000, 144, 1000, 0, 10.0)
    wide = soak.Soak((100, 100), 144_000 + 856 * 5000, 1000, 1000, 0, 3.0)
    assert soak.Soaks(main, wide).per_instrument_bytes == 5000
    assert math.isnan(soak.Soaks(main).per_instrument_bytes)
    lines = soak.verdicts(soak.Soaks(main, wide))
    assert lines[0].startswith("6 memory: RSS flat within 10% over 10 min")
    assert lines[1].startswith("6b memory: peak for 1,000 instruments: ")
    assert "4.9 KiB per instrument" in lines[1]
    assert soak.verdicts(soak.Soaks(main))[1].endswith("not run (--instruments 0)")


def test_the_target_table_quotes_the_newest_soak(tmp_path: Path) -> None:
    assert soak.latest_lines(tmp_path) is None
    table = target_table([], None, None)
    assert "6b memory: peak for 1,000 instruments: see python -m bench --soak" in table
    main = soak.Soak((100, 100), 1, 144, 1, 0, 10.0)
    for day, growth_top in ((1, 200), (2, 100)):
        soaks = soak.Soaks(soak.Soak((100, growth_top), 1, 144, 1, 0, 10.0), main)
        when = datetime(2026, 12, day, tzinfo=UTC)
        document = soak.to_json(soaks, when)
        (tmp_path / f"soak-{when:%Y%m%dT%H%M%SZ}.json").write_text(json.dumps(document))
    lines = soak.latest_lines(tmp_path)
    assert lines is not None and len(lines) == 2
    assert lines[0].startswith("6 memory: ") and "PASS" in lines[0]  # the newest: flat
    assert lines[0].endswith("[python -m bench --soak, 2026-12-02 00:00 UTC]")
    table = target_table([], None, lines)
    assert "see python -m bench --soak" not in table
    assert all(line in table for line in lines)


def test_the_wide_universe_is_the_catalogue_plus_distinct_synthetic_stocks() -> None:
    wide = universe.widened(universe.WIDE)
    assert len(wide) == universe.WIDE
    assert len({i.con_id for i in wide}) == universe.WIDE
    assert len({i.spec.local_symbol for i in wide}) == universe.WIDE
    assert wide[: len(universe.served())] == universe.served()


def test_a_short_soak_samples_both_runs_and_loses_nothing(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--soak", "--minutes", "0.05", "--out", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    assert "soak, 0.05 min at 20k ticks/s, 144 instruments: RSS subscribed" in out
    assert "soak, 0.05 min at 20k ticks/s, 1,000 instruments: RSS subscribed" in out
    assert out.count(", lost 0\n") == 2
    assert "6 memory: RSS flat within 10% over 0.05 min at 20k ticks/s (144 instruments): " in out
    assert "6b memory: peak for 1,000 instruments: " in out and "KiB per instrument" in out
    assert run.stderr.count("  soak: 1000 instruments subscribed") == 1
    assert run.stderr.count(" steps, RSS ") >= 4  # sampled after every step of both runs
    document = json.loads(next(tmp_path.glob("soak-*.json")).read_text())
    assert document["wide"]["instruments"] == 1000 and document["wide"]["lost"] == 0
    assert soak.latest_lines(tmp_path) is not None


def test_minutes_must_be_positive() -> None:
    for flag in ("--minutes", "--wide-minutes"):
        run = subprocess.run(
            [sys.executable, "-m", "bench", "--soak", flag, "0"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert run.returncode == 2 and flag in run.stderr
