"""Reading request fields: a cursor over text fields and the contract in both encodings.

Shared by :mod:`~publisher.sim.protocol.parsing` and
:mod:`~publisher.sim.protocol.data_parsing`. Pure.
"""

import math
from typing import Any

from publisher.sim.protocol.contracts import ContractQuery
from publisher.sim.protocol.errors import MalformedRequestError

__all__ = ["Fields", "pb_bool", "pb_int", "pb_str", "proto_contract", "text_contract"]


class Fields:
    """A cursor over one text request's NUL-terminated fields."""

    __slots__ = ("_fields", "_msg_id", "_pos")

    def __init__(self, fields: list[bytes], msg_id: int) -> None:
        self._fields = fields
        self._pos = 0
        self._msg_id = msg_id

    def text(self, default: str | None = None) -> str:
        if self._pos >= len(self._fields):
            if default is not None:
                return default
            raise MalformedRequestError(self._msg_id, f"truncated after {self._pos} fields")
        raw = self._fields[self._pos]
        self._pos += 1
        return raw.decode("latin-1")

    def integer(self, default: int | None = None) -> int:
        raw = self.text(None if default is None else str(default))
        try:
            return int(raw) if raw else 0
        except ValueError as exc:
            reason = f"field {self._pos} not an int: {raw!r}"
            raise MalformedRequestError(self._msg_id, reason) from exc

    def number(self) -> float:
        raw = self.text()
        if raw in ("Infinity", "Infinite"):
            return math.inf
        try:
            return float(raw) if raw else 0.0
        except ValueError as exc:
            reason = f"field {self._pos} not a float: {raw!r}"
            raise MalformedRequestError(self._msg_id, reason) from exc

    def flag(self, default: bool | None = None) -> bool:
        return self.integer(None if default is None else int(default)) != 0

    def skip(self, count: int) -> None:
        for _ in range(count):
            self.text()


def text_contract(f: Fields) -> ContractQuery:
    """The 12 contract fields shared by reqMktData and reqContractDetails (v100 and above)."""
    con_id = f.integer()
    symbol = f.text()
    sec_type = f.text()
    last_trade = f.text()
    strike = f.number()
    right = f.text()
    multiplier = f.text()
    exchange = f.text()
    primary_exchange = f.text()
    currency = f.text()
    local_symbol = f.text()
    trading_class = f.text()
    return ContractQuery(
        con_id=con_id,
        symbol=symbol,
        sec_type=sec_type,
        last_trade_date_or_contract_month=last_trade,
        strike=strike,
        right=right,
        multiplier=multiplier,
        exchange=exchange,
        primary_exchange=primary_exchange,
        currency=currency,
        local_symbol=local_symbol,
        trading_class=trading_class,
    )


def proto_contract(proto: Any) -> ContractQuery:
    """Translate a ``protobuf.Contract`` (fields have presence) into a query."""

    def text(name: str) -> str:
        return str(getattr(proto, name)) if proto.HasField(name) else ""

    multiplier = ""
    if proto.HasField("multiplier"):
        value = float(proto.multiplier)
        multiplier = str(int(value)) if value.is_integer() else repr(value)
    return ContractQuery(
        con_id=int(proto.conId) if proto.HasField("conId") else 0,
        symbol=text("symbol"),
        sec_type=text("secType"),
        last_trade_date_or_contract_month=text("lastTradeDateOrContractMonth"),
        strike=float(proto.strike) if proto.HasField("strike") else 0.0,
        right=text("right"),
        multiplier=multiplier,
        exchange=text("exchange"),
        primary_exchange=text("primaryExch"),
        currency=text("currency"),
        local_symbol=text("localSymbol"),
        trading_class=text("tradingClass"),
        include_expired=bool(proto.includeExpired) if proto.HasField("includeExpired") else False,
        sec_id_type=text("secIdType"),
        sec_id=text("secId"),
    )


def pb_int(proto: Any, name: str, default: int = 0) -> int:
    return int(getattr(proto, name)) if proto.HasField(name) else default


def pb_bool(proto: Any, name: str) -> bool:
    return bool(getattr(proto, name)) if proto.HasField(name) else False


def pb_str(proto: Any, name: str) -> str:
    return str(getattr(proto, name)) if proto.HasField(name) else ""
