"""``ibpub_refused_total{door, reason}``: what each door turned away, counted at scrape time.

The doors keep plain counts of what they refused: the HTTP server in a :class:`Tally` (its
handler threads bump it), the snapshot and control sockets in a dict of their own (only the
service thread touches them); this collector reads them when Prometheus scrapes, so a refusal
costs one dict increment and the doors need no Prometheus objects. ``door`` is bounded by the
doors and ``reason`` by the few reasons each door has (``docs/metrics.md``).
"""

import threading
from collections.abc import Callable, Iterable, Mapping

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

NAME = "ibpub_refused"
Counts = Callable[[], Mapping[str, int]]
"""A door's refusal counts by reason (read at scrape time)."""


class Tally:
    """Refusal counts by reason; safe to bump from any thread."""

    __slots__ = ("_counts", "_lock")

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def bump(self, reason: str) -> None:
        with self._lock:
            self._counts[reason] = self._counts.get(reason, 0) + 1

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


class RefusalCollector(Collector):
    """Exports each door's counts as one counter family."""

    def __init__(self, doors: Mapping[str, Counts]) -> None:
        self._doors = dict(doors)

    def collect(self) -> Iterable[Metric]:
        family = CounterMetricFamily(
            NAME,
            "Requests, messages and connections a door refused (garbage, too big, busy, slow).",
            labels=("door", "reason"),
        )
        for door, counts in self._doors.items():
            for reason, count in sorted(counts().items()):
                family.add_metric((door, reason), count)
        yield family

    def describe(self) -> Iterable[Metric]:
        return [CounterMetricFamily(NAME, "", labels=("door", "reason"))]
