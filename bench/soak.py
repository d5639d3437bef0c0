"""Target 6: ``python -m bench --soak [--minutes M]``: the publisher's memory over a long run.

The feeder offers :data:`RATE` ticks/s (protobuf frames, paced in 1 ms slices) to ``ibpub run``
with one counting subscriber on the bus, in back-to-back steps of :data:`STEP_SECONDS`. After
each step the publisher's resident set (``VmRSS`` of ``/proc/<pid>/status``) is sampled. The
first :data:`WARM_UP` of the run is left out; the rest is split in two halves, and RSS is flat
when the second half's mean is within 10 % of the first's. Every tick must reach the subscriber.
The peak (``VmHWM``) is reported with the number of instruments the publisher served (the
simulator's catalogue).
"""

import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bench.handles import Feed, subscriber
from bench.publisher import PublisherProcess
from bench.scenarios import Plan, Run
from bench.targets import Ibpub
from publisher.sim import Catalogue
from publisher.sim.burst import ENCODINGS

RATE: Final = 20_000
STEP_SECONDS: Final = 10.0
WARM_UP: Final = 0.1
"""The fraction of the run left out of the comparison."""
FLAT_WITHIN: Final = 0.10
PREPARED_FRAMES: Final = 200_000
START_TIMEOUT: Final = 60.0


@dataclass(frozen=True, slots=True)
class Soak:
    """RSS samples (bytes, one per step) and what arrived."""

    samples: tuple[int, ...]
    peak_rss_bytes: int
    instruments: int
    ticks: int
    lost: int

    @property
    def growth(self) -> float:
        """second-half mean / first-half mean - 1, after the warm-up (nan: too few samples)."""
        return growth(self.samples)

    @property
    def flat(self) -> bool:
        return abs(self.growth) <= FLAT_WITHIN and self.lost == 0


def growth(samples: Sequence[int]) -> float:
    kept = list(samples[int(len(samples) * WARM_UP) :])
    if len(kept) < 2:
        return float("nan")
    half = len(kept) // 2
    first, second = statistics.fmean(kept[:half]), statistics.fmean(kept[half:])
    return second / first - 1


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def run_soak(
    minutes: float, log: Callable[[str], None], step_seconds: float = STEP_SECONDS
) -> Soak:
    version = ENCODINGS["protobuf"]
    plan = Plan(burst_frames=PREPARED_FRAMES)
    feed = Feed(version)
    try:
        with tempfile.TemporaryDirectory(prefix="ibpub-soak-") as tmp:
            workdir = Path(tmp)
            with PublisherProcess(feed.port, workdir) as publisher:
                publisher.wait_metrics(START_TIMEOUT)
                session = feed.wait_session(
                    lambda s: s.client_id == 7 and len(s.streams) >= 9, START_TIMEOUT
                )
                prepared = feed.prepare(session.session, PREPARED_FRAMES, plan.seed)
                sub = subscriber(publisher.endpoint)
                try:
                    target = Ibpub(publisher, session.session, sub)
                    run = Run(feed, prepared.callbacks, plan)
                    frame_rate = RATE * run.frame_count / run.callbacks[-1]
                    samples: list[int] = []
                    ticks = 0
                    deadline = time.monotonic() + minutes * 60
                    while time.monotonic() < deadline:
                        step = run.step(target, frame_rate, step_seconds)
                        ticks += step.ticks
                        samples.append(rss_bytes(publisher.pid))
                        log(f"  soak: {len(samples)} steps, RSS {samples[-1] / 2**20:.1f} MiB")
                    peak = publisher.usage().peak_rss_bytes
                    lost = target.lost
                finally:
                    sub.stop()
    finally:
        feed.stop()
    return Soak(tuple(samples), peak, len(list(Catalogue.builtin())), ticks, lost)


def describe(soak: Soak, minutes: float) -> str:
    mib = [s / 2**20 for s in soak.samples]
    return (
        f"soak, {minutes:g} min at {RATE / 1000:g}k ticks/s: RSS first {mib[0]:.1f} MiB, "
        f"last {mib[-1]:.1f} MiB, second half vs first (after {WARM_UP:.0%} warm-up) "
        f"{soak.growth:+.1%}, peak {soak.peak_rss_bytes / 2**20:.1f} MiB with "
        f"{soak.instruments} instruments, {soak.ticks:,} ticks, lost {soak.lost:,}\n"
        f"6 memory: RSS flat within {FLAT_WITHIN:.0%}: {'PASS' if soak.flat else 'MISS'}; "
        "peak for 1,000 instruments: not measured yet (the catalogue has "
        f"{soak.instruments})"
    )


def main(minutes: float) -> int:
    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    soak = run_soak(minutes, log, min(STEP_SECONDS, minutes * 60 / 4))
    print(describe(soak, minutes))
    return 0
