"""The depth row of ``make bench``: 10 books of 10 rows a side through ibpub and the stock client.

The feeder sends the frames of :mod:`bench.depth_frames` (updateMktDepth, classic text or
protobuf) for the depth requests the publisher made; the stock client is fed the very same
frames. Measured, per encoding: tick-to-publish of ibpub at :data:`DEPTH_RATE` frames/s (its own
``ibpub_tick_latency_seconds`` histogram, as for ticks) with zero loss (every depth message
reached the counting subscriber), and the highest zero-loss paced rate of ibpub and of the stock
client (decode only), whose ratio is the row's comparison. It needs a publisher that publishes
depth; one that does not gives a row that says so instead of figures.
"""

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ibapi.decoder import Decoder

from bench.depth_frames import BOOKS, ROWS, generate
from bench.handles import Feed, HelperError, subscriber
from bench.publisher import PublisherProcess
from bench.scenarios import Plan, Run
from bench.stock import CountingWrapper
from bench.targets import Ibpub, Stock
from publisher.gateway.fastpath import TickFastPath
from publisher.gateway.framing import FrameBuffer, split_message
from publisher.sim.burst import ENCODINGS, FrameSet

DEPTH_RATE: Final = 10_000
"""Frames/s of the latency step: 1,000 book updates a second on each of the 10 books."""
PUBLISHER_CLIENT_ID: Final = 7
START_TIMEOUT: Final = 60.0
DECODE_FRAMES: Final = 20_000
"""Frames for the in-process decode timing."""
REPEATS: Final = 5
WARM_UP_GRACE: Final = 10.0
"""Seconds after the first frames were due for all their messages to arrive."""
DEPTH_SESSION_TIMEOUT: Final = 20.0
"""How long the publisher gets to make its depth requests (it has its contracts by then)."""


@dataclass(frozen=True, slots=True)
class DepthResult:
    """The depth row of one encoding (``error`` says why it was not measured)."""

    encoding: str
    rate: float = 0.0
    kept_up: bool = False
    messages: int = 0
    publish_p50: float = math.nan
    publish_p99: float = math.nan
    publish_p999: float = math.nan
    ibpub_rate: float = 0.0
    stock_rate: float = 0.0
    lost: int = 0
    fast_decode_us: float = math.nan
    """CPU us per frame of the publisher's fast path (in this process, one thread)."""
    ibapi_decode_us: float = math.nan
    """The same for ibapi's ``Decoder`` into callbacks that only count (the stock client)."""
    error: str = ""


class _NullSink:
    """The tick sink's depth and tick-by-tick methods, doing nothing."""

    def on_price(self, *args: object) -> None: ...
    def on_size(self, *args: object) -> None: ...
    def on_generic(self, *args: object) -> None: ...
    def on_string(self, *args: object) -> None: ...
    def on_tbt_last(self, *args: object) -> None: ...
    def on_tbt_bid_ask(self, *args: object) -> None: ...
    def on_tbt_midpoint(self, *args: object) -> None: ...
    def on_depth(self, *args: object) -> None: ...
    def on_bar(self, *args: object) -> None: ...
    def on_option(self, *args: object) -> None: ...


def _cpu_per_frame(run: Callable[[], None], frames: int) -> float:
    samples = []
    for _ in range(REPEATS):
        start = time.thread_time_ns()
        run()
        samples.append((time.thread_time_ns() - start) / frames / 1e3)
    return statistics.median(samples)


def decode_costs(frames: FrameSet) -> tuple[float, float]:
    """CPU us per depth frame: (publisher's fast path, ibapi's decoder), median of a few runs.

    Every frame must take the fast path (the publisher's decoder of record for them)."""
    buffer = FrameBuffer()
    buffer.feed(frames.blob)
    payloads = buffer.take()
    version = frames.version
    fast = TickFastPath(_NullSink(), version).decode
    if not all(fast(p) for p in payloads):
        raise RuntimeError("a benchmark depth frame did not take the fast path")
    decoder = Decoder(CountingWrapper(), version)

    def ibapi() -> None:
        for payload in payloads:
            msg_id, body = split_message(payload, version)
            if msg_id > 200:
                decoder.processProtoBuf(body, msg_id - 200)
            else:
                decoder.interpret(tuple(body.split(b"\0")[:-1]), msg_id)

    def fast_path() -> None:
        for payload in payloads:
            fast(payload)

    return _cpu_per_frame(fast_path, len(payloads)), _cpu_per_frame(ibapi, len(payloads))


def measure(
    encoding: str, plan: Plan, workdir: Path, log: Callable[[str], None], frames: int
) -> DepthResult:
    """The depth row for one encoding; a publisher without depth gives a result with ``error``."""
    version = ENCODINGS[encoding]
    sample = generate(version, list(range(1000, 1000 + BOOKS)), min(frames, DECODE_FRAMES), 3)
    costs = decode_costs(sample)
    log(f"depth {encoding}: decode us/frame: fast path {costs[0]:.2f}, ibapi {costs[1]:.2f}")
    feed = Feed(version)
    try:
        log(f"depth {encoding}: ibpub run with {BOOKS} depth books")
        with PublisherProcess(feed.port, workdir, depth_books=BOOKS) as publisher:
            try:
                publisher.wait_metrics(START_TIMEOUT)
                session = feed.wait_session(
                    lambda s: s.client_id == PUBLISHER_CLIENT_ID and len(s.depth_streams) >= BOOKS,
                    START_TIMEOUT,
                )
            except (HelperError, RuntimeError, OSError):
                said = _last_line(publisher.log_path)
                error = f"ibpub made no {BOOKS} depth requests ({said})"
                return DepthResult(
                    encoding, fast_decode_us=costs[0], ibapi_decode_us=costs[1], error=error
                )
            prepared = feed.prepare(session.session, frames, plan.seed, kind="depth")
            sub = subscriber(publisher.endpoint, prefix=b"depth.")
            try:
                ibpub = Ibpub(publisher, session.session, sub)
                run = Run(feed, prepared.callbacks, plan)
                # The first frames by hand: a publisher that publishes no depth at all is told
                # in seconds, not after every step of the rate search has timed out.
                warm = min(prepared.count, max(1, int(plan.first_rate * plan.step_seconds)))
                sub.expect(warm)
                feed.paced(session.session, plan.first_rate, warm, 0, plan.step_slice)
                arrival = sub.wait(plan.step_seconds + WARM_UP_GRACE)
                if not arrival.complete:
                    error = f"{arrival.received:,} of {warm:,} depth messages on the bus"
                    return DepthResult(
                        encoding, fast_decode_us=costs[0], ibapi_decode_us=costs[1], error=error
                    )
                run.position = warm % run.frame_count
                log(f"depth {encoding}: ibpub latency at {DEPTH_RATE:,} frames/s")
                latency = run.latency(ibpub, publisher, DEPTH_RATE)
                log(f"depth {encoding}: ibpub sustained rate search")
                ibpub_sustained = run.sustained(ibpub, log)
            finally:
                sub.stop()
        log(f"depth {encoding}: stock ibapi sustained rate search")
        stock = Stock(feed)
        try:
            stock_sustained = run.sustained(stock, log)
        finally:
            stock.close()
    finally:
        feed.stop()
    return DepthResult(
        encoding,
        DEPTH_RATE,
        latency.kept_up,
        latency.ticks,
        latency.publish_p50,
        latency.publish_p99,
        latency.publish_p999,
        ibpub_sustained.rate,
        stock_sustained.rate,
        ibpub.lost,
        *costs,
    )


def _last_line(log: Path) -> str:
    """The publisher's last log line (its reason, when it refused the configuration)."""
    try:
        lines = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    return lines[-1][:200] if lines else "it logged nothing"


def table(results: Sequence[DepthResult]) -> str:
    """The depth rows, after the tick tables."""
    lines = [
        f"depth: {BOOKS} books x {ROWS} rows a side (updateMktDepth)"
        "                 ibpub  stock ibapi  ratio",
        "-" * 89,
    ]
    for r in results:
        ratio = r.ibapi_decode_us / r.fast_decode_us
        lines.append(
            f"{r.encoding + ', decode CPU us per frame (one thread)':<52}"
            f"{r.fast_decode_us:>12.2f} {r.ibapi_decode_us:>12.2f} {ratio:>5.1f}x"
        )
        if r.error:
            lines.append(f"{r.encoding}: not measured: {r.error}")
            continue
        ratio = r.ibpub_rate / r.stock_rate if r.stock_rate else math.nan
        lines.append(
            f"{r.encoding + ', sustained, zero loss: frames/s':<52}"
            f"{r.ibpub_rate:>12,.0f} {r.stock_rate:>12,.0f} {ratio:>5.1f}x"
        )
        us = [q * 1e6 for q in (r.publish_p50, r.publish_p99, r.publish_p999)]
        quantiles = "/".join("n/a" if math.isnan(q) else f"{q:.0f}" for q in us)
        kept = "kept up" if r.kept_up else "NOT kept up"
        lines.append(
            f"{r.encoding + f', tick-to-publish p50/p99/p99.9 us @{r.rate:,.0f}/s':<52}"
            f"{quantiles:>12}  ({r.messages:,} messages, {kept}, {r.lost} lost)"
        )
    return "\n".join(lines) + "\n"
