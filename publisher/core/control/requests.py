"""Control requests (contract 1.1, "Control: on-demand instruments") as frozen values. Pure.

:func:`parse_request` turns one decoded msgpack value into a :data:`Request`, or a
:class:`Refusal` saying why not: errors are values, so the shell answers every bad request
with the contract's ``bad_request`` and never raises on a client's input.
"""

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Final

from publisher.config import InstrumentSpec
from publisher.config.convert import typed_instrument
from publisher.errors import ConfigError
from subscribers.kinds import KindError, parse_kinds

__all__ = [
    "BAD_REQUEST",
    "DATA_KINDS",
    "MAX_KEYS",
    "OPS",
    "ListRequest",
    "Refusal",
    "RenewRequest",
    "Request",
    "SubscribeRequest",
    "UnsubscribeRequest",
    "parse_request",
]

BAD_REQUEST: Final = "bad_request"
OPS: Final = ("subscribe", "renew", "unsubscribe", "list")
DATA_KINDS: Final = ("l1",)
"""The data kinds of a request that names none."""
MAX_KEYS: Final = 1000
MAX_CLIENT: Final = 128
MAX_LEASE: Final = 86_400.0


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request is refused: the contract's error ``code`` and a message for people."""

    code: str
    message: str
    op: str = "unknown"
    """The op as far as it could be read (``unknown`` for garbage), for the request counter."""


@dataclass(frozen=True, slots=True)
class SubscribeRequest:
    client: str
    spec: InstrumentSpec
    data: tuple[str, ...] = DATA_KINDS
    lease: float | None = None
    op: str = "subscribe"


@dataclass(frozen=True, slots=True)
class RenewRequest:
    client: str
    keys: tuple[str, ...]
    op: str = "renew"


@dataclass(frozen=True, slots=True)
class UnsubscribeRequest:
    client: str
    keys: tuple[str, ...]
    op: str = "unsubscribe"


@dataclass(frozen=True, slots=True)
class ListRequest:
    op: str = "list"


Request = SubscribeRequest | RenewRequest | UnsubscribeRequest | ListRequest


def _client(body: dict[str, Any], op: str) -> str | Refusal:
    client = body.get("client")
    if not isinstance(client, str) or not 0 < len(client) <= MAX_CLIENT:
        return Refusal(BAD_REQUEST, f"client must be a name (1..{MAX_CLIENT} characters)", op)
    return client


def _keys(body: dict[str, Any], op: str) -> tuple[str, ...] | Refusal:
    keys = body.get("keys")
    if (
        not isinstance(keys, list)
        or len(keys) > MAX_KEYS
        or not all(isinstance(k, str) for k in keys)
    ):
        return Refusal(BAD_REQUEST, f"keys must be a list of at most {MAX_KEYS} strings", op)
    return tuple(keys)


def _data(body: dict[str, Any]) -> tuple[str, ...] | Refusal:
    data = body.get("data", list(DATA_KINDS))
    if not isinstance(data, list) or not data or not all(isinstance(d, str) for d in data):
        return Refusal(BAD_REQUEST, 'data must be a non-empty list of kinds, e.g. ["l1"]')
    try:
        return tuple(kind.name for kind in parse_kinds(list(dict.fromkeys(data))))
    except KindError as exc:
        return Refusal(BAD_REQUEST, f"data: {exc}")


def _spec(body: dict[str, Any]) -> InstrumentSpec | Refusal:
    table = body.get("instrument")
    if not isinstance(table, dict) or not all(isinstance(k, str) for k in table):
        return Refusal(BAD_REQUEST, "instrument must be a map of [[instruments]] keys")
    try:
        values: dict[str, Any] = {
            "key": "",
            "symbol": "",
            **typed_instrument(table, "request", "instrument"),
        }
        if "sec_type" not in values:
            return Refusal(BAD_REQUEST, 'instrument.sec_type is required (e.g. "STK")')
        return InstrumentSpec(**values)
    except ConfigError as exc:
        key = exc.key if exc.key.startswith("instrument") else f"instrument.{exc.key}"
        return Refusal(BAD_REQUEST, f"{key}: {exc.problem}")


def _subscribe(body: dict[str, Any]) -> Request | Refusal:
    client = _client(body, "subscribe")
    if isinstance(client, Refusal):
        return client
    spec = _spec(body)
    if isinstance(spec, Refusal):
        return Refusal(spec.code, spec.message, "subscribe")
    data = _data(body)
    if isinstance(data, Refusal):
        return Refusal(data.code, data.message, "subscribe")
    try:
        spec = dataclasses.replace(spec, data=data)
    except ConfigError as exc:
        return Refusal(BAD_REQUEST, f"{exc.key}: {exc.problem}", "subscribe")
    lease = body.get("lease")
    if lease is not None:
        if isinstance(lease, bool) or not isinstance(lease, int | float):
            return Refusal(BAD_REQUEST, "lease must be a number of seconds", "subscribe")
        if not (math.isfinite(lease) and 0 < lease <= MAX_LEASE):
            return Refusal(BAD_REQUEST, f"lease must be > 0 and <= {MAX_LEASE:g} s", "subscribe")
        lease = float(lease)
    return SubscribeRequest(client, spec, data, lease)


def parse_request(body: object) -> Request | Refusal:
    """One decoded request map as a :data:`Request`, or the :class:`Refusal` to answer."""
    if not isinstance(body, dict):
        return Refusal(BAD_REQUEST, "a request is one msgpack map")
    op = body.get("op")
    named = op if isinstance(op, str) and op in OPS else "unknown"
    if body.get("v") != 1:
        return Refusal(BAD_REQUEST, f"unsupported version {body.get('v')!r} (v must be 1)", named)
    if named == "unknown":
        return Refusal(BAD_REQUEST, f"unknown op {op!r}; ops are {', '.join(OPS)}")
    if op == "list":
        return ListRequest()
    if op == "subscribe":
        return _subscribe(body)
    client = _client(body, named)
    if isinstance(client, Refusal):
        return client
    keys = _keys(body, named)
    if isinstance(keys, Refusal):
        return keys
    return RenewRequest(client, keys) if op == "renew" else UnsubscribeRequest(client, keys)
