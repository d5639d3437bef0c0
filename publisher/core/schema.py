"""The message schema, as the publisher sees it: the Structs of contract v1 and pure builders.

The schema is defined once, in :mod:`subscribers.schema` (msgspec Structs, importing only
msgspec): ``subscribers`` must import nothing from ``publisher``, so the one definition lives
on that side and this module re-exports it, adding what only a publisher needs. The bus
(:mod:`publisher.bus.publish`) encodes these Structs; an encoded Struct is byte-identical to
``msgpack.packb`` of the dict the publisher built before (tests/bus/test_publish.py).

Ticks are the exception, on purpose: the tick path builds each tick as one dict literal in the
contract's key order (:mod:`publisher.core.tickpath`), because a tick has optional keys and
msgspec writes a Struct with unset fields under a 16-bit map header (``de 00 0e``) where
msgpack writes a one-byte one (``8e``). That the literal follows this schema (it decodes as a
:class:`TickPayload`, its keys in the Struct's field order) is tested on its shape in
tests/bus/test_publish.py and on a live publisher's ticks in
tests/subscribers/test_schema_roundtrip.py.

Pure: no sockets, no clocks (``seq`` and ``ts`` are handed in by the bus).
"""

from subscribers.schema import (
    DATA_PREFIXES,
    HEARTBEAT_PREFIX,
    SCHEMA_VERSION,
    SID_LIMIT,
    STATUS_PREFIX,
    TICK_PREFIX,
    BusPayload,
    HeartbeatPayload,
    SnapshotBook,
    SnapshotRefusal,
    SnapshotReply,
    SnapshotRequest,
    SnapshotTopic,
    StatusPayload,
    TickPayload,
    payload_type,
)

__all__ = [
    "DATA_PREFIXES",
    "HEARTBEAT_PREFIX",
    "SCHEMA_VERSION",
    "SID_LIMIT",
    "STATUS_PREFIX",
    "TICK_PREFIX",
    "BusPayload",
    "HeartbeatPayload",
    "SnapshotBook",
    "SnapshotRefusal",
    "SnapshotReply",
    "SnapshotRequest",
    "SnapshotTopic",
    "StatusPayload",
    "TickPayload",
    "heartbeat_message",
    "payload_type",
    "status_message",
]


def status_message(
    *,
    pub: str,
    sid: int,
    seq: int,
    ts: int,
    scope: str,
    state: str,
    key: str | None = None,
    code: int | None = None,
    message: str = "",
) -> StatusPayload:
    """A whole ``status.<pub>`` payload: the envelope and a change of ``scope``'s ``state``.

    ``key`` names the instrument (scope ``instrument``), ``code`` the IB code behind the change.
    """
    return StatusPayload(
        v=SCHEMA_VERSION,
        type="status",
        pub=pub,
        sid=sid,
        seq=seq,
        ts=ts,
        scope=scope,
        state=state,
        key=key,
        code=code,
        message=message,
    )


def heartbeat_message(
    *, pub: str, sid: int, seq: int, ts: int, gateway: str, seqs: dict[str, int]
) -> HeartbeatPayload:
    """A whole ``hb.<pub>`` payload: the envelope, the gateway state, the tick topics' seqs."""
    return HeartbeatPayload(
        v=SCHEMA_VERSION, type="hb", pub=pub, sid=sid, seq=seq, ts=ts, gateway=gateway, seqs=seqs
    )
