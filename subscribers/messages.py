"""The decoded bus messages of contract v1: frozen value objects, and the error for a bad one.

:mod:`subscribers.wire` turns bytes into these (and re-exports them: ``subscribers.wire.Tick``
is the name users know); this module only says what a decoded message is. They are frozen
msgspec Structs rather than dataclasses because building one is what a subscriber does per
message: 0.2 us for a :class:`Tick` against 2.5 us for the frozen dataclass it replaces.

Exceptions::

    ValueError
     +-- WireError           the peer sent something contract v1 does not allow (reason, topic)
          +-- UnknownTypeError  a topic prefix this library does not know (contract 1.1: ignore it)
"""

from collections.abc import Mapping
from typing import Final, Literal, TypeAlias

from msgspec import Struct

from subscribers.schema import HEARTBEAT_PREFIX, SCHEMA_VERSION, STATUS_PREFIX, TICK_PREFIX

TickKind: TypeAlias = Literal["price", "size", "value"]
TICK_KINDS: Final[tuple[TickKind, ...]] = ("price", "size", "value")


class WireError(ValueError):
    """A message that contract v1 does not allow; ``reason`` says why, ``topic`` where."""

    def __init__(self, reason: str, topic: str) -> None:
        super().__init__(f"{topic!r}: {reason}")
        self.reason = reason
        self.topic = topic


class UnknownTypeError(WireError):
    """A topic prefix this library does not know (a later contract's data kind, e.g. ``bar.``).

    Contract 1.1 says a subscriber ignores message types it does not know: a caller that wants
    to tell them from broken messages catches this subclass.
    """


class Tick(Struct, frozen=True, kw_only=True, gc=False):
    """One normalised tick of one instrument (topic ``tick.<key>``).

    Exactly one of ``price``, ``size`` and ``value`` was on the wire; ``kind`` says which (the
    other two are None). A price of None is IB's "no price" marker.
    """

    v: int = SCHEMA_VERSION
    type: Literal["tick"] = "tick"
    pub: str
    sid: int
    seq: int
    ts: int
    key: str
    conid: int
    field: str
    tick_type: int
    kind: TickKind
    price: float | None = None
    size: float | None = None
    value: float | int | str | None = None
    attrib: int | None = None
    mdt: int
    ts_recv: int

    def __post_init__(self) -> None:
        kind = self.kind
        if (
            (kind != "price" and (self.price is not None or self.attrib is not None))
            or (kind != "size" and self.size is not None)
            or (kind != "value" and self.value is not None)
        ):
            raise ValueError(f"a {kind} tick carries only its {kind} (and attrib if a price)")

    @property
    def topic(self) -> str:
        """The topic this tick travels on."""
        return TICK_PREFIX + self.key

    @property
    def datum(self) -> float | int | str | None:
        """The tick's one value, whichever of ``price``, ``size`` or ``value`` it is."""
        if self.kind == "price":
            return self.price
        if self.kind == "size":
            return self.size
        return self.value


class Status(Struct, frozen=True, kw_only=True, gc=False):
    """A change of state of a publisher's gateway, an instrument or itself (``status.<pub>``)."""

    v: int = SCHEMA_VERSION
    type: Literal["status"] = "status"
    pub: str
    sid: int
    seq: int
    ts: int
    scope: str
    state: str
    key: str | None
    code: int | None
    message: str

    @property
    def topic(self) -> str:
        """The topic this status travels on."""
        return STATUS_PREFIX + self.pub


class Heartbeat(Struct, frozen=True, kw_only=True):
    """A publisher's periodic heartbeat (``hb.<pub>``); ``seqs`` maps tick topics to last seq."""

    v: int = SCHEMA_VERSION
    type: Literal["hb"] = "hb"
    pub: str
    sid: int
    seq: int
    ts: int
    gateway: str
    seqs: Mapping[str, int]

    @property
    def topic(self) -> str:
        """The topic this heartbeat travels on."""
        return HEARTBEAT_PREFIX + self.pub


Message: TypeAlias = Tick | Status | Heartbeat
