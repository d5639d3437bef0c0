"""Build the compiled hot path: ``python -m publisher._build`` (run by ``make setup``).

Compiles :data:`publisher.compiled.MODULES` with mypyc (it ships with mypy, a dev dependency)
into extension modules beside their sources. It never fails the setup: without a C compiler,
without Python's headers or when the build fails, it prints one line saying so, leaves no
extension behind and exits 0, and the pure-Python modules run. ``--clean`` removes the
extensions. The compiler runs in a child process (``--compile DIR``) in a temporary directory,
so its output can be kept out of the way (the log's path is printed when it fails).
"""

import argparse
import importlib
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from publisher.compiled import EXTENSION_SUFFIX, MODULES, PACKAGE_DIR, extension_path, source_path

REPO: Final = PACKAGE_DIR.parent
GROUP: Final = "publisher._compiled"
"""mypyc's build group: its shared library is ``publisher/_compiled__mypyc*.so``."""
SHARED_LIBRARY: Final = PACKAGE_DIR / ("_compiled__mypyc" + EXTENSION_SUFFIX)
OPT_LEVEL: Final = "2"
"""gcc -O2 (mypyc's default is -O3): a shorter build; -O3's gain was not measured."""
LOG: Final = Path(tempfile.gettempdir()) / "ibpub-mypyc-build.log"
PREFIX: Final = "compiled hot path:"


def compiler() -> str | None:
    """The C compiler setuptools would use (``CC``, else Python's configured one), if present."""
    command = os.environ.get("CC") or str(sysconfig.get_config_var("CC") or "cc")
    words = shlex.split(command)
    return shutil.which(words[0]) if words else None


def headers() -> bool:
    """Whether Python's C headers are installed (Debian: python3.11-dev)."""
    return (Path(sysconfig.get_paths()["include"]) / "Python.h").exists()


def outputs() -> list[Path]:
    """Every file the build puts into the source tree."""
    return [extension_path(m) for m in MODULES] + [SHARED_LIBRARY]


def clean() -> None:
    for path in outputs():
        path.unlink(missing_ok=True)


def _compile(workdir: Path) -> None:
    """The child: mypyc's C code and setuptools' build_ext, into ``workdir/lib``."""
    from mypyc.build import mypycify

    # By name: the venv's setuptools may ship no type information (and a newer one does).
    setup = importlib.import_module("setuptools").setup

    paths = [str(source_path(m)) for m in MODULES]
    extensions = mypycify(
        [
            "--config-file",
            str(REPO / "pyproject.toml"),
            "--cache-dir",
            str(REPO / ".mypy_cache" / "mypyc"),
            *paths,
        ],
        opt_level=OPT_LEVEL,
        group_name=GROUP,
        target_dir=str(workdir / "c"),
    )
    setup(
        name="ibpub-compiled",
        ext_modules=extensions,
        script_args=[
            "--quiet",
            "build_ext",
            "--build-lib",
            str(workdir / "lib"),
            "--build-temp",
            str(workdir / "temp"),
        ],
    )


def build() -> str:
    """Build the extensions in place; returns the one line to print."""
    clean()  # whatever happens next, no extension of an earlier build stays in use
    cc = compiler()
    if cc is None:
        return f"{PREFIX} skipped, no C compiler found: the pure-Python modules run"
    if not headers():
        return (
            f"{PREFIX} skipped, Python's C headers (Python.h) are missing "
            "(python3.11-dev): the pure-Python modules run"
        )
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ibpub-mypyc-") as tmp:
        workdir = Path(tmp)
        # This very package in the child (not another checkout's, through the editable install).
        pythonpath = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
        with LOG.open("wb") as log:
            done = subprocess.run(
                [sys.executable, "-m", "publisher._build", "--compile", str(workdir)],
                cwd=workdir,  # keeps setuptools from reading the project's pyproject.toml
                env=dict(os.environ, PYTHONPATH=pythonpath),
                stdout=log,
                stderr=subprocess.STDOUT,
                check=False,
            )
        built = {m: workdir / "lib" / extension_path(m).relative_to(REPO) for m in MODULES}
        shared = workdir / "lib" / SHARED_LIBRARY.relative_to(REPO)
        missing = [m for m, path in built.items() if not path.exists()]
        if done.returncode != 0 or missing or not shared.exists():
            last = _last_line(LOG)
            return f"{PREFIX} build failed ({last}; full log {LOG}): the pure-Python modules run"
        shutil.copy2(shared, SHARED_LIBRARY)
        for module, path in built.items():
            shutil.copy2(path, extension_path(module))
    seconds = time.monotonic() - started
    return f"{PREFIX} {len(MODULES)} modules compiled with mypyc ({cc}) in {seconds:.0f} s"


def _last_line(log: Path) -> str:
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines()]
    errors = [line for line in lines if "error" in line.lower()]
    found = errors[0] if errors else next((line for line in reversed(lines) if line), "")
    return found[:200] or "no extension was produced"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m publisher._build", description=__doc__)
    parser.add_argument("--clean", action="store_true", help="remove the compiled extensions")
    parser.add_argument("--compile", type=Path, metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.compile is not None:
        _compile(args.compile)
        return 0
    if args.clean:
        clean()
        return 0
    try:
        print(build(), flush=True)
    except Exception as exc:  # never a failed setup: the pure modules still run
        clean()
        print(f"{PREFIX} build failed ({exc!r}): the pure-Python modules run", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
