"""Run the fuzz targets under atheris: ``python -m tests.fuzz.run [--seconds S] [TARGET ...]``.

Each target runs in its own child process (atheris fuzzes one function per process) for
``--seconds`` seconds, starting from its corpus in ``tests/fuzz/corpus/<target>``; new inputs
go to a scratch folder (``--work``), so the repository corpus changes only when asked
(``--merge``: keep the new inputs that add coverage). A crash writes its input to
``<work>/<target>/crash-*``; copy it to ``tests/fuzz/crashes/<target>/`` and it becomes a
regression test (``tests/fuzz/test_corpus.py`` replays that folder too). The exit status is
non-zero when any target found something. The last line per target gives the executions run.
"""

import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
CORPUS = HERE / "corpus"
CRASHES = HERE / "crashes"
ARGV0 = "IBPUB_FUZZ_ARGV0"
CHILD = (sys.executable, "-m", "tests.fuzz.run", "--child")
DONE = re.compile(rb"Done (\d+) runs in (\d+) second")


def child(name: str, argv: list[str]) -> None:
    """In the child: instrument our packages, then fuzz one target (never returns)."""
    import atheris

    with atheris.instrument_imports(include=["publisher", "subscribers"]):
        from tests.fuzz.targets import TARGETS
    # libFuzzer's -merge runs argv[0] again with its own flags: a script that gets back here.
    argv0 = os.environ.get(ARGV0, sys.argv[0])
    atheris.Setup([argv0, *argv], TARGETS[name])
    atheris.Fuzz()


def fuzz(name: str, seconds: int, work: Path, merge: bool) -> tuple[int, int]:
    """Fuzz ``name`` for ``seconds``; returns (exit status, executions)."""
    scratch = work / name
    scratch.mkdir(parents=True, exist_ok=True)
    seeds = CORPUS / name
    seeds.mkdir(parents=True, exist_ok=True)
    args = [
        f"-max_total_time={seconds}",
        f"-artifact_prefix={scratch}/",
        "-max_len=4096",
        "-rss_limit_mb=1024",
        "-print_final_stats=1",
        str(scratch),
        str(seeds),
    ]
    command = [*CHILD, name, "--", *args]
    again = work / f"{name}.sh"
    again.write_text(f'#!/bin/sh\nexec {" ".join(map(shlex.quote, CHILD))} {name} -- "$@"\n')
    again.chmod(0o755)
    env = {**os.environ, ARGV0: str(again)}
    done = subprocess.run(command, capture_output=True, check=False, env=env)
    found = DONE.search(done.stderr)
    runs = int(found[1]) if found else 0
    if done.returncode != 0:
        sys.stderr.write(done.stderr.decode(errors="replace")[-4000:])
    print(f"fuzz {name}: {runs} executions in {seconds} s, exit {done.returncode}", flush=True)
    if merge and done.returncode == 0:
        subprocess.run(
            [*CHILD, name, "--", "-merge=1", str(seeds), str(scratch)],
            capture_output=True,
            check=False,
            env=env,
        )
    return done.returncode, runs


def main() -> int:
    from tests.fuzz.targets import TARGETS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", help=f"targets (default all: {', '.join(TARGETS)})")
    parser.add_argument("--seconds", type=int, default=30, help="per target (%(default)s)")
    parser.add_argument("--work", type=Path, help="scratch corpus and crash folder")
    parser.add_argument("--merge", action="store_true", help="add new coverage to the corpus")
    args = parser.parse_args()
    unknown = sorted(set(args.targets) - set(TARGETS))
    if unknown:
        parser.error(f"unknown targets {unknown}; known: {sorted(TARGETS)}")
    work = args.work or Path(tempfile.mkdtemp(prefix="ibpub-fuzz-"))
    failed, total = [], 0
    for name in args.targets or list(TARGETS):
        status, runs = fuzz(name, args.seconds, work, args.merge)
        total += runs
        if status != 0:
            failed.append(name)
    print(f"fuzz: {total} executions over {len(args.targets or TARGETS)} targets; work in {work}")
    if failed:
        print(f"fuzz: FOUND problems in {failed}: see crash-* files under {work}")
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[4:] if sys.argv[3:4] == ["--"] else sys.argv[3:])
    sys.exit(main())
