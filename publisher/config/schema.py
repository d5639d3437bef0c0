"""Which settings exist: the sections, their keys and types, and each key's variable and flag.

Derived from the value objects' fields (:mod:`publisher.config.model`), so a field added there is
at once a TOML key, an ``IBPUB_*`` variable and a ``--section-key`` flag. Pure: a table, and the
functions that name a setting's variable and flag.
"""

import typing
from collections.abc import Iterable, Mapping
from dataclasses import MISSING, fields
from typing import Any, Final, NamedTuple

from publisher.config.control import ControlSettings
from publisher.config.model import (
    BusSettings,
    GatewaySettings,
    InstrumentSpec,
    MetricsSettings,
    PublisherSettings,
)

__all__ = [
    "BY_DOTTED",
    "BY_ENV",
    "ENV_PREFIX",
    "INSTRUMENTS",
    "INSTRUMENT_FIELDS",
    "SCALARS",
    "SCALAR_SETTINGS",
    "SECTIONS",
    "Setting",
    "dest",
    "env_var_name",
    "flag_name",
]

ENV_PREFIX: Final = "IBPUB_"

SECTIONS: Final[Mapping[str, type[Any]]] = {
    "publisher": PublisherSettings,
    "gateway": GatewaySettings,
    "bus": BusSettings,
    "metrics": MetricsSettings,
    "control": ControlSettings,
}
"""The file's ``[section]`` tables and the value object each becomes."""
INSTRUMENTS: Final = "instruments"
"""The file's ``[[instruments]]`` array (from the file only: no variable or flag sets it)."""


class Setting(NamedTuple):
    """One overridable setting: ``section.name``, its field type and its default."""

    section: str
    name: str
    type: Any  # the field's annotation: int, float, str, bool, tuple[str, ...], str | None, ...
    default: object  # None: optional, unset

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.name}"

    @property
    def kind(self) -> type:
        """str, int, float, bool or tuple: what the value is, for messages and flag help."""
        return str if self.default is None else type(self.default)


def env_var_name(dotted: str) -> str:
    """``gateway.client_id`` -> ``IBPUB_GATEWAY_CLIENT_ID``."""
    return ENV_PREFIX + dotted.replace(".", "_").upper()


def flag_name(dotted: str) -> str:
    """``gateway.client_id`` -> ``--gateway-client-id``."""
    return "--" + dotted.replace(".", "-").replace("_", "-")


def dest(dotted: str) -> str:
    """``gateway.client_id`` -> ``gateway_client_id``, the flag's ``argparse`` destination."""
    return dotted.replace(".", "_")


def _settings_of(section: str, cls: type[Any]) -> Iterable[Setting]:
    hints = typing.get_type_hints(cls)
    for f in fields(cls):
        assert f.default is not MISSING, f"{cls.__name__}.{f.name} needs a default"
        yield Setting(section, f.name, hints[f.name], f.default)


SCALARS: Final[tuple[Setting, ...]] = tuple(
    setting for section, cls in SECTIONS.items() for setting in _settings_of(section, cls)
)
BY_DOTTED: Final[Mapping[str, Setting]] = {s.dotted: s for s in SCALARS}
BY_ENV: Final[Mapping[str, Setting]] = {env_var_name(s.dotted): s for s in SCALARS}

SCALAR_SETTINGS: Final[tuple[tuple[str, type], ...]] = tuple((s.dotted, s.kind) for s in SCALARS)
"""Every setting an environment variable or a flag can override, as ("section.key", type).
``bus.pub`` has type ``tuple`` (of endpoint strings; comma-separated in a variable or flag)."""

INSTRUMENT_FIELDS: Final[Mapping[str, Any]] = typing.get_type_hints(InstrumentSpec)
"""An ``[[instruments]]`` table's keys and their types."""
