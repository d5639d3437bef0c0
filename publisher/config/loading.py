"""Loading the settings: the TOML file, ``IBPUB_*`` variables and flags, merged and validated once.

Where a setting's value comes from, highest first:

1. a command-line flag (``overrides``: ``{"gateway.port": "4002"}``, from ``--gateway-port``),
2. the environment (``IBPUB_<SECTION>_<KEY>``, e.g. ``IBPUB_GATEWAY_PORT=4002``),
3. the configuration file,
4. the defaults (``DEFAULT_*`` in :mod:`publisher.config.model`).

Instruments (``[[instruments]]`` tables) come from the file only. Unknown sections, keys and
``IBPUB_*`` variables are errors (with a did-you-mean hint), as are wrong types and invalid
values; each raises :class:`~publisher.errors.ConfigError` naming the file (or ``environment``,
or ``command line``), the key and the problem.

Typing is ``msgspec.convert`` over tables built from the value objects' fields: strict for TOML
values (TOML has types, so ``port = "4001"`` is a mistake worth reporting; an integer is accepted
for a number), lax for the text of variables and flags (``"4002"`` becomes 4002). Before the lax
conversion the text's spelling is made plain (surrounding blanks, a leading ``+``, leading zeros,
``.5``, the boolean words ``yes``/``no``/``on``/``off``), so what was accepted before msgspec still
is; an integer setting still refuses ``1.0`` and ``1e3``. msgspec's errors are turned back into
this module's ``file: key: problem`` wording from the path they carry and the value found there.

This module does I/O: :func:`load_settings` reads the configuration file at the path it is
given, and the environment mapping it is passed (none unless one is passed; only
:mod:`publisher.cli` passes ``os.environ``). It prints nothing.
"""

import os
import re
import tomllib
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, NamedTuple, TypeVar

import msgspec

from publisher.config.model import InstrumentSpec, Settings
from publisher.config.rules import suggest
from publisher.config.schema import (
    BY_DOTTED,
    BY_ENV,
    ENV_PREFIX,
    INSTRUMENT_FIELDS,
    INSTRUMENTS,
    SCALARS,
    SECTIONS,
    Setting,
    flag_name,
)
from publisher.errors import ConfigError

__all__ = ["COMMAND_LINE", "ENVIRONMENT", "load_settings"]

ENVIRONMENT: Final = "environment"
"""``ConfigError.file`` for a bad ``IBPUB_*`` variable."""
COMMAND_LINE: Final = "command line"
"""``ConfigError.file`` for a bad flag."""


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


def _describe(value: object) -> str:
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


def _first_unknown(table: Mapping[str, object], valid: Iterable[str]) -> str:
    known = set(valid)
    return next(name for name in table if name not in known)


def _sections_error(
    sections: Mapping[str, Any], exc: msgspec.ValidationError, source: str
) -> ConfigError:
    """The ``ConfigError`` for msgspec's complaint about the file's sections."""
    path = _path(exc)
    if not path:  # the document itself: a section that does not exist
        section = _first_unknown(sections, SECTIONS)
        return ConfigError(source, section, _unknown_section(section))
    section = str(path[0])
    table = sections[section]
    if not isinstance(table, dict):
        return ConfigError(
            source, section, f"expected a table ([{section}]), got {_describe(table)}"
        )
    valid = _SECTION_TABLES[section].__struct_fields__
    if len(path) == 1:  # the table itself: a key that does not exist
        name = _first_unknown(table, valid)
        return ConfigError(source, f"{section}.{name}", _unknown_key(section, name, valid))
    setting = BY_DOTTED[f"{section}.{path[1]}"]
    problem = f"expected {_expected(setting.type)}, got {_describe(table[setting.name])}"
    return ConfigError(source, setting.dotted, problem)


def _instrument_error(
    table: Mapping[str, Any], exc: msgspec.ValidationError, source: str, where: str
) -> ConfigError:
    """The ``ConfigError`` for msgspec's complaint about one ``[[instruments]]`` table."""
    path = _path(exc)
    if not path:  # the table itself: a key that does not exist
        name = _first_unknown(table, INSTRUMENT_FIELDS)
        problem = "unknown key" + suggest(name, INSTRUMENT_FIELDS)
        return ConfigError(source, f"{where}.{name}", problem)
    name = str(path[0])
    problem = f"expected {_expected(INSTRUMENT_FIELDS[name])}, got {_describe(table[name])}"
    return ConfigError(source, f"{where}.{name}", problem)


# -- text (variables and flags) made plain for msgspec's lax conversion ----------------------

_INTEGER: Final = re.compile(r"(-?)0*([0-9]+)")
_DECIMAL: Final = re.compile(r"(-?)([0-9]*)(?:(\.)([0-9]*))?([eE][+-]?[0-9]+)?")
_TRUE_WORDS: Final = frozenset({"true", "1", "yes", "on"})
_FALSE_WORDS: Final = frozenset({"false", "0", "no", "off"})
"""How an environment variable or flag spells a boolean (case-insensitive)."""


class _NotOfTypeError(ValueError):
    """The text cannot be the setting's type, whatever msgspec would make of it."""


def _plain_integer(text: str) -> str:
    found = _INTEGER.fullmatch(text.strip().removeprefix("+"))
    if not found:  # msgspec's lax mode reads "1.0" and "1e3" as integers; a setting does not
        raise _NotOfTypeError(text)
    return found[1] + found[2]


def _plain_number(text: str) -> str:
    plain = text.strip().removeprefix("+")
    found = _DECIMAL.fullmatch(plain)
    if not found or not (found[2] or found[4]):
        return plain  # nan, inf, infinity: msgspec reads them; anything else it refuses
    sign, whole, dot, fraction, exponent = found.groups(default="")
    return f"{sign}{int(whole or '0')}{dot and '.'}{fraction or (dot and '0')}{exponent}"


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


def _from_text(text: str, setting: Setting, file: str, key: str) -> object:
    """A variable's or a flag's text as a value of the setting's type."""
    if setting.default is None and not text.strip():
        return None  # an empty optional setting means "unset"
    try:
        return msgspec.convert(_plain_text(text, setting.type), setting.type, strict=False)
    except (msgspec.ValidationError, _NotOfTypeError):
        problem = f"expected {_expected_text(setting.type)}, got {_describe(text)}"
        raise ConfigError(file, key, problem) from None


# -- loading -----------------------------------------------------------------------------------


class _Given(NamedTuple):
    """A value and where it came from (for errors): (file, key) as ``ConfigError`` shows them."""

    value: object
    file: str
    key: str


def _read_document(source: str) -> dict[str, Any]:
    try:
        with open(source, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise ConfigError(source, "-", "file not found") from None
    except IsADirectoryError:
        raise ConfigError(source, "-", "is a directory, not a file") from None
    except OSError as exc:
        raise ConfigError(source, "-", f"cannot read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(source, "-", f"not UTF-8 text (bad byte at offset {exc.start})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = re.fullmatch(r"(.*) \(at (line \d+, column \d+|end of document)\)", message)
        if found:
            raise ConfigError(source, found[2], found[1]) from None
        raise ConfigError(source, "-", message) from None


def _file_values(document: Mapping[str, Any], source: str) -> dict[str, _Given]:
    sections = {name: table for name, table in document.items() if name != INSTRUMENTS}
    try:
        typed = msgspec.convert(sections, _FILE_TABLE, strict=True)
    except msgspec.ValidationError as exc:
        raise _sections_error(sections, exc, source) from None
    values: dict[str, _Given] = {}
    for section, table in _given(typed).items():
        for name, value in _given(table).items():
            dotted = f"{section}.{name}"
            if name.startswith("curve_") and value:
                # Relative key paths are relative to the configuration file, not the cwd.
                value = os.path.join(os.path.dirname(source), value)
            values[dotted] = _Given(value, source, dotted)
    return values


def _env_values(env: Mapping[str, str]) -> dict[str, _Given]:
    values: dict[str, _Given] = {}
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX):
            continue
        setting = BY_ENV.get(name)
        if setting is None:
            if name.startswith(ENV_PREFIX + "INSTRUMENTS"):
                hint = " (instruments come from the configuration file only)"
            else:
                hint = suggest(name, BY_ENV)
            raise ConfigError(ENVIRONMENT, name, f"names no setting{hint}")
        value = _from_text(env[name], setting, ENVIRONMENT, name)
        values[setting.dotted] = _Given(value, ENVIRONMENT, name)
    return values


def _override_values(overrides: Mapping[str, str]) -> dict[str, _Given]:
    values: dict[str, _Given] = {}
    for dotted, text in overrides.items():
        setting = BY_DOTTED.get(dotted)
        if setting is None:
            raise ConfigError(COMMAND_LINE, dotted, "names no setting" + suggest(dotted, BY_DOTTED))
        flag = flag_name(dotted)
        values[dotted] = _Given(_from_text(text, setting, COMMAND_LINE, flag), COMMAND_LINE, flag)
    return values


T = TypeVar("T")


def _build(cls: Callable[..., T], section: str, given: Mapping[str, _Given], source: str) -> T:
    """Construct one section, reporting a refused value where the user wrote it."""
    try:
        return cls(**{name: g.value for name, g in given.items()})
    except ConfigError as exc:
        origin = given.get(exc.key)
        if origin is None:
            raise ConfigError(source, f"{section}.{exc.key}", exc.problem) from None
        raise ConfigError(origin.file, origin.key, exc.problem) from None


def _instrument(position: int, table: object, source: str) -> InstrumentSpec:
    where = f"{INSTRUMENTS}[{position}]"
    if not isinstance(table, dict):
        raise ConfigError(source, where, f"expected a table, got {_describe(table)}")
    try:
        typed = msgspec.convert(table, _INSTRUMENT_TABLE, strict=True)
    except msgspec.ValidationError as exc:
        raise _instrument_error(table, exc, source, where) from None
    values: dict[str, Any] = {"key": "", "symbol": "", **_given(typed)}
    if "sec_type" not in values:
        raise ConfigError(source, f"{where}.sec_type", 'is required (e.g. "STK")')
    try:
        return InstrumentSpec(**values)
    except ConfigError as exc:
        raise ConfigError(source, f"{where}.{exc.key}", exc.problem) from None


def _instruments(document: Mapping[str, Any], source: str) -> tuple[InstrumentSpec, ...]:
    tables = document.get(INSTRUMENTS)
    if tables is None or tables == []:
        raise ConfigError(source, INSTRUMENTS, "at least one [[instruments]] table is required")
    if not isinstance(tables, list):
        raise ConfigError(
            source,
            INSTRUMENTS,
            f"expected an array of tables ([[instruments]]), got {_describe(tables)}",
        )
    return tuple(_instrument(i, table, source) for i, table in enumerate(tables))


def load_settings(
    path: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> Settings:
    """Read, merge and validate the settings; raises :class:`ConfigError` on the first problem.

    ``env`` is the environment to read ``IBPUB_*`` variables from (none when ``None``);
    ``overrides`` maps ``"section.key"`` to a flag's string value (see
    :func:`~publisher.config.flags.overrides_from_args`). Flags win over the environment, the
    environment over the file.
    """
    source = os.fspath(path)
    document = _read_document(source)
    merged = {
        **_file_values(document, source),
        **_env_values(env or {}),
        **_override_values(overrides or {}),
    }
    instruments = _instruments(document, source)
    sections: dict[str, Any] = {}
    for section, cls in SECTIONS.items():
        prefix = section + "."
        given = {k.removeprefix(prefix): g for k, g in merged.items() if k.startswith(prefix)}
        sections[section] = _build(cls, section, given, source)
    return Settings(source=source, instruments=instruments, **sections)
