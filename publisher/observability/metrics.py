"""Every ``ibpub_`` metric, built in one place around an injected ``CollectorRegistry``.

Hot-path metrics are label children bound once (one ``inc``/``observe`` per tick). Values that
are cheap to compute at scrape time (instrument states, last tick age) are computed by a custom
collector when Prometheus scrapes, from a :class:`StateView` the service provides.

The names, types and labels are contract v1 (``docs/metrics.md`` explains each one and what to
alert on). Label values are bounded: ``instrument`` by the configured instruments (or the single
value :data:`AGGREGATE_INSTRUMENT` when per-instrument labels are off), ``type`` by the three
message types, ``state`` by :data:`INSTRUMENT_STATES`, ``code`` by IB's set of message codes.
"""

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from publisher.observability.histogram import FastHistogram

# 5 us .. 1 s: fine where the publisher lives (tens to hundreds of us), so that quantiles read
# from the buckets (histogram_quantile, make bench) are not blurred across a 2.5x bucket.
LATENCY_BUCKETS: Final = (
    5e-6,
    10e-6,
    15e-6,
    20e-6,
    25e-6,
    30e-6,
    40e-6,
    50e-6,
    60e-6,
    75e-6,
    100e-6,
    125e-6,
    150e-6,
    200e-6,
    250e-6,
    300e-6,
    400e-6,
    500e-6,
    750e-6,
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
)
RTT_BUCKETS: Final = (
    1e-4,
    2.5e-4,
    5e-4,
    1e-3,
    2.5e-3,
    5e-3,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)
INSTRUMENT_STATES: Final = ("pending", "subscribed", "delayed", "stale", "failed")
AGGREGATE_INSTRUMENT: Final = "_all"
"""The single ``instrument`` label value used when per-instrument labels are turned off."""


class StateView(Protocol):
    """What the scrape-time collector reads from the service (under the GIL, no locks)."""

    def instrument_states(self) -> Mapping[str, str]: ...
    def last_tick_times(self) -> Mapping[str, float]:
        """Epoch seconds of each instrument's last tick (absent before its first)."""
        ...


@dataclass(frozen=True, slots=True)
class BuildInfo:
    """What ``ibpub_build_info`` carries: this package's, ibapi's and the wire schema's version."""

    version: str
    ibapi_version: str
    schema: int


class _ScrapeTimeCollector(Collector):
    """``ibpub_instruments{state}`` and ``ibpub_last_tick_age_seconds``, computed per scrape."""

    def __init__(self, view: StateView, clock: Callable[[], float], per_instrument: bool) -> None:
        self._view = view
        self._clock = clock
        self._per_instrument = per_instrument

    def collect(self) -> Iterable[Metric]:
        states = GaugeMetricFamily(
            "ibpub_instruments", "Configured instruments by state.", labels=["state"]
        )
        counts = dict.fromkeys(INSTRUMENT_STATES, 0)
        for state in list(self._view.instrument_states().values()):
            counts[state] = counts.get(state, 0) + 1
        for state, count in counts.items():
            states.add_metric([state], count)
        yield states
        age = GaugeMetricFamily(
            "ibpub_last_tick_age_seconds",
            "Seconds since the last tick of each instrument (absent before its first tick).",
            labels=["instrument"],
        )
        now = self._clock()
        last = dict(self._view.last_tick_times())
        if self._per_instrument:
            for key, at in sorted(last.items()):
                age.add_metric([key], max(0.0, now - at))
        elif last:
            age.add_metric([AGGREGATE_INSTRUMENT], max(0.0, now - max(last.values())))
        yield age

    def describe(self) -> Iterable[Metric]:
        # Describing lets the registry check names without calling collect() at registration.
        yield GaugeMetricFamily("ibpub_instruments", "", labels=["state"])
        yield GaugeMetricFamily("ibpub_last_tick_age_seconds", "", labels=["instrument"])


class PublisherMetrics:
    """The publisher's metrics. Create one per registry; tests use a fresh registry each."""

    def __init__(
        self,
        registry: CollectorRegistry,
        build: BuildInfo,
        *,
        per_instrument: bool = True,
    ) -> None:
        self.registry = registry
        self.per_instrument = per_instrument
        self.ticks = Counter(
            "ibpub_ticks", "Ticks published, per instrument.", ["instrument"], registry=registry
        )
        messages = Counter(
            "ibpub_messages_published",
            "Messages published on the bus, by type.",
            ["type"],
            registry=registry,
        )
        self.messages = {
            kind: messages.labels(kind)
            for kind in ("tick", "status", "hb", "tbt", "depth", "bar", "greeks")
        }
        self._depth_resyncs = Counter(
            "ibpub_depth_resyncs",
            "Depth changes the book could not take (each re-requests that depth stream).",
            ["instrument"],
            registry=registry,
        )
        # Observed once per tick: a FastHistogram, which exports exactly like a Histogram.
        self.tick_latency = FastHistogram(
            "ibpub_tick_latency_seconds",
            "From reading the gateway frame carrying a tick to handing the message to ZeroMQ.",
            LATENCY_BUCKETS,
            registry,
        )
        self.gateway_connected = Gauge(
            "ibpub_gateway_connected", "1 while the gateway API session is up.", registry=registry
        )
        self.reconnects = Counter(
            "ibpub_gateway_reconnects", "Reconnections to the gateway.", registry=registry
        )
        self._errors = Counter(
            "ibpub_gateway_errors",
            "Error and status messages from the gateway, by IB code.",
            ["code"],
            registry=registry,
        )
        self._error_children: dict[int, Counter] = {}
        self.gateway_rtt = Histogram(
            "ibpub_gateway_rtt_seconds",
            "Round trip of the periodic reqCurrentTime request to the gateway.",
            buckets=RTT_BUCKETS,
            registry=registry,
        )
        self.decode_errors = Counter(
            "ibpub_decode_errors",
            "Gateway frames that could not be framed or decoded.",
            registry=registry,
        )
        self.gateway_backlog = Gauge(
            "ibpub_gateway_backlog_bytes",
            "Bytes received from the gateway but not decoded yet (local socket buffer and a "
            "partial frame), at scrape time.",
            registry=registry,
        )
        self.gateway_behind = Gauge(
            "ibpub_gateway_behind_seconds",
            "How long every read of the gateway has found data waiting (the socket was not "
            "found empty): the publisher is behind the gateway; near 0 while it keeps up.",
            registry=registry,
        )
        self._control_requests = Counter(
            "ibpub_control_requests",
            "Control socket requests, by op and outcome (ok or the error code).",
            ["op", "outcome"],
            registry=registry,
        )
        self.lines_used = Gauge(
            "ibpub_lines_used",
            "IB market-data lines in use or asked for (instruments not failed), at scrape time.",
            registry=registry,
        )
        self.lines_budget = Gauge(
            "ibpub_lines_budget",
            "gateway.max_lines: the lines the publisher may hold.",
            registry=registry,
        )
        self.leases_active = Gauge(
            "ibpub_leases_active",
            "Unexpired holder leases on on-demand instruments, at scrape time.",
            registry=registry,
        )
        info = Info("ibpub_build", "Build information.", registry=registry)
        info.info(
            {
                "version": build.version,
                "ibapi_version": build.ibapi_version,
                "schema": str(build.schema),
            }
        )

    def instrument_counter(self, key: str) -> Counter:
        """The ``ibpub_ticks_total`` child for one instrument, to bind once per instrument."""
        return self.ticks.labels(key if self.per_instrument else AGGREGATE_INSTRUMENT)

    def depth_resync(self, key: str) -> None:
        """``ibpub_depth_resyncs_total``: one impossible depth change, its stream re-requested."""
        self._depth_resyncs.labels(key if self.per_instrument else AGGREGATE_INSTRUMENT).inc()

    def gateway_error(self, code: int) -> None:
        """Count one gateway error/status code (bounded by IB's set of codes)."""
        child = self._error_children.get(code)
        if child is None:
            child = self._error_children[code] = self._errors.labels(str(code))
        child.inc()

    def control_request(self, op: str, outcome: str) -> None:
        """Count one control request (``op`` among the contract's ops or ``unknown``,
        ``outcome`` ``ok`` or one of the contract's error codes: both bounded)."""
        self._control_requests.labels(op, outcome).inc()

    def watch_lines(
        self, used: Callable[[], float], budget: int, leases: Callable[[], float]
    ) -> None:
        """Read the line and lease gauges from the control book at scrape time."""
        self.lines_used.set_function(used)
        self.lines_budget.set(budget)
        self.leases_active.set_function(leases)

    def watch(self, view: StateView, clock: Callable[[], float] = time.time) -> None:
        """Register the scrape-time collector over the service's state."""
        self.registry.register(_ScrapeTimeCollector(view, clock, self.per_instrument))
