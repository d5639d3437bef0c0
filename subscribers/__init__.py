"""ibpub subscribers: a client library for the ibpub bus and sample CLIs.

Needs only pyzmq and msgpack (pyarrow for ``ibsub record --format parquet``): nothing here
imports ``publisher`` or ``ibapi``. Start with :class:`Subscriber`; docs/subscribing.md has a
five-minute tour.
"""

from subscribers.book import TOP_FIELDS, Book, Quote
from subscribers.client import (
    DEFAULT_ENDPOINT,
    DEFAULT_RCVHWM,
    DEFAULT_SNAPSHOT_ENDPOINT,
    Subscriber,
    SubscriberStats,
)
from subscribers.curve import ENV_CLIENT_KEY, ENV_SERVER_KEY, CurveKeyError, CurveKeys
from subscribers.events import (
    Event,
    Gap,
    PublisherAlive,
    PublisherRestart,
    PublisherSilent,
    SnapshotApplied,
    SnapshotFailed,
    describe,
)
from subscribers.liveness import PublisherInfo
from subscribers.snapshot import Snapshot, SnapshotError, TopicSnapshot, fetch
from subscribers.tracking import SeqResult, SeqStatus, SeqTracker
from subscribers.wire import (
    HEARTBEAT_PREFIX,
    SCHEMA_VERSION,
    STATUS_PREFIX,
    TICK_PREFIX,
    Heartbeat,
    Message,
    Status,
    Tick,
    TickKind,
    WireError,
    decode,
    format_line,
    to_jsonable,
)

__all__ = [
    "DEFAULT_ENDPOINT",
    "DEFAULT_RCVHWM",
    "DEFAULT_SNAPSHOT_ENDPOINT",
    "ENV_CLIENT_KEY",
    "ENV_SERVER_KEY",
    "HEARTBEAT_PREFIX",
    "SCHEMA_VERSION",
    "STATUS_PREFIX",
    "TICK_PREFIX",
    "TOP_FIELDS",
    "Book",
    "CurveKeyError",
    "CurveKeys",
    "Event",
    "Gap",
    "Heartbeat",
    "Message",
    "PublisherAlive",
    "PublisherInfo",
    "PublisherRestart",
    "PublisherSilent",
    "Quote",
    "SeqResult",
    "SeqStatus",
    "SeqTracker",
    "Snapshot",
    "SnapshotApplied",
    "SnapshotError",
    "SnapshotFailed",
    "Status",
    "Subscriber",
    "SubscriberStats",
    "Tick",
    "TickKind",
    "TopicSnapshot",
    "WireError",
    "decode",
    "describe",
    "fetch",
    "format_line",
    "to_jsonable",
]
