"""Target 6: ``python -m bench --soak [--minutes M]``: the publisher's memory over a long run.

Two runs, one ``ibpub run`` each, at the same rate. The first serves the bench's usual universe
(the simulator's catalogue without its options: 144 stocks, futures and FX) for ``minutes``;
the second :data:`bench.universe.WIDE` instruments (the catalogue plus synthetic stocks, with
``gateway.max_lines`` raised to match) for ``wide_minutes``. In each, once the feeder has seen
a market-data request for every configured instrument, it offers :data:`RATE` ticks/s
(protobuf frames over every instrument, paced in 1 ms slices) with one counting subscriber on
the bus, in back-to-back steps of :data:`STEP_SECONDS`. After each step the publisher's
resident set (``VmRSS`` of ``/proc/<pid>/status``) is sampled. The first :data:`WARM_UP` of a
run is left out; the rest is split in two halves, and RSS is flat when the second half's mean
is within 10 % of the first's. Every tick must reach the subscriber. The peak (``VmHWM``) is
read at the end of each run, and the memory one more instrument costs is the difference of
the two peaks over the difference of the instrument counts.

The figures are printed and written to ``bench/results/soak-<time>.json`` (and ``.txt``);
``make bench``'s target table quotes the newest such file (:func:`latest_lines`).
"""

import json
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from bench.feeder import Widen
from bench.handles import START_TIMEOUT as REPLY_TIMEOUT
from bench.handles import Feed, subscriber
from bench.publisher import PublisherProcess
from bench.scenarios import Plan, Run
from bench.targets import Ibpub
from bench.universe import WIDE, served, widened
from publisher.sim.burst import ENCODINGS

RATE: Final = 20_000
STEP_SECONDS: Final = 10.0
WARM_UP: Final = 0.1
"""The fraction of the run left out of the comparison."""
FLAT_WITHIN: Final = 0.10
PREPARED_FRAMES: Final = 200_000
START_TIMEOUT: Final = 60.0
SUBSCRIBE_TIMEOUT: Final = 300.0
"""How long the publisher gets to request market data for every instrument (it paces its
requests to the gateway, as IB requires)."""
WIDE_MINUTES: Final = 3.0
"""The wide run's default length (at most the main run's)."""


@dataclass(frozen=True, slots=True)
class Soak:
    """RSS samples (bytes, one per step) and what arrived."""

    samples: tuple[int, ...]
    peak_rss_bytes: int
    instruments: int
    """Instruments the publisher requested market data for (the feeder's count)."""
    ticks: int
    lost: int
    minutes: float = 0.0
    subscribed_rss_bytes: int = 0
    """VmRSS once every instrument was subscribed, before the first tick."""

    @property
    def growth(self) -> float:
        """second-half mean / first-half mean - 1, after the warm-up (nan: too few samples)."""
        return growth(self.samples)

    @property
    def flat(self) -> bool:
        return abs(self.growth) <= FLAT_WITHIN and self.lost == 0


@dataclass(frozen=True, slots=True)
class Soaks:
    """The main run (the usual universe) and, unless skipped, the wide one."""

    main: Soak
    wide: Soak | None = None

    @property
    def per_instrument_bytes(self) -> float:
        """Peak RSS one more instrument costs (nan without a wide run)."""
        if self.wide is None or self.wide.instruments <= self.main.instruments:
            return math.nan
        extra = self.wide.instruments - self.main.instruments
        return (self.wide.peak_rss_bytes - self.main.peak_rss_bytes) / extra


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
    minutes: float,
    log: Callable[[str], None],
    step_seconds: float = STEP_SECONDS,
    instruments: int = 0,
) -> Soak:
    """One publisher at :data:`RATE` for ``minutes``: the usual universe, or ``instruments``."""
    version = ENCODINGS["protobuf"]
    plan = Plan(burst_frames=PREPARED_FRAMES)
    universe = widened(instruments) if instruments else served()
    feed = Feed(version)
    try:
        if instruments:
            feed.ask(Widen(len(universe) - len(served())), REPLY_TIMEOUT)
        with tempfile.TemporaryDirectory(prefix="ibpub-soak-") as tmp:
            workdir = Path(tmp)
            with PublisherProcess(feed.port, workdir, instruments=universe) as publisher:
                publisher.wait_metrics(START_TIMEOUT)
                session = feed.wait_session(
                    lambda s: s.client_id == 7 and len(s.streams) >= len(universe),
                    SUBSCRIBE_TIMEOUT,
                )
                subscribed = rss_bytes(publisher.pid)
                log(f"  soak: {len(session.streams)} instruments subscribed")
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
    streams = len(session.streams)
    return Soak(tuple(samples), peak, streams, ticks, lost, minutes, subscribed)


def _mib(value: float) -> str:
    return f"{value / 2**20:.1f} MiB"


def describe_run(soak: Soak) -> str:
    return (
        f"soak, {soak.minutes:g} min at {RATE / 1000:g}k ticks/s, {soak.instruments:,} "
        f"instruments: RSS subscribed {_mib(soak.subscribed_rss_bytes)}, first "
        f"{_mib(soak.samples[0])}, last {_mib(soak.samples[-1])}, second half vs first (after "
        f"{WARM_UP:.0%} warm-up) {soak.growth:+.1%}, peak {_mib(soak.peak_rss_bytes)}, "
        f"{soak.ticks:,} ticks, lost {soak.lost:,}"
    )


def verdicts(soaks: Soaks) -> list[str]:
    """Target 6 (flat) and 6b (the wide peak), one line each."""
    main, wide = soaks.main, soaks.wide
    lines = [
        f"6 memory: RSS flat within {FLAT_WITHIN:.0%} over {main.minutes:g} min at "
        f"{RATE / 1000:g}k ticks/s ({main.instruments:,} instruments): "
        f"{'PASS' if main.flat else 'MISS'} ({main.growth:+.1%}, lost {main.lost:,})"
    ]
    what = f"6b memory: peak for {WIDE:,} instruments"
    if wide is None:
        return [*lines, f"{what}: not run (--instruments 0)"]
    per = soaks.per_instrument_bytes / 1024
    lines.append(
        f"{what}: {_mib(wide.peak_rss_bytes)} with {wide.instruments:,} "
        f"(vs {_mib(main.peak_rss_bytes)} with {main.instruments:,}: {per:.1f} KiB per "
        f"instrument); flat within {FLAT_WITHIN:.0%} over {wide.minutes:g} min: "
        f"{'PASS' if wide.flat else 'MISS'} ({wide.growth:+.1%}, lost {wide.lost:,})"
    )
    return lines


def describe(soaks: Soaks) -> str:
    runs = [soaks.main, *([soaks.wide] if soaks.wide else [])]
    return "\n".join([*(describe_run(s) for s in runs), *verdicts(soaks)])


def to_json(soaks: Soaks, when: datetime) -> dict[str, Any]:
    return {
        "started": when.isoformat(),
        "rate": RATE,
        "main": asdict(soaks.main),
        "wide": asdict(soaks.wide) if soaks.wide else None,
        "per_instrument_bytes": soaks.per_instrument_bytes,
        "verdicts": verdicts(soaks),
    }


def latest_lines(results: Path) -> list[str] | None:
    """The target lines of the newest ``soak-*.json`` under ``results``, with its date."""
    files = sorted(results.glob("soak-*.json"))
    if not files:
        return None
    try:
        document = json.loads(files[-1].read_text())
        lines = [str(line) for line in document["verdicts"]]
        started = str(document["started"])[:16].replace("T", " ")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return [f"{line} [python -m bench --soak, {started} UTC]" for line in lines]


def main(
    minutes: float,
    wide_minutes: float | None = None,
    instruments: int = WIDE,
    out: Path | None = None,
) -> int:
    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    when = datetime.now(UTC)
    wide_minutes = min(WIDE_MINUTES, minutes) if wide_minutes is None else wide_minutes

    def step(length: float) -> float:
        return min(STEP_SECONDS, length * 60 / 4)

    log(f"soak: the usual universe for {minutes:g} min")
    main_run = run_soak(minutes, log, step(minutes))
    wide = None
    if instruments:
        log(f"soak: {instruments:,} instruments for {wide_minutes:g} min")
        wide = run_soak(wide_minutes, log, step(wide_minutes), instruments)
    soaks = Soaks(main_run, wide)
    text = describe(soaks)
    print(text)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        stamp = f"{when:%Y%m%dT%H%M%SZ}"
        (out / f"soak-{stamp}.json").write_text(json.dumps(to_json(soaks, when), indent=2) + "\n")
        (out / f"soak-{stamp}.txt").write_text(text + "\n")
        print(f"written: {out / f'soak-{stamp}.txt'} and .json")
    return 0
