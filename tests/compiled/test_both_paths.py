"""The differential and byte-identity tests of the read path, run against the pure modules too.

The suite itself runs whichever path is in use (the compiled one after ``make setup`` with a C
compiler: tests/compiled/test_in_use.py proves it); here the same test files run once more in a
child pytest with ``IBPUB_PURE=1``, so both implementations meet the same Hypothesis
differentials (fast path vs ibapi) and the same byte-identity checks (tick path, bus). The
child also runs test_in_use.py, which fails unless the pure modules are what it ran.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from publisher import compiled

REPO = Path(__file__).resolve().parents[2]
SHARED = (
    "tests/gateway/test_fastpath.py",
    "tests/gateway/test_fastpath_kinds.py",
    "tests/gateway/test_fastpath_kinds_paths.py",
    "tests/gateway/test_framing.py",
    "tests/core/test_normalise.py",
    "tests/core/test_tickpath.py",
    "tests/core/test_kindpath.py",
    "tests/bus/test_publish.py",
    "tests/observability/test_histogram.py",
)
"""The tests of the compiled modules that compare them with a reference (ibapi, msgpack)."""


@pytest.mark.timeout(900)
def test_the_pure_modules_pass_the_same_differential_tests() -> None:
    env = dict(os.environ, **{compiled.PURE_ENV: "1"})
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/compiled/test_in_use.py",
        *SHARED,
    ]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=850)
    tail = done.stdout[-3000:] + done.stderr[-2000:]
    assert done.returncode == 0, tail
    summary = done.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "skipped" not in summary, tail


def test_every_compiled_module_has_differential_tests_here() -> None:
    """A module added to the build gets its tests added to SHARED (by the module's name)."""
    covered = {Path(path).stem.removeprefix("test_") for path in SHARED}
    names = {name.rsplit(".", 1)[1] for name in compiled.MODULES}
    # fastsize is exercised through the fast paths' differentials (sizes as published), the
    # instrument records through the tick path's and the kinds' byte-identity tests.
    assert names - covered == {"fastsize", "instruments"}
