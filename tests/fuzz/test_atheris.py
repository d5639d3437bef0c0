"""The fuzzing harness itself under atheris, briefly (``make fuzz`` runs every target for
minutes): one target, the framing one, which also drives the fast path against ibapi. Every
target's corpus is replayed in ``tests/fuzz/test_corpus.py``; running each under atheris here
too would cost a minute of start-ups for a second of fuzzing each."""

import subprocess
import sys
from pathlib import Path


def test_the_framing_target_fuzzes_for_two_seconds_without_a_finding(tmp_path: Path) -> None:
    """``python -m tests.fuzz.run --seconds 2 framing`` runs and exits 0."""
    command = [sys.executable, "-m", "tests.fuzz.run", "--seconds", "2", "--work", str(tmp_path)]
    done = subprocess.run([*command, "framing"], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "fuzz framing: " in done.stdout and "over 1 targets" in done.stdout, done.stdout
