"""``python -m tests.chaos.run [--seeds N] [--first S] [--seed S] [--faults F]``: seeded chaos.

Runs seeds ``first .. first+N-1`` (or the one ``--seed``), each with ``--faults`` faults,
prints one line per seed and, for a failing one, the problems and the exact command that
replays it; the exit status is 1 when any seed failed. ``make chaos`` runs 50 seeds.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

from tests.chaos.driver import report, run_seed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=50, help="how many seeds (%(default)s)")
    parser.add_argument("--first", type=int, default=1, help="the first seed (%(default)s)")
    parser.add_argument("--seed", type=int, help="run only this seed (a replay)")
    parser.add_argument("--faults", type=int, default=4, help="faults per seed (%(default)s)")
    args = parser.parse_args()
    seeds = [args.seed] if args.seed is not None else range(args.first, args.first + args.seeds)
    work = Path(tempfile.mkdtemp(prefix="ibpub-chaos-"))
    failed = []
    started = time.monotonic()
    for seed in seeds:
        problems, summary = run_seed(seed, work / f"seed-{seed}", args.faults)
        print(report(seed, args.faults, problems, summary), flush=True)
        if problems:
            failed.append(seed)
    minutes = (time.monotonic() - started) / 60
    print(f"chaos: {len(list(seeds))} seeds, {len(failed)} failed {failed}, {minutes:.1f} min")
    print(f"chaos: publisher logs under {work}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
