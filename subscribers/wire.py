"""Decoding and validating ibpub bus messages, schema v1 (pure: no sockets, no clocks).

A bus message is two frames, ``[topic, payload]``: a UTF-8 topic and one msgpack map.
:func:`decode` turns the two frames into a :class:`Tick`, :class:`Status` or :class:`Heartbeat`
after checking them against contract v1; :func:`to_jsonable` turns a decoded message back into
the payload map (plus ``"topic"``) and :func:`format_line` into one human-readable line.

Exceptions::

    ValueError
     +-- WireError    the peer sent something contract v1 does not allow (carries reason, topic)

Values are checked for type, not for membership of an enumeration: a ``state`` or ``mdt`` this
module has not heard of is passed on, so a display tool keeps showing what arrives. Keys the
contract does not define are ignored (they are not in :func:`to_jsonable`'s result).

This module imports neither ``publisher`` nor ``ibapi``: a subscriber host needs only pyzmq and
msgpack.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from types import MappingProxyType
from typing import Final, Literal, TypeAlias

# msgpack ships no type information; the ignore stays quiet if a pyproject override lands.
import msgpack

SCHEMA_VERSION: Final = 1
TICK_PREFIX: Final = "tick."
STATUS_PREFIX: Final = "status."
HEARTBEAT_PREFIX: Final = "hb."
SID_LIMIT: Final = 2**63
"""A session id is in ``0 < sid < SID_LIMIT``."""

TickKind: TypeAlias = Literal["price", "size", "value"]
TICK_KINDS: Final[tuple[TickKind, ...]] = ("price", "size", "value")

ATTRIB_NAMES: Final[Mapping[int, str]] = MappingProxyType(
    {1: "can-auto-execute", 2: "past-limit", 4: "pre-open"}
)
"""The bits of a price tick's ``attrib`` mask."""


class WireError(ValueError):
    """A message that contract v1 does not allow; ``reason`` says why, ``topic`` where."""

    def __init__(self, reason: str, topic: str) -> None:
        super().__init__(f"{topic!r}: {reason}")
        self.reason = reason
        self.topic = topic


@dataclass(frozen=True, slots=True, kw_only=True)
class Tick:
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Status:
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Heartbeat:
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

_PREFIXES: Final = ((TICK_PREFIX, "tick"), (STATUS_PREFIX, "status"), (HEARTBEAT_PREFIX, "hb"))


_MISSING: Final = object()


class _Reader:
    """Typed access to one payload map; every failure is a :class:`WireError` for ``topic``."""

    __slots__ = ("payload", "topic")

    def __init__(self, payload: Mapping[object, object], topic: str) -> None:
        self.payload = payload
        self.topic = topic

    def fail(self, reason: str) -> WireError:
        return WireError(reason, self.topic)

    def _get(self, key: str) -> object:
        value = self.payload.get(key, _MISSING)
        if value is _MISSING:
            raise self.fail(f"missing key {key!r}")
        return value

    def _wrong(self, key: str, value: object, expected: str) -> WireError:
        return self.fail(f"key {key!r} must be {expected}, not {_wire_type(value)}")

    def get_int(self, key: str) -> int:
        value = self.payload.get(key, _MISSING)
        if type(value) is not int:  # bool is an int subclass; the contract's ints are not bools
            raise self._wrong(key, self._get(key), "an int")
        return value

    def get_str(self, key: str) -> str:
        value = self.payload.get(key, _MISSING)
        if type(value) is not str:
            raise self._wrong(key, self._get(key), "a str")
        return value

    def opt_int(self, key: str) -> int | None:
        value = self._get(key)
        if value is not None and type(value) is not int:
            raise self._wrong(key, value, "an int or nil")
        return value

    def opt_str(self, key: str) -> str | None:
        value = self._get(key)
        if value is not None and type(value) is not str:
            raise self._wrong(key, value, "a str or nil")
        return value

    def get_float(self, key: str) -> float:
        value = self._get(key)
        if type(value) is not float:
            raise self._wrong(key, value, "a float")
        return value

    def opt_float(self, key: str) -> float | None:
        value = self._get(key)
        if value is not None and type(value) is not float:
            raise self._wrong(key, value, "a float or nil")
        return value

    def get_scalar(self, key: str) -> float | int | str:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, float | int | str):
            raise self._wrong(key, value, "a float, int or str")
        return value

    def get_seqs(self, key: str) -> Mapping[str, int]:
        value = self._get(key)
        if not isinstance(value, dict):
            raise self._wrong(key, value, "a map")
        seqs: dict[str, int] = {}
        for topic, seq in value.items():
            if type(topic) is not str or type(seq) is not int:
                raise self.fail(f"key {key!r} must map str to int, found {topic!r}: {seq!r}")
            seqs[topic] = seq
        return MappingProxyType(seqs)


_WIRE_TYPES: Final = {type(None): "nil", bool: "bool", list: "array", dict: "map", bytes: "bin"}


def _wire_type(value: object) -> str:
    """The msgpack name of a decoded value's type, for error messages."""
    return _WIRE_TYPES.get(type(value), type(value).__name__)


def _topic_text(topic: bytes) -> str:
    try:
        return topic.decode("utf-8")
    except UnicodeDecodeError:
        raise WireError("topic is not UTF-8", topic.decode("utf-8", "backslashreplace")) from None


def decode(topic: bytes, payload: bytes) -> Message:
    """Decode and validate one bus message; raises :class:`WireError` if it breaks contract v1."""
    text = _topic_text(topic)
    _topic_parts(text)  # a bad topic is reported before a bad payload
    try:
        obj = msgpack.unpackb(payload, raw=False)
    except Exception as exc:  # msgpack documents that unpacking may raise any Exception subclass
        detail = str(exc) or type(exc).__name__
        raise WireError(f"payload is not valid msgpack ({detail})", text) from None
    return decode_map(text, obj)


def _topic_parts(text: str) -> tuple[str, str]:
    """(name, message type) of a topic; raises :class:`WireError` for an unknown prefix."""
    for prefix, candidate in _PREFIXES:
        if text.startswith(prefix):
            name = text[len(prefix) :]
            if not name:
                raise WireError("topic has an empty name", text)
            return name, candidate
    raise WireError("unknown topic prefix (expected tick., status. or hb.)", text)


def decode_map(topic: str, obj: object) -> Message:
    """Validate an already unpacked payload ``obj`` (e.g. a tick inside a snapshot reply)."""
    text = topic
    name, topic_kind = _topic_parts(text)
    if not isinstance(obj, dict):
        raise WireError(f"payload must be a map, not {_wire_type(obj)}", text)
    r = _Reader(obj, text)
    v = r.get_int("v")
    if v != SCHEMA_VERSION:
        raise r.fail(f"unknown schema version {v} (this decoder knows {SCHEMA_VERSION})")
    kind = r.get_str("type")
    if kind not in ("tick", "status", "hb"):
        raise r.fail(f"unknown type {kind!r}")
    if kind != topic_kind:
        raise r.fail(f"type {kind!r} does not match the topic (expected {topic_kind!r})")
    pub = r.get_str("pub")
    sid = r.get_int("sid")
    if not 0 < sid < SID_LIMIT:
        raise r.fail(f"sid {sid} is out of range (0 < sid < 2**63)")
    seq = r.get_int("seq")
    if seq < 1:
        raise r.fail(f"seq {seq} is below 1")
    ts = r.get_int("ts")
    if kind == "tick":
        return _decode_tick(r, name, pub=pub, sid=sid, seq=seq, ts=ts)
    if name != pub:
        raise r.fail(f"pub {pub!r} does not match the topic")
    if kind == "status":
        return Status(
            pub=pub,
            sid=sid,
            seq=seq,
            ts=ts,
            scope=r.get_str("scope"),
            state=r.get_str("state"),
            key=r.opt_str("key"),
            code=r.opt_int("code"),
            message=r.get_str("message"),
        )
    return Heartbeat(
        pub=pub, sid=sid, seq=seq, ts=ts, gateway=r.get_str("gateway"), seqs=r.get_seqs("seqs")
    )


def _decode_tick(r: _Reader, name: str, *, pub: str, sid: int, seq: int, ts: int) -> Tick:
    key = r.get_str("key")
    if key != name:
        raise r.fail(f"key {key!r} does not match the topic")
    payload = r.payload
    present = [k for k in TICK_KINDS if k in payload]
    if len(present) != 1:
        found = ", ".join(present) or "none"
        raise r.fail(f"a tick carries exactly one of price, size, value (found {found})")
    kind = present[0]
    price = size = value = attrib = None
    if kind == "price":
        price = r.opt_float("price")
        if "attrib" in r.payload:
            attrib = r.get_int("attrib")
    elif "attrib" in r.payload:
        raise r.fail("attrib belongs to price ticks only")
    elif kind == "size":
        size = r.opt_float("size")  # nil: IB sent its "unset" size marker
    else:
        value = r.get_scalar("value")
    return Tick(
        pub=pub,
        sid=sid,
        seq=seq,
        ts=ts,
        key=key,
        conid=r.get_int("conid"),
        field=r.get_str("field"),
        tick_type=r.get_int("tick_type"),
        kind=kind,
        price=price,
        size=size,
        value=value,
        attrib=attrib,
        mdt=r.get_int("mdt"),
        ts_recv=r.get_int("ts_recv"),
    )


def to_jsonable(msg: Message) -> dict[str, object]:
    """The message's payload map as it was on the wire, plus its ``"topic"``."""
    out: dict[str, object] = {
        "topic": msg.topic,
        "v": msg.v,
        "type": msg.type,
        "pub": msg.pub,
        "sid": msg.sid,
        "seq": msg.seq,
        "ts": msg.ts,
    }
    if isinstance(msg, Tick):
        out.update(key=msg.key, conid=msg.conid, field=msg.field, tick_type=msg.tick_type)
        out[msg.kind] = msg.datum
        if msg.attrib is not None:
            out["attrib"] = msg.attrib
        out.update(mdt=msg.mdt, ts_recv=msg.ts_recv)
    elif isinstance(msg, Status):
        out.update(
            scope=msg.scope, state=msg.state, key=msg.key, code=msg.code, message=msg.message
        )
    else:
        out.update(gateway=msg.gateway, seqs=dict(msg.seqs))
    return out


def format_clock(ts_ns: int, tz: tzinfo | None = UTC) -> str:
    """``HH:MM:SS.ffffff`` of a nanosecond timestamp (``tz=None``: local time)."""
    seconds, ns = divmod(ts_ns, 1_000_000_000)
    try:
        when = datetime.fromtimestamp(seconds, tz)
    except (OverflowError, OSError, ValueError):
        return f"ts={ts_ns}"
    return f"{when:%H:%M:%S}.{ns // 1000:06d}"


def _number(datum: float | int | str | None) -> str:
    if datum is None:
        return "-"
    if isinstance(datum, float) and datum.is_integer() and abs(datum) < 1e15:
        return str(int(datum))
    return str(datum)


def _attrib_text(mask: int) -> str:
    names = [name for bit, name in ATTRIB_NAMES.items() if mask & bit]
    rest = mask & ~sum(ATTRIB_NAMES)
    if rest:
        names.append(f"0x{rest:x}")
    return ",".join(names)


def _printable(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def format_line(topic: str, msg: Message, *, tz: tzinfo | None = UTC) -> str:
    """One human-readable line, e.g. ``12:00:01.123456 tick.AAPL  #42 bid 189.52 (mdt 1)``.

    The time is the publish time ``ts``, in ``tz`` (UTC by default; None for local time). A price
    of nil (IB's "no price") shows as ``-``. Control characters are escaped, so the result is
    always exactly one line.
    """
    head = f"{format_clock(msg.ts, tz)} {topic:<10} #{msg.seq}"
    if isinstance(msg, Tick):
        notes = f"mdt {msg.mdt}"
        if msg.attrib:
            notes += f", {_attrib_text(msg.attrib)}"
        return _printable(f"{head} {msg.field} {_number(msg.datum)} ({notes})")
    if isinstance(msg, Status):
        subject = msg.scope if msg.key is None else f"{msg.scope} {msg.key}"
        code = "" if msg.code is None else f" (code {msg.code})"
        return _printable(f"{head} {subject} {msg.state}: {msg.message}{code}")
    return _printable(f"{head} gateway {msg.gateway}, {len(msg.seqs)} tick topics")
