"""``python -m tests.chaos.soak [--minutes M] [--rate R]``: the publisher under load for a long
time, with a fault every minute, watching its resources (``make soak``: 30 min at 5k ticks/s).

The publisher runs as ``ibpub run`` (a real process) fed by the simulated gateway at ``--rate``
ticks per second; a checker subscriber reads everything and checks ``seq`` as in the chaos
runs. Every ``--fault-every`` seconds one fault of a fixed rotation (drop, 1100/1101, garbage,
refuse, flood, silent) is carried out, then recovery is awaited. The publisher's RSS, open file
descriptors, threads and ZeroMQ sockets (TCP sockets it holds; ZeroMQ sockets live in its
process) are printed at the start (after the first recovery) and every ``--report-every``
seconds. It fails when any invariant breaks or a resource grows beyond its bound:

- RSS: +64 MiB over the start, and +16 MiB over the first report (the last-value cache and
  ZeroMQ's buffers fill in the first minutes; what grows after is a leak; the allocator adds
  noise of a few MiB);
- open descriptors: +16 (reconnects must close what they opened; the bus and HTTP sockets are
  fixed; a few in-flight HTTP polls);
- threads: +4 (the HTTP server's threads come and go, bounded at 16, the ZeroMQ I/O thread
  and the service thread are fixed).
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Final

from tests.chaos import driver
from tests.chaos.schedule import Fault

ROTATION: Final = (
    Fault("drop"),
    Fault("1100-1101"),
    Fault("garbage"),
    Fault("refuse", "1.0"),
    Fault("flood", "20000"),
    Fault("silent", "1.0"),
)
BOUNDS: Final = {"rss_mib": 64.0, "fds": 16, "threads": 4}
WARM_RSS_MIB: Final = 16.0


def resources(pid: int) -> dict[str, float]:
    """RSS (MiB), open descriptors, threads and TCP sockets of a process, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    fds = list(Path(f"/proc/{pid}/fd").iterdir())
    sockets = 0
    for fd in fds:
        try:
            if fd.readlink().name.startswith("socket:"):
                sockets += 1
        except OSError:
            continue
    return {
        "rss_mib": int(fields["VmRSS"].split()[0]) / 1024,
        "fds": len(fds),
        "threads": int(fields["Threads"]),
        "sockets": sockets,
    }


def line(at: float, found: dict[str, float]) -> str:
    return (
        f"soak t={at / 60:5.1f} min  rss={found['rss_mib']:.1f} MiB  fds={found['fds']:.0f}  "
        f"threads={found['threads']:.0f}  sockets={found['sockets']:.0f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="(%(default)s)")
    parser.add_argument("--rate", type=float, default=5000.0, help="ticks/s (%(default)s)")
    parser.add_argument("--fault-every", type=float, default=60.0, help="s (%(default)s)")
    parser.add_argument("--report-every", type=float, default=300.0, help="s (%(default)s)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ibpub-soak-"))
    chaos = driver.ChaosRun(0, work, faults=0, rate=args.rate)
    problems: list[str] = []
    try:
        chaos.wait_recovered(0.0, "the start")
        start = time.monotonic()
        base = resources(chaos.proc.pid)
        print(line(0.0, base), flush=True)
        next_fault, next_report, index = start + args.fault_every, start + args.report_every, 0
        warm: dict[str, float] | None = None  # at the first report, once the caches are full
        end = start + args.minutes * 60
        while time.monotonic() < end:
            chaos.checker.pump(0.5)
            chaos.alive()
            now = time.monotonic()
            if now >= next_fault:
                fault = ROTATION[index % len(ROTATION)]
                index += 1
                chaos.apply(fault)
                chaos.wait_recovered(now, str(fault))
                next_fault = now + args.fault_every
            if now >= next_report:
                found = resources(chaos.proc.pid)
                warm = warm or found
                print(line(now - start, found), flush=True)
                next_report = now + args.report_every
        final = resources(chaos.proc.pid)
        print(line(time.monotonic() - start, final), flush=True)
        for name, bound in BOUNDS.items():
            if final[name] - base[name] > bound:
                problems.append(f"{name} grew {final[name] - base[name]:.1f} (bound {bound})")
        if warm is not None and final["rss_mib"] - warm["rss_mib"] > WARM_RSS_MIB:
            grown = final["rss_mib"] - warm["rss_mib"]
            problems.append(f"rss grew {grown:.1f} MiB after the first report ({WARM_RSS_MIB})")
        problems.extend(chaos.checker.problems)
        print(
            f"soak: {args.minutes:g} min at {args.rate:g} ticks/s, {index} faults, "
            f"{chaos.checker.received} messages received, {chaos.checker.gaps} gaps"
        )
    except AssertionError as exc:
        problems.append(str(exc))
    finally:
        chaos.close()
    for problem in problems:
        print(f"soak FAILED: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
