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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bench.depth_frames import BOOKS, ROWS
from bench.handles import Feed, HelperError, subscriber
from bench.publisher import PublisherProcess
from bench.scenarios import Plan, Run
from bench.targets import Ibpub, Stock
from publisher.sim.burst import ENCODINGS

DEPTH_RATE: Final = 10_000
"""Frames/s of the latency step: 1,000 book updates a second on each of the 10 books."""
PUBLISHER_CLIENT_ID: Final = 7
START_TIMEOUT: Final = 60.0
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
    error: str = ""


def measure(
    encoding: str, plan: Plan, workdir: Path, log: Callable[[str], None], frames: int
) -> DepthResult:
    """The depth row for one encoding; a publisher without depth gives a result with ``error``."""
    version = ENCODINGS[encoding]
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
                return DepthResult(encoding, error=f"ibpub made no {BOOKS} depth requests ({said})")
            prepared = feed.prepare(session.session, frames, plan.seed, kind="depth")
            sub = subscriber(publisher.endpoint, prefix=b"depth.")
            try:
                ibpub = Ibpub(publisher, session.session, sub)
                run = Run(feed, prepared.callbacks, plan)
                run.step(ibpub, min(DEPTH_RATE, plan.first_rate), plan.step_seconds)
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
