"""The proxy's metrics: the forwarder's statistics, read when Prometheus scrapes."""

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from prometheus_client import CollectorRegistry, Info
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from publisher import __version__

FRAMES_PER_MESSAGE: Final = 2
"""Every bus message is ``[topic, payload]`` (contract v1); libzmq's statistics count frames."""


@dataclass(frozen=True, slots=True)
class ProxyStatistics:
    """The forwarder's cumulative counts since it started (libzmq counts frames, not messages)."""

    upstream_frames: int = 0
    """Frames received from the upstream publishers (and passed on to subscribers)."""
    upstream_bytes: int = 0
    downstream_frames: int = 0
    """Subscribe and unsubscribe frames received from subscribers (and passed upstream)."""
    downstream_bytes: int = 0

    def plus(self, other: "ProxyStatistics") -> "ProxyStatistics":
        """The counts of two forwarder runs together."""
        return ProxyStatistics(
            self.upstream_frames + other.upstream_frames,
            self.upstream_bytes + other.upstream_bytes,
            self.downstream_frames + other.downstream_frames,
            self.downstream_bytes + other.downstream_bytes,
        )

    @property
    def messages_forwarded(self) -> int:
        """Bus messages forwarded to subscribers (each is two frames)."""
        return self.upstream_frames // FRAMES_PER_MESSAGE

    @classmethod
    def from_reply(cls, frames: Sequence[bytes]) -> "ProxyStatistics":
        """Parse the ``STATISTICS`` reply: eight native-endian uint64 frames, frontend (XSUB)
        messages in, bytes in, messages out, bytes out, then the same for the backend (XPUB)."""
        if len(frames) != 8 or any(len(frame) != 8 for frame in frames):
            raise ValueError(f"unexpected STATISTICS reply: {len(frames)} frames")
        values = [struct.unpack("=Q", frame)[0] for frame in frames]
        return cls(
            upstream_frames=values[0],
            upstream_bytes=values[1],
            downstream_frames=values[4],
            downstream_bytes=values[5],
        )


class ProxyView(Protocol):
    """What the scrape-time collector reads from the service."""

    @property
    def upstreams(self) -> tuple[str, ...]: ...
    @property
    def upstreams_connected(self) -> int: ...
    @property
    def upstream_refusals(self) -> int: ...
    def statistics(self) -> ProxyStatistics: ...


class _ScrapeTimeCollector(Collector):
    def __init__(self, view: ProxyView) -> None:
        self._view = view

    def collect(self) -> Iterable[Metric]:
        stats = self._view.statistics()
        yield CounterMetricFamily(
            "ibpub_proxy_messages_forwarded",
            "Bus messages received from the upstream publishers and passed to subscribers.",
            value=stats.messages_forwarded,
        )
        yield CounterMetricFamily(
            "ibpub_proxy_bytes_forwarded",
            "Bytes of those messages (topic and payload frames).",
            value=stats.upstream_bytes,
        )
        yield CounterMetricFamily(
            "ibpub_proxy_subscription_messages",
            "Subscribe and unsubscribe messages from subscribers passed to the publishers.",
            value=stats.downstream_frames,
        )
        yield GaugeMetricFamily(
            "ibpub_proxy_upstreams",
            "Upstream publisher endpoints configured.",
            value=len(self._view.upstreams),
        )
        yield GaugeMetricFamily(
            "ibpub_proxy_upstreams_connected",
            "Upstream publisher connections currently established.",
            value=self._view.upstreams_connected,
        )
        yield CounterMetricFamily(
            "ibpub_proxy_upstream_refusals",
            "Upstream connections closed before their handshake succeeded (CURVE keys refused "
            "or mismatched).",
            value=self._view.upstream_refusals,
        )

    def describe(self) -> Iterable[Metric]:
        # Describing lets the registry check names without calling collect() at registration.
        yield CounterMetricFamily("ibpub_proxy_messages_forwarded", "")
        yield CounterMetricFamily("ibpub_proxy_bytes_forwarded", "")
        yield CounterMetricFamily("ibpub_proxy_subscription_messages", "")
        yield GaugeMetricFamily("ibpub_proxy_upstreams", "")
        yield GaugeMetricFamily("ibpub_proxy_upstreams_connected", "")
        yield CounterMetricFamily("ibpub_proxy_upstream_refusals", "")


class ProxyMetrics:
    """The proxy's metrics on ``registry``: scrape-time values from ``view`` and build info."""

    def __init__(self, registry: CollectorRegistry, view: ProxyView) -> None:
        self.registry = registry
        registry.register(_ScrapeTimeCollector(view))
        info = Info("ibpub_proxy_build", "Build information.", registry=registry)
        info.info({"version": __version__})
