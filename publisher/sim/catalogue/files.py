"""Contracts from a TOML or JSON file, to add to the built-in catalogue or replace its entries.

File format (TOML shown; JSON is ``{"contracts": [{...}, ...]}`` or a bare list)::

    [[contracts]]
    con_id = 9939
    symbol = "MU"
    sec_type = "STK"
    exchange = "SMART"
    primary_exchange = "NASDAQ"
    currency = "USD"
    price = 95.0         # where the random walk starts
    # optional: lot (size granularity), depth = false (no market depth: error 10092),
    # min_tick, local_symbol, trading_class, multiplier, last_trade_date, long_name,
    # valid_exchanges, sec_ids = {ISIN = "..."}, and every other ContractSpec field name.

Values are typed by ``msgspec.convert`` in strict mode (a TOML or JSON value is never coerced:
``con_id = "1"`` is an error), and every error names the file, the key and the problem. Reads
the file it is given; nothing else.
"""

import json
import re
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import msgspec

from publisher.errors import IbpubError
from publisher.sim.catalogue.contracts import Instrument
from publisher.sim.catalogue.lookup import Catalogue
from publisher.sim.protocol import ContractSpec

__all__ = ["CatalogueError", "load_catalogue", "load_instruments"]


class CatalogueError(IbpubError, ValueError):
    """A catalogue file could not be used; names the file, the key and the problem."""

    def __init__(self, path: Path | str, key: str, problem: str) -> None:
        where = f"{path}: {key}" if key else str(path)
        super().__init__(f"{where}: {problem}")
        self.path = str(path)
        self.key = key
        self.problem = problem


_TYPES: Final[Mapping[str, Any]] = {
    **typing.get_type_hints(ContractSpec),
    "price": float,
    "lot": int,
    "depth": bool,
}
"""Every key a contract table may have, with its type: ContractSpec's fields, price, lot and
depth (false: reqMktDepth gets error 10092)."""
_REQUIRED: Final = ("con_id", "symbol", "sec_type", "exchange", "currency", "price")
_ENTRY: Final = msgspec.defstruct(
    "catalogue_entry",
    [(key, kind | msgspec.UnsetType, msgspec.UNSET) for key, kind in _TYPES.items()],
)
"""What msgspec types a contract table into (strictly: a TOML or JSON value is never coerced)."""
_KIND_NAMES: Final[Mapping[Any, str]] = {
    int: "an integer",
    float: "a number",
    str: "a string",
    bool: "true or false",
}


def load_instruments(path: Path | str) -> tuple[Instrument, ...]:
    """Read the instruments listed in a ``.toml`` or ``.json`` file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CatalogueError(path, "", f"cannot read: {exc.strerror or exc}") from exc
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            document: Any = tomllib.loads(raw.decode("utf-8"))
        elif suffix == ".json":
            document = json.loads(raw)
        else:
            raise CatalogueError(path, "", "unsupported file type (use .toml or .json)")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CatalogueError(path, "", f"not valid {suffix[1:].upper()}: {exc}") from exc
    entries = document.get("contracts") if isinstance(document, dict) else document
    if isinstance(document, dict) and set(document) - {"contracts"}:
        unknown = sorted(set(document) - {"contracts"})[0]
        raise CatalogueError(path, unknown, "unknown key (expected only 'contracts')")
    if not isinstance(entries, list):
        raise CatalogueError(path, "contracts", "must be a list of contract tables")
    instruments = [_instrument(path, f"contracts[{i}]", entry) for i, entry in enumerate(entries)]
    seen: set[int] = set()
    for i, instrument in enumerate(instruments):
        if instrument.con_id in seen:
            raise CatalogueError(path, f"contracts[{i}].con_id", "duplicate con_id in this file")
        seen.add(instrument.con_id)
    return tuple(instruments)


def load_catalogue(path: Path | str, base: Catalogue | None = None) -> Catalogue:
    """The built-in catalogue (or ``base``) extended by the contracts in ``path``."""
    return (base or Catalogue.builtin()).merged(load_instruments(path))


def _instrument(path: Path, where: str, entry: object) -> Instrument:
    if not isinstance(entry, Mapping):
        raise CatalogueError(path, where, "must be a table of contract fields")
    for key in entry:
        if key not in _TYPES:
            raise CatalogueError(path, f"{where}.{key}", "unknown key")
    for key in _REQUIRED:
        if key not in entry:
            raise CatalogueError(path, f"{where}.{key}", "required key is missing")
    values = _typed(path, where, entry)
    price = values.pop("price")
    lot = values.pop("lot", 1 if values["sec_type"] == "FUT" else 100)
    depth = values.pop("depth", True)
    if values["sec_type"] == "CASH":
        values.setdefault("local_symbol", f"{values['symbol']}.{values['currency']}")
    values.setdefault("local_symbol", values["symbol"])
    values.setdefault("trading_class", values["local_symbol"])
    values.setdefault("market_name", values["trading_class"])
    values.setdefault("valid_exchanges", values["exchange"])
    try:
        return Instrument(ContractSpec(**values), price=price, lot=lot, depth=depth)
    except ValueError as exc:
        raise CatalogueError(path, where, str(exc)) from exc


def _typed(path: Path, where: str, entry: Mapping[str, Any]) -> dict[str, Any]:
    """The entry's values as their fields' types, by ``msgspec.convert``; errors name the key."""
    raw = dict(entry)
    if isinstance(raw.get("sec_ids"), Mapping):  # {ISIN = "..."}: the pairs ContractSpec holds
        raw["sec_ids"] = list(raw["sec_ids"].items())
    try:
        typed = msgspec.convert(raw, _ENTRY, strict=True)
    except msgspec.ValidationError as exc:
        found = re.search(r" - at `\$\.(\w+)((?:\[\d+\])*)`$", str(exc))
        if found is None:  # msgspec names no key of the entry: blame the entry
            raise CatalogueError(path, where, str(exc)) from exc
        key, depth = found[1], found[2].count("[")
        raise CatalogueError(path, f"{where}.{key}", _problem(key, entry[key], depth)) from None
    values = {key: getattr(typed, key) for key in entry}
    for key, value in values.items():
        if isinstance(value, str) and not value.isascii():
            raise CatalogueError(
                path, f"{where}.{key}", "must be ASCII (the TWS protocol is ASCII)"
            )
    return values


def _problem(key: str, value: object, depth: int) -> str:
    """What is wrong with ``value`` for ``key``; ``depth`` is how far into it msgspec went."""
    if key == "sec_ids":  # a pair's tag or value (depth 2), or the pairs themselves
        return (
            "tags and values must be strings"
            if depth == 2
            else 'must be a table like {ISIN = "..."}'
        )
    return f"must be {_KIND_NAMES[_TYPES[key]]}, not {value!r}"
