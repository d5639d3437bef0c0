"""The measurements: paced steps, the sustained-rate search, the burst, the latency steps.

A *target* is one client under test as the feeder sees it (a session) plus what counts its
output (a :class:`~bench.handles.Receiver`) and where its CPU time is read. ibpub's output is
counted by the subscriber at the far end of the bus; the stock client counts its own callbacks.
Both are fed the same frames in the same order by the same feeder.
"""

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from bench.handles import Feed, Receiver
from bench.publisher import PublisherProcess, histogram_buckets
from bench.receivers import Arrival
from bench.stats import bucket_delta, histogram_quantile, quantile
from publisher.sim.burst import callbacks_in

LATENCY_METRIC: Final = "ibpub_tick_latency_seconds"
DRAIN_TIMEOUT: Final = 120.0
"""How long a target that fell behind gets to catch up before the next step."""


class Target(Protocol):
    """One client under test."""

    name: str
    session: int
    receiver: Receiver

    def cpu_seconds(self) -> float: ...
    def recover(self) -> None:
        """Make the target ready for another step after one it did not keep up with."""


@dataclass(frozen=True, slots=True)
class Step:
    """One paced run: ``rate`` frames/s for ``frames`` frames raising ``ticks`` callbacks."""

    rate: float
    frames: int
    ticks: int
    received: int
    lag_seconds: float
    """From the moment the last frame was due to the last tick's arrival (inf: never came)."""
    kept_up: bool
    cpu_seconds: float
    """CPU time of the target's process during the step."""

    @property
    def ticks_per_second(self) -> float:
        return self.rate * self.ticks / self.frames


@dataclass(frozen=True, slots=True)
class Sustained:
    """The highest paced rate kept up with, and every step tried on the way."""

    rate: float
    """Frames per second; 0 when even the first step failed."""
    ticks_per_second: float
    cpu_per_million_ticks: float
    """CPU seconds per million ticks at that rate (the target's whole process)."""
    steps: tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class Drain:
    """A burst: ``frames`` frames written at once; how long until the last tick was out."""

    frames: int
    ticks: int
    received: int
    seconds: float
    """From the first byte sent to the last tick received (inf: not within the timeout)."""
    publish_seconds: float
    """ibpub only: from the first byte sent to the last tick published (its ``ts``)."""
    cpu_per_million_ticks: float


@dataclass(frozen=True, slots=True)
class Latency:
    """ibpub at one offered rate: its own tick-to-publish histogram and the subscriber's view."""

    rate: float
    ticks: int
    kept_up: bool
    publish_p50: float
    publish_p99: float
    publish_p999: float
    receipt_p50: float
    receipt_p99: float


@dataclass(frozen=True, slots=True)
class Plan:
    """How much to measure (the defaults are ``make bench``; tests use a tiny plan)."""

    burst_frames: int = 500_000
    small_burst_frames: int = 200_000
    """A second, smaller burst (the first frames of the same set); 0 = none."""
    step_seconds: float = 2.0
    first_rate: float = 10_000
    rate_factor: float = 1.25
    max_rate: float = 400_000
    lag_limit: float = 0.25
    """A step is kept up if its last tick arrives within this many seconds of being due."""
    refine_steps: int = 2
    """After the ladder, rates tried between the last kept and the first failed one (each
    halving the gap on a log scale), so a ratio is not rounded to a ladder step."""
    step_slice: float = 0.001
    """Paced steps: the feeder writes the frames due once per millisecond."""
    latency_rates: tuple[float, ...] = (1_000, 10_000, 50_000)
    """Offered tick rates (ticks/s, not frames/s) of the latency steps."""
    latency_seconds: float = 2.0
    latency_slice: float = 0.0
    """Latency steps: the feeder writes each frame as it falls due (as a gateway would), so a
    read holds only what arrived together, not a millisecond's worth."""
    burst_timeout: float = 300.0
    seed: int = 1
    stage_frames: int = 50_000
    """Frames for the in-process stage breakdown (:mod:`bench.stages`)."""
    callgrind_frames: int = 300
    """Frames per segment of the callgrind count (:mod:`bench.callgrind`); 0 = not run."""
    callgrind_repeats: int = 2
    subscriber_frames: int = 20_000
    """Frames whose bus messages the subscriber-library section replays; 0 = not run."""
    fanout_counts: tuple[int, ...] = (1, 4, 16)
    """Subscriber processes of each fan-out step (:mod:`bench.fanout`); () = not run."""
    fanout_seconds: float = 3.0

    def ladder(self) -> list[float]:
        rates: list[float] = []
        rate = self.first_rate
        while rate <= self.max_rate:
            rates.append(round(rate, -2))
            rate *= self.rate_factor
        return rates


class Run:
    """Feeds one prepared frame set to targets; remembers where in the frame set it is."""

    def __init__(self, feed: Feed, callbacks: Sequence[int], plan: Plan) -> None:
        self.feed = feed
        self.callbacks = callbacks
        self.plan = plan
        self.position = 0

    @property
    def frame_count(self) -> int:
        return len(self.callbacks) - 1

    def step(self, target: Target, rate: float, seconds: float) -> Step:
        """Offer ``rate`` frames/s for ``seconds``; did the target keep up?"""
        return self._paced(target, rate, seconds, latency=False)[0]

    def _paced(
        self, target: Target, rate: float, seconds: float, *, latency: bool
    ) -> tuple[Step, Arrival]:
        frames = max(1, int(rate * seconds))
        ticks = callbacks_in(self.callbacks, self.position, frames)
        target.receiver.expect(ticks, latency=latency)
        cpu = target.cpu_seconds()
        slicing = self.plan.latency_slice if latency else self.plan.step_slice
        sent = self.feed.paced(target.session, rate, frames, self.position, slicing)
        self.position = (self.position + frames) % self.frame_count
        waited = max(0.0, (sent.scheduled_end_ns - time.time_ns()) / 1e9) + self.plan.lag_limit
        arrival = target.receiver.wait(waited)
        lag = (arrival.reached_ns - sent.scheduled_end_ns) / 1e9 if arrival.complete else math.inf
        kept_up = lag <= self.plan.lag_limit
        if not kept_up:
            target.recover()
        cpu = target.cpu_seconds() - cpu
        return Step(rate, frames, ticks, arrival.received, lag, kept_up, cpu), arrival

    def sustained(self, target: Target, log: Callable[[str], None]) -> Sustained:
        """Climb the rate ladder until a rate fails twice (a fresh try after the first), then
        try :attr:`Plan.refine_steps` rates between the last kept and the first failed one.

        Every search starts at the first frame, so each target meets the same frames per step.
        """
        self.position = 0
        steps: list[Step] = []
        best: Step | None = None
        failed_rate = math.inf
        for rate in self.plan.ladder():
            step = self._try(target, rate, steps, log)
            if not step.kept_up:
                failed_rate = rate
                break
            best = step
        if best is None:
            return Sustained(0.0, 0.0, math.nan, tuple(steps))
        for _ in range(self.plan.refine_steps if math.isfinite(failed_rate) else 0):
            rate = round(math.sqrt(best.rate * failed_rate), -2)
            if not best.rate < rate < failed_rate:
                break
            step = self._try(target, rate, steps, log)
            if step.kept_up:
                best = step
            else:
                failed_rate = rate
        cpu = best.cpu_seconds / best.ticks * 1e6
        return Sustained(best.rate, best.ticks_per_second, cpu, tuple(steps))

    def _try(
        self, target: Target, rate: float, steps: list[Step], log: Callable[[str], None]
    ) -> Step:
        """One paced step at ``rate``, tried once more if it failed; both are kept in ``steps``."""
        step = self.step(target, rate, self.plan.step_seconds)
        steps.append(step)
        if not step.kept_up:
            log(f"  {target.name}: {rate:,.0f} frames/s not kept up ({_lag(step)}); again")
            step = self.step(target, rate, self.plan.step_seconds)
            steps.append(step)
        if step.kept_up:
            log(f"  {target.name}: {rate:,.0f} frames/s kept up (lag {step.lag_seconds:.3f} s)")
        else:
            log(f"  {target.name}: {rate:,.0f} frames/s not kept up ({_lag(step)})")
        return step

    def burst(
        self, target: Target, frames: int, *, publisher: PublisherProcess | None = None
    ) -> Drain:
        """Write ``frames`` frames (from the first) at once; time until every tick is out."""
        ticks = callbacks_in(self.callbacks, 0, frames)
        target.receiver.expect(ticks)
        cpu = publisher.usage().cpu_seconds if publisher else target.cpu_seconds()
        sent = self.feed.burst(target.session, frames, 60.0)
        arrival = target.receiver.wait(self.plan.burst_timeout)
        spent = (publisher.usage().cpu_seconds if publisher else target.cpu_seconds()) - cpu
        if not arrival.complete:
            return Drain(frames, ticks, arrival.received, math.inf, math.inf, math.nan)
        seconds = (arrival.reached_ns - sent.started_ns) / 1e9
        published = (
            (arrival.last_publish_ns - sent.started_ns) / 1e9 if arrival.last_publish_ns else 0.0
        )
        return Drain(frames, ticks, arrival.received, seconds, published, spent / ticks * 1e6)

    def latency(self, target: Target, publisher: PublisherProcess, rate: float) -> Latency:
        """ibpub offered ``rate`` ticks/s (frames at ``rate`` over the frame set's ticks per
        frame): tick-to-publish from its histogram, publish-to-receipt sampled."""
        frame_rate = rate * self.frame_count / self.callbacks[-1]
        before = histogram_buckets(publisher.scrape(), LATENCY_METRIC)
        step, arrival = self._paced(target, frame_rate, self.plan.latency_seconds, latency=True)
        after = histogram_buckets(publisher.scrape(), LATENCY_METRIC)
        buckets = bucket_delta(before, after)
        receipt = [ns / 1e9 for ns in arrival.latencies_ns]
        return Latency(
            rate,
            step.ticks,
            step.kept_up,
            histogram_quantile(buckets, 0.5),
            histogram_quantile(buckets, 0.99),
            histogram_quantile(buckets, 0.999),
            quantile(receipt, 0.5),
            quantile(receipt, 0.99),
        )


def _lag(step: Step) -> str:
    if math.isinf(step.lag_seconds):
        return f"{step.received:,} of {step.ticks:,} ticks in time"
    return f"lag {step.lag_seconds:.3f} s"
