"""The ibpub wire schema, contract v1 (+ the 1.1 additions): every payload as a msgspec Struct.

This module is the one definition of what travels on the bus and the snapshot socket; both ends
use it. The publisher builds and encodes these Structs (``publisher.core.schema`` re-exports them,
since ``subscribers`` must import nothing from ``publisher`` and the schema has to live on this
side); the subscriber decodes into them with ``msgspec.msgpack.Decoder(TickPayload)`` and so on
(:mod:`subscribers.wire`, :mod:`subscribers.snapshot`), then applies the few checks that span
fields or frames (the topic, exactly one of ``price``/``size``/``value``).

Why the Structs look the way they do:

* Field order is the contract's key order. msgspec writes a Struct's fields in definition order,
  so an encoded Struct is byte-identical to ``msgpack.packb`` of the dict the publisher built
  before this module existed (tests/bus/test_publish.py proves it for every message type).
* No field has a default unless the contract lets the key be absent, because a default would
  let a decoder accept a payload that lacks the key. Absent-but-allowed keys (a tick's one datum,
  ``attrib``, the 1.1 snapshot ``states``) default to ``msgspec.UNSET``, which is never encoded:
  absent stays absent and ``nil`` stays ``nil`` (a price of nil is IB's "no price").
* Unknown keys are ignored (msgspec's default), as contract 1.1 demands of every subscriber.
  Unknown message *types* are the caller's to tolerate: :func:`payload_type` names the Struct for
  a topic and says None for a topic prefix this schema does not know.
* ``v`` is ``Literal[1]`` and ``type`` a one-value ``Literal``, so the typed decoder checks both.
* msgspec converts an int to a ``float`` field silently; the float fields therefore also admit
  ``int``, so that a decoder can tell an int (which contract v1 does not allow there) from a float
  and reject it (see :mod:`subscribers.wire`).

Only msgspec is imported: a subscriber host needs nothing of the publisher.
"""

from typing import Annotated, Final, Generic, Literal, TypeAlias, TypeVar

from msgspec import UNSET, Meta, Struct, UnsetType

SCHEMA_VERSION: Final = 1
TICK_PREFIX: Final = "tick."
STATUS_PREFIX: Final = "status."
HEARTBEAT_PREFIX: Final = "hb."
SID_LIMIT: Final = 2**63
"""A session id is in ``0 < sid < SID_LIMIT``."""

Version: TypeAlias = Literal[1]
SessionId: TypeAlias = Annotated[int, Meta(gt=0, le=SID_LIMIT - 1)]
"""Random, new at every publisher start."""
Seq: TypeAlias = Annotated[int, Meta(ge=1)]
"""1, 2, 3 ... per topic within one session."""
WireFloat: TypeAlias = float | int
"""A float on the wire; ``int`` is admitted only so a decoder can see (and refuse) one."""


class TickPayload(Struct, kw_only=True, frozen=True, gc=False):
    """``tick.<key>``: one normalised tick; exactly one of ``price``, ``size``, ``value``."""

    v: Version
    type: Literal["tick"]
    pub: str
    sid: SessionId
    seq: Seq
    ts: int
    key: str
    conid: int
    field: str
    tick_type: int
    price: WireFloat | UnsetType | None = UNSET
    size: WireFloat | UnsetType | None = UNSET
    value: float | int | str | UnsetType = UNSET
    attrib: int | UnsetType = UNSET
    mdt: int
    ts_recv: int


class StatusPayload(Struct, kw_only=True, frozen=True, gc=False):
    """``status.<pub>``: a change of state of the gateway, an instrument or the publisher."""

    v: Version
    type: Literal["status"]
    pub: str
    sid: SessionId
    seq: Seq
    ts: int
    scope: str
    state: str
    key: str | None
    code: int | None
    message: str


class HeartbeatPayload(Struct, kw_only=True, frozen=True):
    """``hb.<pub>``: the gateway's state and the last ``seq`` of every tick topic."""

    v: Version
    type: Literal["hb"]
    pub: str
    sid: SessionId
    seq: Seq
    ts: int
    gateway: str
    seqs: dict[str, int]


BusPayload: TypeAlias = TickPayload | StatusPayload | HeartbeatPayload

_BY_PREFIX: Final[tuple[tuple[str, type[BusPayload]], ...]] = (
    (TICK_PREFIX, TickPayload),
    (STATUS_PREFIX, StatusPayload),
    (HEARTBEAT_PREFIX, HeartbeatPayload),
)


def payload_type(topic: str) -> tuple[str, type[BusPayload]] | None:
    """(the topic's name, the payload Struct it carries), or None for a prefix not in v1.

    The topic decides the type (``type`` in the payload must agree), so a subscriber decodes
    each message once, with one typed decoder, instead of peeking at ``type`` first.
    """
    for prefix, struct in _BY_PREFIX:
        if topic.startswith(prefix):
            return topic[len(prefix) :], struct
    return None


# -- the snapshot socket (ROUTER, one frame each way) ---------------------------------------------


class SnapshotRequest(Struct, kw_only=True, frozen=True):
    """Asks for every cached topic starting with ``prefix`` (``""``, or absent: all)."""

    v: Version
    prefix: str = ""


P = TypeVar("P")
"""How a snapshot holds each payload: the publisher's dicts or Structs, or ``msgspec.Raw`` on
the subscriber side, which then decodes each one with the live decoder (a bad tick is dropped
and counted, not fatal to the whole reply)."""


class SnapshotTopic(Struct, Generic[P], kw_only=True, frozen=True):
    """One topic of a snapshot: its last sent ``seq`` and its latest ticks, oldest first."""

    topic: str
    seq: int
    ticks: list[P]


class SnapshotReply(Struct, Generic[P], kw_only=True, frozen=True):
    """The answer to a :class:`SnapshotRequest`.

    ``states`` (contract 1.1) is the latest status payload of every (scope, key), each exactly
    as published; a 1.0 publisher leaves it out, and so does an encoder given ``UNSET``.
    """

    v: Version
    sid: int
    ts: int
    topics: list[SnapshotTopic[P]]
    states: list[P] | UnsetType = UNSET


class SnapshotRefusal(Struct, kw_only=True, frozen=True):
    """The answer to a request the publisher could not understand; ``error`` says why."""

    v: Version
    error: str
