"""The pure part of ``ibsub latency``: recording latencies and reporting their quantiles.

:class:`LatencyRecorder` is a log-bucketed histogram (constant memory, each reported quantile
within 0.5 % of the exact value), so a long run at a high rate costs no more than a short one.
Values in, values out: no sockets, no clock.
"""

import json
import math
from dataclasses import dataclass
from typing import Any, Final

QUANTILES: Final = (0.5, 0.9, 0.99, 0.999)
QUANTILE_NAMES: Final = ("p50", "p90", "p99", "p99.9")

RELATIVE_ERROR: Final = 0.01
"""Width of one :class:`LatencyRecorder` bucket: a reported quantile is within half of it."""
_SCALE: Final = 1.0 / math.log1p(RELATIVE_ERROR)
_ZERO: Final = -1
"""The bucket of latencies of 0 ns (and negative ones, clamped)."""


class LatencyRecorder:
    """Latencies in nanoseconds, kept as counts in logarithmic buckets 1 % wide."""

    __slots__ = ("_buckets", "count", "max_ns", "min_ns", "negative")

    def __init__(self) -> None:
        self._buckets: dict[int, int] = {}
        self.count = 0
        self.negative = 0
        """Latencies below zero (clock skew between publisher and subscriber), recorded as 0."""
        self.min_ns = 0
        self.max_ns = 0

    def record(self, ns: int) -> None:
        """Add one latency."""
        if ns <= 0:
            if ns < 0:
                self.negative += 1
            ns = 0
            index = _ZERO
        else:
            index = int(math.log(ns) * _SCALE)
        buckets = self._buckets
        buckets[index] = buckets.get(index, 0) + 1
        if self.count == 0:
            self.min_ns = self.max_ns = ns
        elif ns > self.max_ns:
            self.max_ns = ns
        elif ns < self.min_ns:
            self.min_ns = ns
        self.count += 1

    def quantile(self, q: float) -> float:
        """The nearest-rank ``q`` quantile in ns (0 < q <= 1), within 0.5 %; nan when empty."""
        if not 0 < q <= 1:
            raise ValueError(f"quantile must be in (0, 1], not {q}")
        if self.count == 0:
            return math.nan
        rank = math.ceil(q * self.count)
        seen = 0
        for index in sorted(self._buckets):
            seen += self._buckets[index]
            if seen >= rank:
                if index == _ZERO:
                    return 0.0
                middle = math.exp((index + 0.5) / _SCALE)
                return min(max(middle, float(self.min_ns)), float(self.max_ns))
        return float(self.max_ns)  # unreachable: the counts add up to count

    def merge(self, other: "LatencyRecorder") -> None:
        """Add every latency ``other`` recorded."""
        if other.count == 0:
            return
        for index, n in other._buckets.items():
            self._buckets[index] = self._buckets.get(index, 0) + n
        if self.count == 0:
            self.min_ns, self.max_ns = other.min_ns, other.max_ns
        else:
            self.min_ns = min(self.min_ns, other.min_ns)
            self.max_ns = max(self.max_ns, other.max_ns)
        self.count += other.count
        self.negative += other.negative


@dataclass(frozen=True, slots=True)
class Report:
    """The figures of one interval, or of the whole run (``window`` ``"total"``)."""

    window: str
    seconds: float
    messages: int
    gaps: int
    lost: int
    quantiles_ns: tuple[float, ...]
    """One value per :data:`QUANTILES`, nan when no message arrived."""
    max_ns: int
    negative: int

    @property
    def rate(self) -> float:
        """Messages per second over the window."""
        return self.messages / self.seconds if self.seconds > 0 else 0.0


def make_report(
    window: str, seconds: float, recorder: LatencyRecorder, gaps: int, lost: int
) -> Report:
    """Freeze a recorder's figures into a :class:`Report`."""
    return Report(
        window=window,
        seconds=seconds,
        messages=recorder.count,
        gaps=gaps,
        lost=lost,
        quantiles_ns=tuple(recorder.quantile(q) for q in QUANTILES),
        max_ns=recorder.max_ns,
        negative=recorder.negative,
    )


def format_duration(ns: float) -> str:
    """A latency for people: ``850ns``, ``45.1us``, ``1.20ms``, ``2.500s``; ``-`` for nan."""
    if math.isnan(ns):
        return "-"
    if ns < 1e3:
        return f"{ns:.0f}ns"
    if ns < 1e6:
        return f"{ns / 1e3:.1f}us"
    if ns < 1e9:
        return f"{ns / 1e6:.2f}ms"
    return f"{ns / 1e9:.3f}s"


def format_report(report: Report) -> str:
    """One line: window, messages, rate, gaps, lost, quantiles and maximum."""
    head = (
        f"{report.window:<8} {report.seconds:7.1f}s  msgs {report.messages:<9} "
        f"{report.rate:10.1f}/s  gaps {report.gaps:<5} lost {report.lost:<7}"
    )
    if not report.messages:
        return head + " latency -"
    quantiles = "  ".join(
        f"{name} {format_duration(value)}"
        for name, value in zip(QUANTILE_NAMES, report.quantiles_ns, strict=True)
    )
    line = f"{head} latency {quantiles}  max {format_duration(report.max_ns)}"
    if report.negative:
        line += f"  (negative {report.negative}: clocks disagree)"
    return line


def report_json(report: Report) -> str:
    """One JSON object: the report's figures, latencies in microseconds (null when none)."""
    body: dict[str, Any] = {
        "window": report.window,
        "seconds": round(report.seconds, 3),
        "messages": report.messages,
        "rate": round(report.rate, 1),
        "gaps": report.gaps,
        "lost": report.lost,
    }
    for name, value in zip(QUANTILE_NAMES, report.quantiles_ns, strict=True):
        body[f"{name}_us"] = None if math.isnan(value) else round(value / 1e3, 3)
    body["max_us"] = round(report.max_ns / 1e3, 3) if report.messages else None
    body["negative"] = report.negative
    return json.dumps(body, separators=(",", ":"))
