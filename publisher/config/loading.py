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

Typing is :mod:`publisher.config.convert`'s (``msgspec.convert``: strict for the file's TOML
values, lax for the text of variables and flags); the value objects then check the values.

This module does I/O: :func:`load_settings` reads the configuration file at the path it is
given, and the environment mapping it is passed (none unless one is passed; only
:mod:`publisher.cli` passes ``os.environ``). It prints nothing.
"""

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from typing import Any, Final, NamedTuple, TypeVar

from publisher.config.convert import describe, from_text, typed_instrument, typed_sections
from publisher.config.model import InstrumentSpec, Settings
from publisher.config.rules import suggest
from publisher.config.schema import (
    BY_DOTTED,
    BY_ENV,
    ENV_PREFIX,
    INSTRUMENTS,
    SECTIONS,
    flag_name,
)
from publisher.errors import ConfigError

__all__ = ["COMMAND_LINE", "ENVIRONMENT", "load_settings"]

ENVIRONMENT: Final = "environment"
"""``ConfigError.file`` for a bad ``IBPUB_*`` variable."""
COMMAND_LINE: Final = "command line"
"""``ConfigError.file`` for a bad flag."""


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
    values: dict[str, _Given] = {}
    for section, table in typed_sections(sections, source).items():
        for name, value in table.items():
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
        value = from_text(env[name], setting, ENVIRONMENT, name)
        values[setting.dotted] = _Given(value, ENVIRONMENT, name)
    return values


def _override_values(overrides: Mapping[str, str]) -> dict[str, _Given]:
    values: dict[str, _Given] = {}
    for dotted, text in overrides.items():
        setting = BY_DOTTED.get(dotted)
        if setting is None:
            raise ConfigError(COMMAND_LINE, dotted, "names no setting" + suggest(dotted, BY_DOTTED))
        flag = flag_name(dotted)
        values[dotted] = _Given(from_text(text, setting, COMMAND_LINE, flag), COMMAND_LINE, flag)
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
        raise ConfigError(source, where, f"expected a table, got {describe(table)}")
    values: dict[str, Any] = {"key": "", "symbol": "", **typed_instrument(table, source, where)}
    if "sec_type" not in values:
        raise ConfigError(source, f"{where}.sec_type", 'is required (e.g. "STK")')
    try:
        spec = InstrumentSpec(**values)
    except ConfigError as exc:
        raise ConfigError(source, f"{where}.{exc.key}", exc.problem) from None
    if spec.open_ended:  # a config names one contract; a control request may ask for months
        problem = "is required for FUT (or give local_symbol or con_id)"
        raise ConfigError(source, f"{where}.last_trade_date", problem)
    return spec


def _instruments(document: Mapping[str, Any], source: str) -> tuple[InstrumentSpec, ...]:
    tables = document.get(INSTRUMENTS)
    if tables is None or tables == []:
        raise ConfigError(source, INSTRUMENTS, "at least one [[instruments]] table is required")
    if not isinstance(tables, list):
        raise ConfigError(
            source,
            INSTRUMENTS,
            f"expected an array of tables ([[instruments]]), got {describe(tables)}",
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
    _check_kind_limits(instruments, sections["gateway"], source)
    return Settings(source=source, instruments=instruments, **sections)


def _check_kind_limits(instruments: tuple[InstrumentSpec, ...], gateway: Any, source: str) -> None:
    """IB's per-kind limits hold for the configured instruments alone (a request beyond them at
    run time is ``limit_exceeded``; a config beyond them could never be served)."""
    for family, limit, name in (
        ("tbt", gateway.max_tick_by_tick, "max_tick_by_tick"),
        ("depth", gateway.max_depth, "max_depth"),
    ):
        used = 0
        for position, spec in enumerate(instruments):
            used += sum(1 for kind in spec.kinds if kind.family == family)
            if used > limit:
                raise ConfigError(
                    source,
                    f"{INSTRUMENTS}[{position}].data",
                    f"{used} {family} streams asked for, more than gateway.{name} = {limit} "
                    f"(IB's limit; raise it if your account allows more)",
                )
