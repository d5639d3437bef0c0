"""Typing raw values with ``msgspec.convert``: strict for TOML, lax for text. Pure.

The tables msgspec converts into are built from the value objects' fields
(:mod:`publisher.config.schema`), every key optional and unknown keys refused. TOML values are
converted strictly (TOML has types, so ``port = "4001"`` is a mistake worth reporting; an
integer is accepted for a number). The text of ``IBPUB_*`` variables and flags is converted
laxly (``"4002"`` becomes 4002), after its spelling is made plain: surrounding blanks, a leading
``+``, leading zeros, ``.5`` and ``5.``, and the boolean words ``yes``/``no``/``on``/``off``,
so that what the hand-written parser accepted is still accepted; an integer setting still
refuses ``1.0`` and ``1e3``, which msgspec's lax mode would take.

msgspec's errors are turned back into :class:`~publisher.errors.ConfigError`'s
``file: key: problem`` wording from the path they carry (``$.gateway.port``) and the value found
there, with a did-you-mean hint for an unknown section or key.
"""

import re
import typing
from collections.abc import Iterable, Mapping
from typing import Any, Final

import msgspec

from publisher.config.rules import suggest
from publisher.config.schema import (
    BY_DOTTED,
    INSTRUMENT_FIELDS,
    INSTRUMENTS,
    SCALARS,
    SECTIONS,
    Setting,
)
from publisher.errors import ConfigError

__all__ = ["describe", "from_text", "typed_instrument", "typed_sections"]


# -- the tables msgspec types values into --------------------------------------------------------


def _table(name: str, types: Mapping[str, Any]) -> type[msgspec.Struct]:
    """A struct with every key optional (``UNSET`` when not given) and unknown keys refused."""
    return msgspec.defstruct(
        name,
        [(key, kind | msgspec.UnsetType, msgspec.UNSET) for key, kind in types.items()],
        forbid_unknown_fields=True,
    )


_SECTION_TABLES: Final = {
    section: _table(f"{section}_table", typing.get_type_hints(cls))
    for section, cls in SECTIONS.items()
}
_FILE_TABLE: Final = _table("file_sections", _SECTION_TABLES)
_INSTRUMENT_TABLE: Final = _table("instrument_table", INSTRUMENT_FIELDS)


def _given(table: msgspec.Struct) -> dict[str, Any]:
    """The keys a converted table was given, with their typed values."""
    values = {name: getattr(table, name) for name in table.__struct_fields__}
    return {name: value for name, value in values.items() if value is not msgspec.UNSET}


# -- msgspec's errors in this module's words -----------------------------------------------------

_AT: Final = re.compile(r" - at `\$(.*)`$")
_STEP: Final = re.compile(r"\.(\w+)|\[(\d+)\]")


def _path(exc: msgspec.ValidationError) -> list[str | int]:
    """Where in the converted value msgspec found the problem: ``$.bus.pub[1]`` is bus, pub, 1."""
    found = _AT.search(str(exc))
    steps = _STEP.findall(found[1]) if found else []
    return [int(index) if index else name for name, index in steps]


def _expected(kind: Any) -> str:
    """A type as TOML calls it, for "expected X, got Y"."""
    args = typing.get_args(kind)
    if typing.get_origin(kind) is tuple:
        return "an array of integers" if args[0] is int else "an array of strings"
    if int in args or kind is int:
        return "an integer"
    if kind is float:
        return "a number"
    if kind is bool:
        return "a boolean (true or false)"
    return "a string"


def describe(value: object) -> str:
    """A value as TOML calls it, for "expected X, got Y"."""
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"float {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return f"string {shown!r}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"{type(value).__name__} {value}"  # TOML dates and times


def _unknown_section(name: str) -> str:
    hint = suggest(name, [*SECTIONS, INSTRUMENTS])
    if not hint:
        owners = [s.dotted for s in SCALARS if s.name == name]
        if owners:
            hint = f" (did you mean {owners[0]!r}, under [{owners[0].split('.')[0]}]?)"
    return f"unknown section{hint}; valid sections: {', '.join([*SECTIONS, INSTRUMENTS])}"


def _unknown_key(section: str, name: str, valid: Iterable[str]) -> str:
    hint = suggest(name, valid)
    if not hint:
        elsewhere = [s.section for s in SCALARS if s.name == name and s.section != section]
        if elsewhere:
            hint = f" ({name!r} belongs in [{elsewhere[0]}])"
    return "unknown key" + hint


def _first_unknown(table: Mapping[str, object], valid: Iterable[str]) -> str | None:
    known = set(valid)
    return next((name for name in table if name not in known), None)


def _as_msgspec_says(exc: msgspec.ValidationError, source: str, key: str) -> ConfigError:
    """msgspec's own words, for a complaint the mapping above does not foresee."""
    return ConfigError(source, key, _AT.sub("", str(exc)))


def _sections_error(
    sections: Mapping[str, Any], exc: msgspec.ValidationError, source: str
) -> ConfigError:
    """The ``ConfigError`` for msgspec's complaint about the file's sections."""
    path = _path(exc)
    if not path:  # the document itself: a section that does not exist
        section = _first_unknown(sections, SECTIONS)
        if section is None:
            return _as_msgspec_says(exc, source, "-")
        return ConfigError(source, section, _unknown_section(section))
    section = str(path[0])
    table = sections[section]
    if not isinstance(table, dict):
        return ConfigError(
            source, section, f"expected a table ([{section}]), got {describe(table)}"
        )
    valid = _SECTION_TABLES[section].__struct_fields__
    if len(path) == 1:  # the table itself: a key that does not exist
        name = _first_unknown(table, valid)
        if name is None:
            return _as_msgspec_says(exc, source, section)
        return ConfigError(source, f"{section}.{name}", _unknown_key(section, name, valid))
    setting = BY_DOTTED[f"{section}.{path[1]}"]
    problem = f"expected {_expected(setting.type)}, got {describe(table[setting.name])}"
    return ConfigError(source, setting.dotted, problem)


def _instrument_error(
    table: Mapping[str, Any], exc: msgspec.ValidationError, source: str, where: str
) -> ConfigError:
    """The ``ConfigError`` for msgspec's complaint about one ``[[instruments]]`` table."""
    path = _path(exc)
    if not path:  # the table itself: a key that does not exist
        name = _first_unknown(table, INSTRUMENT_FIELDS)
        if name is None:
            return _as_msgspec_says(exc, source, where)
        problem = "unknown key" + suggest(name, INSTRUMENT_FIELDS)
        return ConfigError(source, f"{where}.{name}", problem)
    name = str(path[0])
    problem = f"expected {_expected(INSTRUMENT_FIELDS[name])}, got {describe(table[name])}"
    return ConfigError(source, f"{where}.{name}", problem)


# -- text (variables and flags) made plain for msgspec's lax conversion ----------------------

_INTEGER: Final = re.compile(r"(-?)0*([0-9]+)")
_DECIMAL: Final = re.compile(r"(-?)([0-9]*)(?:(\.)([0-9]*))?([eE][+-]?[0-9]+)?")
_TRUE_WORDS: Final = frozenset({"true", "1", "yes", "on"})
_FALSE_WORDS: Final = frozenset({"false", "0", "no", "off"})
"""How an environment variable or flag spells a boolean (case-insensitive)."""


class _NotOfTypeError(ValueError):
    """The text cannot be the setting's type, whatever msgspec would make of it."""


def _unsigned(text: str) -> str:
    """``text`` without blanks around it or one leading ``+`` (which msgspec refuses)."""
    plain = text.strip()
    return plain[1:] if plain[:1] == "+" and plain[1:2] not in ("+", "-") else plain


def _plain_integer(text: str) -> str:
    found = _INTEGER.fullmatch(_unsigned(text))
    if not found:  # msgspec's lax mode reads "1.0" and "1e3" as integers; a setting does not
        raise _NotOfTypeError(text)
    return found[1] + found[2]


def _plain_number(text: str) -> str:
    plain = _unsigned(text)
    found = _DECIMAL.fullmatch(plain)
    if not found or not (found[2] or found[4]):
        return plain  # nan, inf, infinity: msgspec reads them; anything else it refuses
    sign, whole, dot, fraction, exponent = found.groups(default="")
    whole = whole.lstrip("0") or "0"  # msgspec refuses leading zeros
    return f"{sign}{whole}{dot and '.'}{fraction or (dot and '0')}{exponent}"


def _plain_text(text: str, kind: Any) -> object:
    """What msgspec's lax mode is handed for ``text`` as a value of type ``kind``."""
    if kind is int:
        return _plain_integer(text)
    if kind is float:
        return _plain_number(text)
    if kind is bool:
        word = text.strip().lower()
        return "true" if word in _TRUE_WORDS else "false" if word in _FALSE_WORDS else word
    if typing.get_origin(kind) is tuple:
        item = typing.get_args(kind)[0]
        return [_plain_text(part.strip(), item) for part in text.split(",") if part.strip()]
    return text


def _expected_text(kind: Any) -> str:
    if typing.get_origin(kind) is tuple and typing.get_args(kind)[0] is int:
        return "comma-separated integers"
    return _expected(kind)


def from_text(text: str, setting: Setting, file: str, key: str) -> object:
    """A variable's or a flag's text as a value of the setting's type."""
    if setting.default is None and not text.strip():
        return None  # an empty optional setting means "unset"
    try:
        return msgspec.convert(_plain_text(text, setting.type), setting.type, strict=False)
    except (msgspec.ValidationError, _NotOfTypeError):
        problem = f"expected {_expected_text(setting.type)}, got {describe(text)}"
        raise ConfigError(file, key, problem) from None


def typed_sections(sections: Mapping[str, Any], source: str) -> dict[str, dict[str, Any]]:
    """The file's ``[section]`` tables, typed strictly: ``{section: {key: value}}`` as given."""
    try:
        typed = msgspec.convert(sections, _FILE_TABLE, strict=True)
    except msgspec.ValidationError as exc:
        raise _sections_error(sections, exc, source) from None
    return {section: _given(table) for section, table in _given(typed).items()}


def typed_instrument(table: Mapping[str, Any], source: str, where: str) -> dict[str, Any]:
    """One ``[[instruments]]`` table (``where`` is ``instruments[i]``), typed strictly."""
    try:
        return _given(msgspec.convert(table, _INSTRUMENT_TABLE, strict=True))
    except msgspec.ValidationError as exc:
        raise _instrument_error(table, exc, source, where) from None
