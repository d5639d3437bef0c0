"""publisher/_build.py (``make setup``'s build) never fails the setup, and leaves no extension
behind when it cannot build: on a copy of the package, so this checkout's build stays."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from publisher import compiled

REPO = Path(__file__).resolve().parents[2]


def _copy(tmp_path: Path) -> Path:
    """publisher/ and subscribers/ (the build type-checks against both) without extensions."""
    ignore = shutil.ignore_patterns("*.so", "__pycache__")
    for package in ("publisher", "subscribers"):
        shutil.copytree(REPO / package, tmp_path / package, ignore=ignore)
    shutil.copy2(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    stale = (
        tmp_path / "publisher" / "gateway" / Path(compiled.extension_path(compiled.MODULES[0]).name)
    )
    stale.write_bytes(b"an extension from an earlier build")
    return tmp_path


def _run(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != compiled.PURE_ENV}
    environ.update(env)
    return subprocess.run(
        [sys.executable, *args],
        cwd=root,  # the copy comes first on sys.path
        env=environ,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _extensions(root: Path) -> list[Path]:
    return sorted((root / "publisher").rglob("*.so"))


def _status(root: Path) -> str:
    done = _run(root, "-c", "from publisher import compiled; print(compiled.status())")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_without_a_compiler_the_setup_goes_on_with_the_pure_modules(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    done = _run(root, "-m", "publisher._build", CC="/nonexistent/cc")
    assert done.returncode == 0
    assert done.stdout.splitlines() == [
        "compiled hot path: skipped, no C compiler found: the pure-Python modules run"
    ]
    assert _extensions(root) == []
    assert _status(root) == (
        "pure Python: not built (make setup builds them when a C compiler is present)"
    )


@pytest.mark.timeout(600)
def test_a_failed_build_is_one_line_and_leaves_the_pure_modules(tmp_path: Path) -> None:
    if shutil.which("false") is None:
        pytest.fail("needs the false command (coreutils) as a compiler that always fails")
    root = _copy(tmp_path)
    done = _run(root, "-m", "publisher._build", CC="false")
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("compiled hot path: build failed ("), lines
    assert lines[0].endswith("the pure-Python modules run")
    assert _extensions(root) == []
    assert _status(root).startswith("pure Python: not built")


def test_clean_removes_the_extensions(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    assert _extensions(root) != []
    done = _run(root, "-m", "publisher._build", "--clean")
    assert done.returncode == 0 and done.stdout == ""
    assert _extensions(root) == []
