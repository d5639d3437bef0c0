"""ibpub subscribers: a client library for the ibpub bus and sample CLIs.

Needs only pyzmq and msgpack: nothing here imports ``publisher`` or ``ibapi``.
"""

from subscribers.client import (
    DEFAULT_ENDPOINT,
    DEFAULT_RCVHWM,
    DEFAULT_SNAPSHOT_ENDPOINT,
    SeqResult,
    SeqStatus,
    SeqTracker,
    Subscriber,
    SubscriberStats,
)
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
    "HEARTBEAT_PREFIX",
    "SCHEMA_VERSION",
    "STATUS_PREFIX",
    "TICK_PREFIX",
    "Heartbeat",
    "Message",
    "SeqResult",
    "SeqStatus",
    "SeqTracker",
    "Status",
    "Subscriber",
    "SubscriberStats",
    "Tick",
    "TickKind",
    "WireError",
    "decode",
    "format_line",
    "to_jsonable",
]
