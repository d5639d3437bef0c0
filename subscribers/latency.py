"""``ibsub latency``: publish-to-receipt latency, message rates and loss, printed and exported.

For each message the command takes ``now - ts``: ``ts`` is the publisher's publish time, so the
figure covers ZeroMQ, the network and this process's receive queue. Across hosts it is only as
good as the agreement of the two clocks (run chrony or PTP); a message that seems to arrive
before it was sent is counted as ``negative`` and recorded as 0. Gaps and lost messages come
from ``seq``, through the subscriber library's :class:`~subscribers.client.SeqTracker`.

Every ``--interval`` seconds one line reports that interval: messages, rate, gaps, lost and the
latency quantiles p50, p90, p99 and p99.9 with the maximum; at exit one line reports the whole
run. With ``--metrics-listen HOST:PORT`` the same figures are served for Prometheus as
``ibsub_latency_seconds`` (histogram), ``ibsub_messages_total``, ``ibsub_gaps_total`` and
``ibsub_lost_messages_total``.

The quantiles come from :class:`~subscribers.latency_report.LatencyRecorder`, a log-bucketed
histogram (constant memory, within 0.5 % of the exact value).
"""

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TextIO

import zmq

from subscribers.client import DEFAULT_ENDPOINT, Subscriber
from subscribers.connect import connection_from_args
from subscribers.curve import CurveKeys
from subscribers.endpoints import format_listen
from subscribers.endpoints import parse_listen as parse_listen  # still importable from here
from subscribers.latency_report import (
    LatencyRecorder,
    Report,
    format_report,
    make_report,
    report_json,
)

if TYPE_CHECKING:  # prometheus-client is imported only when --metrics-listen asks for it
    from prometheus_client import CollectorRegistry

EXIT_OK: Final = 0
EXIT_ERROR: Final = 1

DEFAULT_INTERVAL: Final = 5.0
METRIC_BUCKETS: Final = (
    5e-6,
    10e-6,
    25e-6,
    50e-6,
    100e-6,
    250e-6,
    500e-6,
    1e-3,
    2.5e-3,
    5e-3,
    10e-3,
    25e-3,
    50e-3,
    100e-3,
    250e-3,
    500e-3,
    1.0,
    2.5,
    5.0,
    10.0,
)
"""``ibsub_latency_seconds`` buckets: the publisher's 5 us .. 1 s, then up to 10 s for a
subscriber that falls behind or sits across a slow link."""

DESCRIPTION: Final = """\
Measure publish-to-receipt latency (the message's ts to now), message rates, gaps and lost
messages, and print them every few seconds.

Each PREFIX is a ZeroMQ subscription (byte prefix): 'tick.' measures every instrument,
'tick.AAPL' one. With no PREFIX every topic is measured (ticks, status, heartbeats)."""

EPILOG: Final = """\
examples:
  ibsub latency tick.                               every instrument, a line every 5 s
  ibsub latency --interval 1 --duration 60 tick.AAPL
  ibsub latency --json --count 100000 > latency.jsonl
  ibsub latency --metrics-listen 127.0.0.1:9701     also serve ibsub_* metrics for Prometheus

output:
  One line per interval, then one for the whole run ("total"): elapsed seconds, messages and
  their rate, gaps (times a topic's seq skipped ahead) and lost (messages skipped), then the
  latency quantiles p50 p90 p99 p99.9 and the maximum. Latency is measured against this host's
  clock; across hosts it is only as good as clock synchronisation (chrony, PTP). With --json,
  one JSON object per line with the same figures (latencies in microseconds).

exit status:
  0  clean stop: --count or --duration reached, Ctrl-C or SIGTERM
  1  error: a bad endpoint, --metrics-listen address unavailable
  2  usage error"""


# -- the Prometheus side -------------------------------------------------------------------------


class LatencyMetrics:
    """The ``ibsub_`` metrics on an injected registry (children bound once, as in the publisher)."""

    def __init__(self, registry: "CollectorRegistry") -> None:
        # Imported here so `ibsub tail` and friends do not pay for prometheus-client.
        from prometheus_client import Counter, Histogram

        self.registry = registry
        self.latency = Histogram(
            "ibsub_latency_seconds",
            "From a message's publish time (ts) to its receipt by this subscriber.",
            buckets=METRIC_BUCKETS,
            registry=registry,
        )
        self.messages = Counter(
            "ibsub_messages", "Messages received (duplicates excluded).", registry=registry
        )
        self.gaps = Counter(
            "ibsub_gaps", "Times a topic's seq skipped ahead (a gap).", registry=registry
        )
        self.lost = Counter(
            "ibsub_lost_messages", "Messages lost in gaps (seq numbers skipped).", registry=registry
        )


class MetricsEndpoint:
    """``/metrics`` for a registry on ``host:port`` in a daemon thread, until :meth:`close`."""

    def __init__(self, listen: str, registry: "CollectorRegistry") -> None:
        from prometheus_client import start_http_server

        host, port = parse_listen(listen)
        self._server, self._thread = start_http_server(port, host, registry)
        self.port: int = self._server.server_port
        self.url = f"http://{format_listen(host, self.port)}/metrics"

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


# -- options and the loop --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LatencyOptions:
    """What ``ibsub latency`` was asked to do, parsed once from argv."""

    endpoint: str = DEFAULT_ENDPOINT
    prefixes: tuple[str, ...] = ("",)
    interval: float = DEFAULT_INTERVAL
    count: int | None = None
    duration: float | None = None
    metrics_listen: str | None = None
    json: bool = False
    curve: CurveKeys | None = None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text}")
    return value


def _listen(text: str) -> str:
    try:
        parse_listen(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def add_parser(
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
    parents: Sequence[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add the ``latency`` subcommand to ``ibsub``'s subparsers; returns its parser."""
    parser = commands.add_parser(
        "latency",
        parents=list(parents),
        help="measure publish-to-receipt latency, rates and loss",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "prefixes",
        nargs="*",
        metavar="PREFIX",
        help="topic prefixes to measure (default: every topic)",
    )
    parser.add_argument(
        "--interval",
        type=_positive_seconds,
        default=DEFAULT_INTERVAL,
        metavar="SECONDS",
        help=f"seconds between report lines (default {DEFAULT_INTERVAL:g})",
    )
    parser.add_argument(
        "--count", type=_positive_int, metavar="N", help="stop (status 0) after N messages"
    )
    parser.add_argument(
        "--duration", type=_positive_seconds, metavar="SECONDS", help="stop after SECONDS"
    )
    parser.add_argument(
        "--metrics-listen",
        type=_listen,
        metavar="HOST:PORT",
        help="serve ibsub_* metrics at http://HOST:PORT/metrics (port 0 picks one)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print each report as one JSON object per line"
    )
    return parser


def options_from_args(args: argparse.Namespace) -> LatencyOptions:
    """Turn parsed ``latency`` arguments into :class:`LatencyOptions`.

    Raises :class:`~subscribers.curve.CurveKeyError` when the CURVE options are unusable.
    """
    prefixes: list[str] = args.prefixes
    return LatencyOptions(
        curve=connection_from_args(args).curve,
        endpoint=args.endpoint,
        prefixes=tuple(prefixes) or ("",),
        interval=args.interval,
        count=args.count,
        duration=args.duration,
        metrics_listen=args.metrics_listen,
        json=args.json,
    )


def run_latency(
    options: LatencyOptions,
    out: TextIO,
    err: TextIO,
    *,
    registry: "CollectorRegistry | None" = None,
) -> int:
    """Measure until ``--count``, ``--duration`` or Ctrl-C/SIGTERM; returns the exit status.

    ``registry`` is the Prometheus registry for ``--metrics-listen`` (a fresh one when None).
    """
    try:
        subscriber = Subscriber(options.endpoint, prefixes=options.prefixes, curve=options.curve)
    except zmq.ZMQError as exc:
        print(f"ibsub: error: cannot connect to {options.endpoint!r}: {exc.strerror}", file=err)
        return EXIT_ERROR
    with subscriber:
        metrics: LatencyMetrics | None = None
        endpoint: MetricsEndpoint | None = None
        if options.metrics_listen is not None:
            if registry is None:
                from prometheus_client import CollectorRegistry

                registry = CollectorRegistry()
            metrics = LatencyMetrics(registry)
            try:
                endpoint = MetricsEndpoint(options.metrics_listen, registry)
            except OSError as exc:
                print(
                    f"ibsub: error: cannot serve metrics on {options.metrics_listen}: "
                    f"{exc.strerror or exc}",
                    file=err,
                )
                return EXIT_ERROR
            print(f"ibsub: metrics at {endpoint.url}", file=err, flush=True)
        try:
            _Measurement(subscriber, options, out, metrics).run()
        finally:
            if endpoint is not None:
                endpoint.close()
    return EXIT_OK


class _Measurement:
    """The receive loop: record each message, report each interval, summarise at the end."""

    def __init__(
        self,
        subscriber: Subscriber,
        options: LatencyOptions,
        out: TextIO,
        metrics: LatencyMetrics | None,
        clock: Callable[[], float] = time.monotonic,
        now_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self._subscriber = subscriber
        self._options = options
        self._out = out
        self._metrics = metrics
        self._clock = clock
        self._now_ns = now_ns
        self._total = LatencyRecorder()
        self._window = LatencyRecorder()
        self._gaps = self._lost = 0  # tracker totals at the last report
        self._seen_gaps = self._seen_lost = 0  # tracker totals already exported

    def run(self) -> None:
        options = self._options
        start = window_start = self._clock()
        next_report = start + options.interval
        end = None if options.duration is None else start + options.duration
        try:
            while True:
                now = self._clock()
                if now >= next_report:
                    self._report("interval", now - window_start)
                    window_start = now
                    # Skip reports missed while busy rather than print a burst of them.
                    next_report = max(next_report + options.interval, now + 1e-3)
                if end is not None and now >= end:
                    break
                if options.count is not None and self._total.count + self._window.count >= (
                    options.count
                ):
                    break
                wait = next_report if end is None else min(next_report, end)
                msg = self._subscriber.recv(max(0.0, wait - now))
                if msg is not None:
                    self._record(self._now_ns() - msg.ts)
        except KeyboardInterrupt:
            pass  # Ctrl-C or SIGTERM: still print what was measured
        now = self._clock()
        if self._window.count or now - window_start > 0.1 * options.interval:
            self._report("interval", now - window_start)
        tracker = self._subscriber.seq
        self._emit(make_report("total", now - start, self._total, tracker.gaps, tracker.lost))

    def _record(self, latency_ns: int) -> None:
        self._window.record(latency_ns)
        metrics = self._metrics
        if metrics is None:
            return
        metrics.latency.observe(max(0, latency_ns) * 1e-9)
        metrics.messages.inc()
        tracker = self._subscriber.seq
        if tracker.gaps != self._seen_gaps:
            metrics.gaps.inc(tracker.gaps - self._seen_gaps)
            metrics.lost.inc(tracker.lost - self._seen_lost)
            self._seen_gaps, self._seen_lost = tracker.gaps, tracker.lost

    def _report(self, window: str, seconds: float) -> None:
        tracker = self._subscriber.seq
        self._emit(
            make_report(
                window, seconds, self._window, tracker.gaps - self._gaps, tracker.lost - self._lost
            )
        )
        self._gaps, self._lost = tracker.gaps, tracker.lost
        self._total.merge(self._window)
        self._window = LatencyRecorder()

    def _emit(self, report: Report) -> None:
        line = report_json(report) if self._options.json else format_report(report)
        self._out.write(line + "\n")
        self._out.flush()
