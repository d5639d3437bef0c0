"""``ibpub bridge``'s settings: its own TOML schema, loaded by the publisher's config machinery.

Sections ``[bridge]``, ``[nats]`` and ``[metrics]`` (contract 1.1, "History: NATS JetStream
bridge"). As for ``ibpub run``, every key can be overridden by ``IBPUB_<SECTION>_<KEY>`` and by
``--<section>-<key>``: flags win over the environment, the environment over the file. The file
is read by :mod:`publisher.config.loading`, text is typed by
:func:`publisher.config.convert.from_text`, and every problem is a
:class:`~publisher.errors.ConfigError` naming the file (or ``environment``, ``command line``),
the key and the problem. Pure apart from reading the file it is given.

No setting holds a secret: ``credentials``, ``nkeys_seed`` and the TLS keys are paths to
files, and a server URL's ``user:password@`` part is masked wherever it is shown
(:func:`masked_url`).
"""

import math
import os
import re
import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any, Final

import msgspec

from publisher.config.convert import describe, from_text
from publisher.config.loading import COMMAND_LINE, ENVIRONMENT
from publisher.config.loading import _read_document as read_document
from publisher.config.rules import KEY_PATTERN, KEY_RULE, suggest
from publisher.config.schema import Setting, env_var_name, flag_name
from publisher.endpoints import endpoint_problem, host_port_problem
from publisher.errors import ConfigError

__all__ = [
    "BRIDGE_SECTIONS",
    "DEFAULT_BRIDGE_METRICS_LISTEN",
    "DEFAULT_MAX_BUFFERED",
    "DEFAULT_MAX_PENDING",
    "DEFAULT_NATS_SERVERS",
    "DEFAULT_STREAM",
    "BridgeConfig",
    "BridgeMetricsSettings",
    "BridgeSettings",
    "NatsSettings",
    "bridge_settings",
    "is_bridge_document",
    "load_bridge_settings",
    "masked_url",
]

DEFAULT_BRIDGE_NAME: Final = "bridge"
DEFAULT_UPSTREAM: Final[tuple[str, ...]] = ("tcp://127.0.0.1:7700",)
DEFAULT_MAX_BUFFERED: Final = 100_000
DEFAULT_NATS_SERVERS: Final[tuple[str, ...]] = ("nats://127.0.0.1:4222",)
DEFAULT_STREAM: Final = "IBPUB"
DEFAULT_REPLICAS: Final = 1
DEFAULT_MAX_AGE: Final = 86_400.0
DEFAULT_MAX_BYTES: Final = -1
DEFAULT_DUPLICATE_WINDOW: Final = 120.0
DEFAULT_MAX_PENDING: Final = 4096
"""Published messages not yet acknowledged by JetStream, at most (the async window)."""
DEFAULT_BRIDGE_METRICS_LISTEN: Final = "127.0.0.1:9702"

_STREAM_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_NATS_URL: Final = re.compile(r"(nats|tls|ws|wss)://([^/@\s]+@)?[^/@\s:]+(:[0-9]{1,5})?/?")


def masked_url(url: str) -> str:
    """``nats://user:secret@host:4222`` -> ``nats://***@host:4222`` (for logs and errors)."""
    return re.sub(r"://[^/@]+@", "://***@", url)


def _problem(cls: type, key: str, problem: str) -> ConfigError:
    return ConfigError(cls.__name__, key, problem)


@dataclass(frozen=True, slots=True)
class BridgeSettings:
    """``[bridge]``: what the bridge is called, which buses it copies, how much it holds."""

    name: str = DEFAULT_BRIDGE_NAME
    upstream: tuple[str, ...] = DEFAULT_UPSTREAM
    max_buffered: int = DEFAULT_MAX_BUFFERED

    def __post_init__(self) -> None:
        if not KEY_PATTERN.fullmatch(self.name):
            raise _problem(type(self), "name", f"must be {KEY_RULE}, got {self.name!r}")
        if not self.upstream:
            raise _problem(type(self), "upstream", "at least one endpoint is required")
        for endpoint in self.upstream:
            problem = endpoint_problem(endpoint, bind=False)
            if problem:
                raise _problem(type(self), "upstream", problem)
        if not 1 <= self.max_buffered <= 100_000_000:
            raise _problem(type(self), "max_buffered", f"must be 1..1e8, got {self.max_buffered}")


@dataclass(frozen=True, slots=True)
class NatsSettings:
    """``[nats]``: the servers, the stream and its limits, and how to authenticate."""

    servers: tuple[str, ...] = DEFAULT_NATS_SERVERS
    stream: str = DEFAULT_STREAM
    replicas: int = DEFAULT_REPLICAS
    max_age: float = DEFAULT_MAX_AGE
    max_bytes: int = DEFAULT_MAX_BYTES
    duplicate_window: float = DEFAULT_DUPLICATE_WINDOW
    max_pending: int = DEFAULT_MAX_PENDING
    credentials: str = ""
    nkeys_seed: str = ""
    tls_ca: str = ""
    tls_cert: str = ""
    tls_key: str = ""

    def __post_init__(self) -> None:
        cls = type(self)
        if not self.servers:
            raise _problem(cls, "servers", "at least one server URL is required")
        for url in self.servers:
            if not _NATS_URL.fullmatch(url):
                shown = masked_url(url)
                raise _problem(cls, "servers", f"expected nats://HOST:PORT, got {shown!r}")
        if not _STREAM_NAME.fullmatch(self.stream):
            problem = f"must be 1 to 64 of A-Z a-z 0-9 _ -, got {self.stream!r}"
            raise _problem(cls, "stream", problem)
        if not 1 <= self.replicas <= 5:
            raise _problem(cls, "replicas", f"must be 1..5, got {self.replicas}")
        if not (math.isfinite(self.max_age) and self.max_age > 0):
            raise _problem(cls, "max_age", f"must be > 0 seconds, got {self.max_age}")
        if self.max_bytes != -1 and self.max_bytes < 1:
            raise _problem(cls, "max_bytes", f"must be -1 (no limit) or > 0, got {self.max_bytes}")
        window = self.duplicate_window
        if not (math.isfinite(window) and 0 < window <= self.max_age):
            problem = f"must be > 0 and at most max_age ({self.max_age:g}), got {window}"
            raise _problem(cls, "duplicate_window", problem)
        if not 1 <= self.max_pending <= 1_000_000:
            raise _problem(cls, "max_pending", f"must be 1..1000000, got {self.max_pending}")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise _problem(cls, "tls_cert", "tls_cert and tls_key go together (both or neither)")

    @property
    def shown_servers(self) -> str:
        return ", ".join(masked_url(url) for url in self.servers)


@dataclass(frozen=True, slots=True)
class BridgeMetricsSettings:
    """``[metrics]``: where ``/metrics``, ``/healthz`` and ``/readyz`` are served."""

    listen: str = DEFAULT_BRIDGE_METRICS_LISTEN

    def __post_init__(self) -> None:
        problem = host_port_problem(self.listen)
        if problem:
            raise _problem(type(self), "listen", problem)


@dataclass(frozen=True, slots=True)
class BridgeConfig:
    """Everything ``ibpub bridge`` runs with; ``source`` is the file it came from."""

    source: str
    bridge: BridgeSettings
    nats: NatsSettings
    metrics: BridgeMetricsSettings


BRIDGE_SECTIONS: Final[Mapping[str, type[Any]]] = {
    "bridge": BridgeSettings,
    "nats": NatsSettings,
    "metrics": BridgeMetricsSettings,
}
_PATH_KEYS: Final = frozenset({"credentials", "nkeys_seed", "tls_ca", "tls_cert", "tls_key"})


def _settings_of(section: str, cls: type[Any]) -> list[Setting]:
    hints = typing.get_type_hints(cls)
    found = []
    for f in fields(cls):
        assert f.default is not MISSING
        found.append(Setting(section, f.name, hints[f.name], f.default))
    return found


SETTINGS: Final[tuple[Setting, ...]] = tuple(
    s for section, cls in BRIDGE_SECTIONS.items() for s in _settings_of(section, cls)
)
BY_DOTTED: Final[Mapping[str, Setting]] = {s.dotted: s for s in SETTINGS}
BY_ENV: Final[Mapping[str, Setting]] = {env_var_name(s.dotted): s for s in SETTINGS}


_OWN_PREFIXES: Final = ("IBPUB_BRIDGE_", "IBPUB_NATS_")
"""Variables of the bridge's own sections: a misspelt one is an error (``IBPUB_METRICS_*`` is
shared with ``ibpub run``, so an unknown one there is left to it)."""


def is_bridge_document(document: Mapping[str, Any]) -> bool:
    """A file with a ``[bridge]`` section is a bridge configuration (for ``check-config``)."""
    return "bridge" in document


def _expected(kind: Any) -> str:
    if typing.get_origin(kind) is tuple:
        return "an array of strings"
    return {int: "an integer", float: "a number", bool: "a boolean"}.get(kind, "a string")


def _file_values(document: Mapping[str, Any], source: str) -> dict[str, tuple[object, str, str]]:
    values: dict[str, tuple[object, str, str]] = {}
    for section, table in document.items():
        if section not in BRIDGE_SECTIONS:
            hint = suggest(section, BRIDGE_SECTIONS)
            valid = ", ".join(BRIDGE_SECTIONS)
            raise ConfigError(source, section, f"unknown section{hint}; valid sections: {valid}")
        if not isinstance(table, dict):
            problem = f"expected a table ([{section}]), got {describe(table)}"
            raise ConfigError(source, section, problem)
        for name, raw in table.items():
            dotted = f"{section}.{name}"
            setting = BY_DOTTED.get(dotted)
            if setting is None:
                names = [s.name for s in SETTINGS if s.section == section]
                raise ConfigError(source, dotted, "unknown key" + suggest(name, names))
            try:
                value = msgspec.convert(raw, setting.type, strict=True)
            except msgspec.ValidationError:
                problem = f"expected {_expected(setting.type)}, got {describe(raw)}"
                raise ConfigError(source, dotted, problem) from None
            if name in _PATH_KEYS and value:
                value = os.path.join(os.path.dirname(source), value)
            values[dotted] = (value, source, dotted)
    return values


def bridge_settings(
    document: Mapping[str, Any],
    source: str,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> BridgeConfig:
    """Merge and validate a parsed bridge document with the environment and the flags."""
    merged = _file_values(document, source)
    for name in sorted(env or {}):
        setting = BY_ENV.get(name)
        if setting is None and name.startswith(_OWN_PREFIXES):
            raise ConfigError(ENVIRONMENT, name, "names no setting" + suggest(name, BY_ENV))
        if setting is not None:  # other IBPUB_* variables belong to other commands
            text = (env or {})[name]
            merged[setting.dotted] = (
                from_text(text, setting, ENVIRONMENT, name),
                ENVIRONMENT,
                name,
            )
    for dotted, text in (overrides or {}).items():
        setting = BY_DOTTED.get(dotted)
        if setting is None:
            raise ConfigError(COMMAND_LINE, dotted, "names no setting" + suggest(dotted, BY_DOTTED))
        flag = flag_name(dotted)
        merged[dotted] = (from_text(text, setting, COMMAND_LINE, flag), COMMAND_LINE, flag)
    built: dict[str, Any] = {}
    for section, cls in BRIDGE_SECTIONS.items():
        prefix = section + "."
        given = {k.removeprefix(prefix): v for k, v in merged.items() if k.startswith(prefix)}
        try:
            built[section] = cls(**{name: v[0] for name, v in given.items()})
        except ConfigError as exc:
            origin = given.get(exc.key)
            if origin is None:
                raise ConfigError(source, f"{section}.{exc.key}", exc.problem) from None
            raise ConfigError(origin[1], origin[2], exc.problem) from None
    return BridgeConfig(source=source, **built)


def load_bridge_settings(
    path: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> BridgeConfig:
    """Read a bridge configuration file; raises :class:`ConfigError` on the first problem."""
    source = os.fspath(path)
    return bridge_settings(read_document(source), source, env, overrides)
