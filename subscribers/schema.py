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

from msgspec import UNSET, Meta, Struct, UnsetType, field

SCHEMA_VERSION: Final = 1
TICK_PREFIX: Final = "tick."
STATUS_PREFIX: Final = "status."
HEARTBEAT_PREFIX: Final = "hb."
TBT_PREFIX: Final = "tbt."
DEPTH_PREFIX: Final = "depth."
BAR_PREFIX: Final = "bar."
GREEKS_PREFIX: Final = "greeks."
DATA_PREFIXES: Final = (TICK_PREFIX, TBT_PREFIX, DEPTH_PREFIX, BAR_PREFIX, GREEKS_PREFIX)
"""The topic prefixes of instrument data (contract 1.1 "Data kinds"), one per kind family;
heartbeat ``seqs`` cover every topic under them."""
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


# -- contract 1.1 "Data kinds": tick-by-tick, depth, 5-second bars, option greeks -----------------
#
# Each carries the common keys, then ``key`` and ``conid``, its own keys, and ``ts_recv`` last
# (ns since the epoch when the publisher read the gateway frame), as ticks do.

TbtKind: TypeAlias = Literal["last", "all_last", "bid_ask", "midpoint"]


class TbtPayload(Struct, kw_only=True, frozen=True, gc=False):
    """``tbt.<key>``: one tick-by-tick event (reqTickByTickData).

    ``kind`` says which keys are present: ``last``/``all_last`` carry ``price``, ``size``,
    ``exchange``, ``special_conditions``, ``past_limit``, ``unreported``; ``bid_ask`` carries
    ``bid``, ``ask``, ``bid_size``, ``ask_size``, ``bid_past_low``, ``ask_past_high``;
    ``midpoint`` carries ``mid``. ``time`` is IB's, in seconds.
    """

    v: Version
    type: Literal["tbt"]
    pub: str
    sid: SessionId
    seq: Seq
    ts: int
    key: str
    conid: int
    kind: TbtKind
    time: int
    price: WireFloat | UnsetType = UNSET
    size: WireFloat | UnsetType = UNSET
    exchange: str | UnsetType = UNSET
    special_conditions: str | UnsetType = UNSET
    past_limit: bool | UnsetType = UNSET
    unreported: bool | UnsetType = UNSET
    bid: WireFloat | UnsetType = UNSET
    ask: WireFloat | UnsetType = UNSET
    bid_size: WireFloat | UnsetType = UNSET
    ask_size: WireFloat | UnsetType = UNSET
    bid_past_low: bool | UnsetType = UNSET
    ask_past_high: bool | UnsetType = UNSET
    mid: WireFloat | UnsetType = UNSET
    ts_recv: int


DepthOperation: TypeAlias = Literal["insert", "update", "delete"]
DepthSide: TypeAlias = Literal["bid", "ask"]


class DepthPayload(Struct, kw_only=True, frozen=True, gc=False):
    """``depth.<key>``: one change to one row of the order book (updateMktDepth[L2]).

    ``position`` is the row (0 = best); ``insert`` shifts the rows at and below it down,
    ``delete`` shifts them up, ``update`` replaces the row. ``market_maker`` is nil for
    updateMktDepth (no exchange or market maker given).
    """

    v: Version
    type: Literal["depth"]
    pub: str
    sid: SessionId
    seq: Seq
    ts: int
    key: str
    conid: int
    position: Annotated[int, Meta(ge=0)]
    operation: DepthOperation
    side: DepthSide
    price: WireFloat
    size: WireFloat
    market_maker: str | None
    is_smart: bool
    ts_recv: int


BarWhat: TypeAlias = Literal["TRADES", "MIDPOINT", "BID", "ASK"]


class BarPayload(Struct, kw_only=True, frozen=True, gc=False):
    """``bar.<key>``: one 5-second bar (reqRealTimeBars); ``time`` is the bar's start (s)."""

    v: Version
    type: Literal["bar"]
    pub: str
    sid: SessionId
    seq: Seq
    ts: int
    key: str
    conid: int
    what: BarWhat
    time: int
    open: WireFloat
    high: WireFloat
    low: WireFloat
    close: WireFloat
    volume: WireFloat
    wap: WireFloat
    count: int
    ts_recv: int


GreeksField: TypeAlias = Literal[
    "bid_option", "ask_option", "last_option", "model_option", "custom_option"
]
GREEKS_FIELDS: Final[dict[int, GreeksField]] = {
    10: "bid_option",
    11: "ask_option",
    12: "last_option",
    13: "model_option",
    53: "custom_option",
    80: "bid_option",
    81: "ask_option",
    82: "last_option",
    83: "model_option",
}
"""IB's option computation tick types (live 10-13 and 53, delayed 80-83) and their fields."""


class GreeksPayload(Struct, kw_only=True, frozen=True, gc=False):
    """``greeks.<key>``: one option computation (tickOptionComputation) of an OPT instrument.

    Every number is nil where IB sent its unset marker (``-1``, ``-2`` or ``Double.MAX_VALUE``
    as ibapi documents for each).
    """

    v: Version
    type: Literal["greeks"]
    pub: str
    sid: SessionId
    seq: Seq
    ts: int
    key: str
    conid: int
    tick_type: int
    field: GreeksField
    implied_vol: WireFloat | None
    delta: WireFloat | None
    opt_price: WireFloat | None
    pv_dividend: WireFloat | None
    gamma: WireFloat | None
    vega: WireFloat | None
    theta: WireFloat | None
    und_price: WireFloat | None
    mdt: int
    ts_recv: int


DataPayload: TypeAlias = TickPayload | TbtPayload | DepthPayload | BarPayload | GreeksPayload
"""Every payload of an instrument data topic."""


class GapPayload(Struct, kw_only=True, frozen=True):
    """A loss the NATS bridge saw on the ZeroMQ side, stored on ``ibpub.<pub>.gap.<topic>``
    (contract 1.1 "History"): ``from_seq`` to ``to_seq`` (inclusive) of ``topic`` in session
    ``sid`` never reached the stream. Not a bus message: it exists only in the history."""

    v: Version
    type: Literal["gap"]
    topic: str
    sid: int
    from_seq: int
    to_seq: int
    reason: str


BusPayload: TypeAlias = (
    TickPayload
    | StatusPayload
    | HeartbeatPayload
    | TbtPayload
    | DepthPayload
    | BarPayload
    | GreeksPayload
)

_BY_PREFIX: Final[tuple[tuple[str, type[BusPayload]], ...]] = (
    (TICK_PREFIX, TickPayload),
    (STATUS_PREFIX, StatusPayload),
    (HEARTBEAT_PREFIX, HeartbeatPayload),
    (TBT_PREFIX, TbtPayload),
    (DEPTH_PREFIX, DepthPayload),
    (BAR_PREFIX, BarPayload),
    (GREEKS_PREFIX, GreeksPayload),
)


def payload_type(topic: str) -> tuple[str, type[BusPayload]] | None:
    """(the topic's name, the payload Struct it carries), or None for a prefix it does not know.

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


BookRow: TypeAlias = tuple[WireFloat, WireFloat, str | None]
"""One row of a book: ``[price, size, market_maker]``."""


class SnapshotBook(Struct, kw_only=True, frozen=True):
    """The whole current order book of a ``depth.`` topic, best row first on each side."""

    bids: list[BookRow]
    asks: list[BookRow]


class SnapshotTopic(Struct, Generic[P], kw_only=True, frozen=True):
    """One topic of a snapshot: its last sent ``seq`` and its latest messages, oldest first.

    ``ticks`` holds the latest message per field (tick, greeks), per kind (tbt), or the latest
    bar; a ``depth.`` topic carries its whole ``book`` instead (and an empty ``ticks``), as it
    stood at ``seq`` (contract 1.1).
    """

    topic: str
    seq: int
    ticks: list[P]
    book: SnapshotBook | UnsetType = UNSET


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


# -- the control socket (ROUTER, one frame each way; contract 1.1) --------------------------------
#
# Requests are a union tagged by ``op``, so the publisher decodes any request with one
# ``msgspec.msgpack.Decoder(ControlRequest)``. Replies are told apart by ``ok`` (a bool, which
# msgspec cannot tag on), so a client reads ``ok`` first (:class:`ControlReplyHead`) and then
# decodes the reply it expects or an :class:`ErrorReply`.

ERROR_CODES: Final = (
    "bad_request",
    "unknown_contract",
    "ambiguous_contract",
    "budget_exceeded",
    "limit_exceeded",
    "key_conflict",
    "unauthorised",
    "rate_limited",
)
"""Every ``error`` a control reply may carry (contract 1.1, "Control: on-demand instruments")."""
DEFAULT_DATA: Final = ("l1",)
"""The data kinds of a request that names none."""


class ControlInstrument(Struct, kw_only=True, frozen=True, omit_defaults=True):
    """The instrument of a ``subscribe`` request: the keys of a config ``[[instruments]]`` table.

    Every key is optional on the wire (the publisher qualifies what it is given); only the keys
    set are encoded.
    """

    key: str | UnsetType = UNSET
    sec_type: str | UnsetType = UNSET
    symbol: str | UnsetType = UNSET
    exchange: str | UnsetType = UNSET
    primary_exchange: str | UnsetType = UNSET
    currency: str | UnsetType = UNSET
    local_symbol: str | UnsetType = UNSET
    last_trade_date: str | UnsetType = UNSET
    strike: float | UnsetType = UNSET
    right: str | UnsetType = UNSET
    multiplier: str | UnsetType = UNSET
    trading_class: str | UnsetType = UNSET
    con_id: int | UnsetType = UNSET
    generic_ticks: str | UnsetType = UNSET


class SubscribeRequest(Struct, kw_only=True, frozen=True, tag_field="op", tag="subscribe"):
    """Hold ``instrument`` for ``client`` (``lease`` seconds, or the publisher's default)."""

    v: Version
    client: str
    instrument: ControlInstrument
    data: list[str] = field(default_factory=lambda: list(DEFAULT_DATA))
    lease: float | UnsetType = UNSET


class RenewRequest(Struct, kw_only=True, frozen=True, tag_field="op", tag="renew"):
    """Extend ``client``'s leases on ``keys``."""

    v: Version
    client: str
    keys: list[str]


class UnsubscribeRequest(Struct, kw_only=True, frozen=True, tag_field="op", tag="unsubscribe"):
    """Release ``client``'s holds on ``keys``."""

    v: Version
    client: str
    keys: list[str]


class ListRequest(Struct, kw_only=True, frozen=True, tag_field="op", tag="list"):
    """What is held, by whom, against the line budget."""

    v: Version


ControlRequest: TypeAlias = SubscribeRequest | RenewRequest | UnsubscribeRequest | ListRequest


class ControlReplyHead(Struct, kw_only=True, frozen=True):
    """The two keys every control reply starts with: enough to pick the Struct for the rest."""

    v: Version
    ok: bool


class SubscribeReply(Struct, kw_only=True, frozen=True):
    """``subscribe`` granted: the instrument's key and contract id, the topics to subscribe to,
    its state now, and when the lease runs out (ns since the epoch, publisher clock)."""

    v: Version
    ok: Literal[True]
    key: str
    conid: int
    topics: list[str]
    state: str
    lease_expires: int


class RenewReply(Struct, kw_only=True, frozen=True):
    """``renew`` granted: the leases now run out at ``lease_expires`` (ns since the epoch)."""

    v: Version
    ok: Literal[True]
    lease_expires: int


class UnsubscribeReply(Struct, kw_only=True, frozen=True):
    """``unsubscribe`` done."""

    v: Version
    ok: Literal[True]


class HeldInstrument(Struct, kw_only=True, frozen=True):
    """One instrument of a ``list`` reply. ``lease_expires`` is the latest of its holders'
    leases (None, or absent, for a pinned instrument nobody else holds)."""

    key: str
    conid: int
    data: list[str]
    state: str
    pinned: bool
    holders: list[str]
    lease_expires: int | None = None


class ListReply(Struct, kw_only=True, frozen=True):
    """``list``: the lines in use against the budget, and every instrument held."""

    v: Version
    ok: Literal[True]
    lines_used: int
    lines_budget: int
    instruments: list[HeldInstrument]


class Candidate(Struct, kw_only=True, frozen=True):
    """One contract an ambiguous description matched; ask again with its ``conid``."""

    conid: int
    sec_type: str
    symbol: str
    local_symbol: str | None
    last_trade_date: str | None
    """``YYYYMMDD``; None (or empty) where IB gives none (a stock)."""
    exchange: str
    currency: str


class ErrorReply(Struct, kw_only=True, frozen=True):
    """A refusal: ``error`` is one of :data:`ERROR_CODES` (a client keeps one it does not know),
    ``candidates`` only with ``ambiguous_contract``."""

    v: Version
    ok: Literal[False]
    error: str
    message: str
    candidates: list[Candidate] | UnsetType = UNSET
