"""Each fuzz target under atheris itself for a second (``make fuzz`` runs minutes): the
fuzzing harness works and finds nothing in that time."""

import subprocess
import sys
from pathlib import Path


def test_every_target_fuzzes_for_a_second_without_a_finding(tmp_path: Path) -> None:
    """``python -m tests.fuzz.run --seconds 1`` runs every target and exits 0."""
    command = [sys.executable, "-m", "tests.fuzz.run", "--seconds", "1", "--work", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "over 7 targets" in done.stdout, done.stdout
