"""``ibpub_bridge_*`` metrics: built in one place, on the registry the bridge is handed."""

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge

__all__ = ["BridgeMetrics"]


@dataclass(frozen=True, slots=True)
class BridgeMetrics:
    """The bridge's counters and gauges (label ``bridge``: ``[bridge] name``)."""

    received: Counter
    copied: Counter
    acknowledged: Counter
    duplicates: Counter
    dropped: Counter
    gaps: Counter
    lost: Counter
    malformed: Counter
    publish_errors: Counter
    behind: Gauge
    connected: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry, name: str) -> "BridgeMetrics":
        def counter(metric: str, text: str) -> Counter:
            return Counter(metric, text, ["bridge"], registry=registry)

        def gauge(metric: str, text: str) -> Gauge:
            return Gauge(metric, text, ["bridge"], registry=registry)

        made = cls(
            received=counter("ibpub_bridge_received", "Bus messages received"),
            copied=counter("ibpub_bridge_copied", "Messages published to JetStream"),
            acknowledged=counter(
                "ibpub_bridge_acknowledged", "Messages JetStream acknowledged as stored"
            ),
            duplicates=counter(
                "ibpub_bridge_duplicates", "Acknowledged as duplicates (Nats-Msg-Id seen before)"
            ),
            dropped=counter(
                "ibpub_bridge_dropped", "Messages dropped (oldest first) while NATS was away"
            ),
            gaps=counter("ibpub_bridge_gaps", "Gap messages stored for losses"),
            lost=counter("ibpub_bridge_lost_messages", "Bus messages the stored gaps cover"),
            malformed=counter("ibpub_bridge_malformed", "Bus messages without pub/sid/seq"),
            publish_errors=counter(
                "ibpub_bridge_publish_errors", "Publishes not acknowledged in time (retried)"
            ),
            behind=gauge(
                "ibpub_bridge_behind_messages", "Messages received but not yet acknowledged"
            ),
            connected=gauge("ibpub_bridge_nats_connected", "1 while connected to NATS"),
        )
        for metric in (
            made.received,
            made.copied,
            made.acknowledged,
            made.duplicates,
            made.dropped,
            made.gaps,
            made.lost,
            made.malformed,
            made.publish_errors,
        ):
            metric.labels(name)
        made.behind.labels(name).set(0)
        made.connected.labels(name).set(0)
        return made
