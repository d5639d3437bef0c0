"""What the metrics cost on the hot path, in microseconds per tick.

    .venv/bin/python -m bench.metrics_cost [--ticks N] [--repeats R]

Runs the publisher's real per-tick path (``TickPath.on_price``: normalise, envelope, msgpack,
two ZeroMQ sends on a bound PUB socket, flushed every :data:`TICKS_PER_READ` ticks as after a
gateway read) three ways and prints the median of R runs of N ticks:

* ``with metrics``: as the service wires it (the ``ibpub_tick_latency_seconds`` histogram per
  tick; the bound ``ibpub_ticks_total`` child and ``ibpub_messages_published_total{type="tick"}``
  once per read);
* ``without metrics``: the same path with no-op stand-ins for the metric calls;
* ``metric calls alone``: just those calls, per tick, for the isolated figure.

The PUB socket has no subscriber, so the send cost is ZeroMQ's fast path; the difference between
the first two lines is what the metrics add to each tick.
"""

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any, Final

import zmq
from prometheus_client import CollectorRegistry

from publisher.bus.publish import Bus
from publisher.config import InstrumentSpec
from publisher.core.instruments import SUBSCRIBED, Instrument
from publisher.core.tickpath import TickPath
from publisher.gateway.ticktypes import IBAPI_TICK_NAMES
from publisher.observability.metrics import BuildInfo, PublisherMetrics

TICKS_PER_READ: Final = 16
"""Ticks between flushes: about one gateway read's worth at a few thousand ticks a second."""


class _Nothing:
    """Accepts the metric calls the tick path makes and does nothing."""

    def inc(self, amount: float = 1) -> None:
        pass

    def observe(self, amount: float) -> None:
        pass

    def observe_many(self, amount: float, count: int) -> None:
        pass


def _tick_path(context: zmq.Context[Any], *, metrics: bool) -> tuple[TickPath, Callable[[], None]]:
    """A TickPath on a fresh PUB socket, with real or no-op metrics; returns (path, close)."""
    real = PublisherMetrics(CollectorRegistry(), BuildInfo("bench", "bench", 1))
    nothing = _Nothing()
    on_sent = (lambda kind: real.messages[kind].inc()) if metrics else (lambda kind: nothing.inc())
    bus = Bus(
        name="bench",
        endpoints=["tcp://127.0.0.1:0"],
        send_hwm=100_000,
        context=context,
        on_sent=on_sent,
    )
    latency: Any = real.tick_latency if metrics else nothing
    counter: Any = real.instrument_counter("AAPL") if metrics else nothing
    messages: Any = real.messages["tick"] if metrics else nothing
    instrument = Instrument(InstrumentSpec(key="AAPL", sec_type="STK", symbol="AAPL"), counter)
    instrument.state = SUBSCRIBED
    instrument.con_id = 265598
    path = TickPath(
        bus,
        latency,
        time.time_ns,
        lambda inst: None,
        by_req={1: instrument},
        tick_names=IBAPI_TICK_NAMES,
        tick_messages=messages,
    )
    return path, bus.close


def _time_path(path: TickPath, ticks: int) -> float:
    on_price = path.on_price
    flush = path.flush
    start = time.perf_counter_ns()
    for i in range(ticks):
        on_price(1, 1, 100.0 + (i & 63) * 0.01, 0)
        if i % TICKS_PER_READ == TICKS_PER_READ - 1:
            flush()
    flush()
    return (time.perf_counter_ns() - start) / ticks / 1e3


def _time_metric_calls(ticks: int) -> float:
    real = PublisherMetrics(CollectorRegistry(), BuildInfo("bench", "bench", 1))
    inc = real.instrument_counter("AAPL").inc
    observe = real.tick_latency.observe
    message = real.messages["tick"].inc
    start = time.perf_counter_ns()
    for i in range(ticks):
        observe(25e-6)
        if i % TICKS_PER_READ == TICKS_PER_READ - 1:
            message(TICKS_PER_READ)
            inc(TICKS_PER_READ)
    return (time.perf_counter_ns() - start) / ticks / 1e3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ticks", type=int, default=200_000, help="ticks per run")
    parser.add_argument("--repeats", type=int, default=7, help="runs per variant (median shown)")
    args = parser.parse_args(argv)
    context: zmq.Context[Any] = zmq.Context()
    results: dict[str, list[float]] = {"with": [], "without": [], "calls": []}
    try:
        for _ in range(args.repeats):  # interleaved, so drift on a busy host hits all three
            for name, metrics in (("with", True), ("without", False)):
                path, close = _tick_path(context, metrics=metrics)
                try:
                    _time_path(path, args.ticks // 10)  # warm up
                    results[name].append(_time_path(path, args.ticks))
                finally:
                    close()
            results["calls"].append(_time_metric_calls(args.ticks))
    finally:
        context.term()
    with_m, without_m = (statistics.median(results[k]) for k in ("with", "without"))
    calls = statistics.median(results["calls"])
    python = sys.version.split()[0]
    print(f"per tick, median of {args.repeats} runs of {args.ticks} ticks (Python {python}):")
    print(f"  with metrics        {with_m:6.2f} us")
    print(f"  without metrics     {without_m:6.2f} us")
    share = (with_m / without_m - 1) * 100
    print(f"  metrics add         {with_m - without_m:6.2f} us ({share:.0f} %)")
    print(f"  metric calls alone  {calls:6.2f} us (1 observe; 2 counter inc per read)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
