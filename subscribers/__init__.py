"""ibpub subscribers: a client library for the ibpub bus and sample CLIs.

Needs only pyzmq and msgpack (pyarrow for ``ibsub record --format parquet``): nothing here
imports ``publisher`` or ``ibapi``. Start with :class:`Subscriber` (or :class:`AsyncSubscriber`
for asyncio); docs/subscribing.md has a five-minute tour.
"""

from subscribers.aio import AsyncSubscriber
from subscribers.book import TOP_FIELDS, Book, Quote
from subscribers.client import (
    DEFAULT_ENDPOINT,
    DEFAULT_RCVHWM,
    DEFAULT_SNAPSHOT_ENDPOINT,
    Subscriber,
    SubscriberStats,
)
from subscribers.control import (
    DEFAULT_CONTROL_ENDPOINT,
    ControlClient,
    ControlError,
    ControlTimeoutError,
    default_client_name,
)
from subscribers.curve import ENV_CLIENT_KEY, ENV_SERVER_KEY, CurveKeyError, CurveKeys
from subscribers.depth import DepthBook
from subscribers.events import (
    BookResync,
    BookSynced,
    Event,
    Gap,
    PublisherAlive,
    PublisherRestart,
    PublisherSilent,
    Requested,
    RequestFailed,
    SnapshotApplied,
    SnapshotFailed,
    describe,
)
from subscribers.leases import Held, Wanted
from subscribers.liveness import PublisherInfo
from subscribers.schema import Candidate, ListReply, SubscribeReply
from subscribers.snapshot import Snapshot, SnapshotError, TopicSnapshot, fetch
from subscribers.tracking import SeqResult, SeqStatus, SeqTracker
from subscribers.wire import (
    HEARTBEAT_PREFIX,
    SCHEMA_VERSION,
    STATUS_PREFIX,
    TICK_PREFIX,
    Bar,
    Depth,
    Greeks,
    Heartbeat,
    Message,
    Status,
    Tbt,
    Tick,
    TickKind,
    WireError,
    decode,
    format_line,
    to_jsonable,
)

__all__ = [
    "DEFAULT_CONTROL_ENDPOINT",
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
    "AsyncSubscriber",
    "Bar",
    "Book",
    "BookResync",
    "BookSynced",
    "Candidate",
    "ControlClient",
    "ControlError",
    "ControlTimeoutError",
    "CurveKeyError",
    "CurveKeys",
    "Depth",
    "DepthBook",
    "Event",
    "Gap",
    "Greeks",
    "Heartbeat",
    "Held",
    "ListReply",
    "Message",
    "PublisherAlive",
    "PublisherInfo",
    "PublisherRestart",
    "PublisherSilent",
    "Quote",
    "RequestFailed",
    "Requested",
    "SeqResult",
    "SeqStatus",
    "SeqTracker",
    "Snapshot",
    "SnapshotApplied",
    "SnapshotError",
    "SnapshotFailed",
    "Status",
    "SubscribeReply",
    "Subscriber",
    "SubscriberStats",
    "Tbt",
    "Tick",
    "TickKind",
    "TopicSnapshot",
    "Wanted",
    "WireError",
    "decode",
    "default_client_name",
    "describe",
    "fetch",
    "format_line",
    "to_jsonable",
]
