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

from subscribers.schema import (
    BAR_PREFIX,
    DEPTH_PREFIX,
    GREEKS_PREFIX,
    HEARTBEAT_PREFIX,
    SCHEMA_VERSION,
    STATUS_PREFIX,
    TBT_PREFIX,
    TICK_PREFIX,
    BarPayload,
    DepthPayload,
    GreeksPayload,
    TbtPayload,
)

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
    """A publisher's periodic heartbeat (``hb.<pub>``); ``seqs`` maps data topics to last seq."""

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


# -- contract 1.1 data kinds: the payload Structs themselves, decoded straight into, plus
# ``topic`` (no copy: the typed decoder builds these directly) ------------------------------


class Tbt(TbtPayload, frozen=True, kw_only=True, gc=False):
    """One tick-by-tick event (``tbt.<key>``); ``kind`` says which keys are set (the others
    are ``msgspec.UNSET``): ``last``/``all_last`` price, size, exchange, special_conditions,
    past_limit, unreported; ``bid_ask`` bid, ask, bid_size, ask_size, bid_past_low,
    ask_past_high; ``midpoint`` mid."""

    @property
    def topic(self) -> str:
        """The topic this event travels on."""
        return TBT_PREFIX + self.key


class Depth(DepthPayload, frozen=True, kw_only=True, gc=False):
    """One change to one row of an L2 book (``depth.<key>``)."""

    @property
    def topic(self) -> str:
        """The topic this change travels on."""
        return DEPTH_PREFIX + self.key


class Bar(BarPayload, frozen=True, kw_only=True, gc=False):
    """One 5-second bar (``bar.<key>``); ``time`` is its start, in seconds."""

    @property
    def topic(self) -> str:
        """The topic this bar travels on."""
        return BAR_PREFIX + self.key


class Greeks(GreeksPayload, frozen=True, kw_only=True, gc=False):
    """One option computation (``greeks.<key>``); a value of None is IB's unset marker."""

    @property
    def topic(self) -> str:
        """The topic this computation travels on."""
        return GREEKS_PREFIX + self.key


DataMessage: TypeAlias = Tick | Tbt | Depth | Bar | Greeks
"""A message of an instrument data topic (it has ``key`` and ``conid``)."""
Message: TypeAlias = Tick | Status | Heartbeat | Tbt | Depth | Bar | Greeks
