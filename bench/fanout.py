"""Target 5: fan-out. One ``ibpub run`` publishing to 1, 4 and 16 counting subscriber processes.

For each subscriber count: start that many counting subscribers (:mod:`bench.counter`, each its
own process, each returned once a heartbeat reached it), then the feeder offers
:data:`RATE` ticks/s for a few seconds, written in 1 ms slices as the sustained steps are (with
every frame written on its own, the publisher's per-wake-up cost swamps the per-subscriber one:
34-60 us a tick, falling as subscribers were added, on a loaded machine). Every subscriber
must receive every tick (zero loss: each one counts the step's ticks). The publisher's CPU per
tick is utime+stime of the ``ibpub run`` process (``/proc/<pid>/stat``, every thread, so
ZeroMQ's I/O thread, which does the per-subscriber copies, is in it) over the step, divided by
the ticks published once (not once per subscriber).
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from bench.handles import Receiver, subscriber
from bench.publisher import PublisherProcess
from bench.scenarios import Run
from publisher.sim.burst import callbacks_in

COUNTS: Final = (1, 4, 16)
RATE: Final = 10_000
"""Offered ticks per second (each subscriber receives all of them)."""
DRAIN: Final = 5.0
"""How long after the last frame was due every subscriber gets to receive the last tick."""


@dataclass(frozen=True, slots=True)
class FanoutStep:
    """One subscriber count at :data:`RATE`."""

    subscribers: int
    ticks: int
    received: tuple[int, ...]
    """Ticks each subscriber received."""
    cpu_seconds: float
    wall_seconds: float = 0.0
    idle_cpu_per_second: float = 0.0
    """The publisher's CPU per second with no ticks, measured once before the steps."""

    @property
    def net_us_per_tick(self) -> float:
        """CPU per tick once the idle rate over the step's length is taken off."""
        net = self.cpu_seconds - self.idle_cpu_per_second * self.wall_seconds
        return net / self.ticks * 1e6 if self.ticks else 0.0

    @property
    def lost(self) -> int:
        return sum(self.ticks - r for r in self.received if r < self.ticks)

    @property
    def cpu_us_per_tick(self) -> float:
        return self.cpu_seconds / self.ticks * 1e6 if self.ticks else 0.0


def measure(
    run: Run,
    publisher: PublisherProcess,
    session: int,
    seconds: float,
    counts: Sequence[int] = COUNTS,
    log: Callable[[str], None] = lambda message: None,
) -> tuple[FanoutStep, ...]:
    steps = []
    idle_start, cpu_start = time.monotonic(), publisher.usage().cpu_seconds
    time.sleep(seconds)  # a measurement interval: the publisher's idle CPU rate
    idle = (publisher.usage().cpu_seconds - cpu_start) / (time.monotonic() - idle_start)
    for count in counts:
        log(f"  fan-out: {count} subscribers at {RATE:,} ticks/s for {seconds:g} s")
        subs: list[Receiver] = []
        try:
            for _ in range(count):
                subs.append(subscriber(publisher.endpoint))
            steps.append(_step(run, publisher, session, subs, seconds, idle))
        finally:
            for sub in subs:
                sub.stop()
    return tuple(steps)


def _step(
    run: Run,
    publisher: PublisherProcess,
    session: int,
    subs: list[Receiver],
    seconds: float,
    idle: float,
) -> FanoutStep:
    frame_rate = RATE * run.frame_count / run.callbacks[-1]
    frames = max(1, int(frame_rate * seconds))
    ticks = callbacks_in(run.callbacks, run.position, frames)
    for sub in subs:
        sub.expect(ticks)
    cpu, began = publisher.usage().cpu_seconds, time.monotonic()
    sent = run.feed.paced(session, frame_rate, frames, run.position, run.plan.step_slice)
    run.position = (run.position + frames) % run.frame_count
    received = []
    for sub in subs:
        waited = max(0.0, (sent.scheduled_end_ns - time.time_ns()) / 1e9) + DRAIN
        received.append(sub.wait(waited).received)
    spent = publisher.usage().cpu_seconds - cpu
    return FanoutStep(len(subs), ticks, tuple(received), spent, time.monotonic() - began, idle)


def describe(steps: Sequence[FanoutStep]) -> str:
    parts = [
        f"{s.subscribers} subs {s.cpu_us_per_tick:.1f} us/tick "
        f"({s.net_us_per_tick:.1f} less idle), lost {s.lost:,}"
        for s in steps
    ]
    idle = steps[0].idle_cpu_per_second * 100 if steps else 0.0
    return (
        f"fan-out at {RATE / 1000:g}k ticks/s, publisher CPU per tick (idle {idle:.1f} % "
        "of a CPU): " + "; ".join(parts)
    )


def verdict(steps: Sequence[FanoutStep]) -> str:
    what = f"5 fan-out: {max(COUNTS)} subscribers at {RATE / 1000:g}k ticks/s, zero loss"
    full = [s for s in steps if s.subscribers == max(COUNTS)]
    if not full:
        return f"{what}: not run at {max(COUNTS)} subscribers"
    ok = full[0].lost == 0
    cpu = ", ".join(f"{s.subscribers}: {s.cpu_us_per_tick:.1f}" for s in steps)
    return f"{what}: {'PASS' if ok else 'MISS'} (lost {full[0].lost:,}; CPU us/tick {cpu})"
