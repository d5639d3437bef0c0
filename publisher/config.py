"""Settings: a TOML file, ``IBPUB_*`` environment overrides and flag overrides, validated once.

Where a setting's value comes from, highest first:

1. a command-line flag (``overrides``: ``{"gateway.port": "4002"}``, from ``--gateway-port``),
2. the environment (``IBPUB_<SECTION>_<KEY>``, e.g. ``IBPUB_GATEWAY_PORT=4002``),
3. the configuration file,
4. the defaults below (``DEFAULT_*``).

Instruments (``[[instruments]]`` tables) come from the file only. Unknown sections, keys and
``IBPUB_*`` variables are errors, as are wrong types and invalid values; each raises
:class:`~publisher.errors.ConfigError` naming the file (or ``environment``, or
``command line``), the key and the problem.

The value objects validate on construction too: building one with a bad value in code raises
``ConfigError`` whose ``file`` is the class name (``GatewaySettings: port: ...``).

This module is pure: it reads the configuration file and the mapping it is given, nothing else.
Only :mod:`publisher.cli` passes it ``os.environ``.
"""

import argparse
import difflib
import math
import os
import re
import sys
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import MISSING, dataclass, fields
from datetime import date
from typing import Any, Final, NamedTuple, NoReturn, TextIO, TypeVar

from publisher.errors import ConfigError

__all__ = [
    "COMMAND_LINE",
    "DEFAULT_ALLOW_DELAYED_FALLBACK",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_FALLBACK_CLIENT_IDS",
    "DEFAULT_GATEWAY_HOST",
    "DEFAULT_GATEWAY_PORT",
    "DEFAULT_HEARTBEAT_INTERVAL",
    "DEFAULT_MARKET_DATA_TYPE",
    "DEFAULT_MAX_STALE_RETRIES",
    "DEFAULT_METRICS_LISTEN",
    "DEFAULT_METRICS_PER_INSTRUMENT",
    "DEFAULT_PROBE_INTERVAL",
    "DEFAULT_PROBE_TIMEOUT",
    "DEFAULT_PUBLISHER_NAME",
    "DEFAULT_PUB_ENDPOINTS",
    "DEFAULT_RECONNECT_INITIAL",
    "DEFAULT_RECONNECT_MAX",
    "DEFAULT_SEND_HWM",
    "DEFAULT_SNAPSHOT_ENDPOINT",
    "DEFAULT_STALE_AFTER",
    "ENVIRONMENT",
    "ENV_PREFIX",
    "EXIT_CONFIG_ERROR",
    "KEY_PATTERN",
    "MARKET_DATA_TYPES",
    "RIGHTS",
    "SCALAR_SETTINGS",
    "SEC_TYPES",
    "BusSettings",
    "GatewaySettings",
    "InstrumentSpec",
    "MetricsSettings",
    "PublisherSettings",
    "Settings",
    "add_override_flags",
    "check_config",
    "derive_key",
    "env_var_name",
    "flag_name",
    "load_settings",
    "overrides_from_args",
    "sanitize_key",
    "summarize",
]

# -- defaults and vocabularies ---------------------------------------------------------------

DEFAULT_PUBLISHER_NAME: Final = "ibpub"
DEFAULT_GATEWAY_HOST: Final = "127.0.0.1"
DEFAULT_GATEWAY_PORT: Final = 4001  # IB Gateway live; paper 4002, TWS 7496 live / 7497 paper
DEFAULT_CLIENT_ID: Final = 17
DEFAULT_MARKET_DATA_TYPE: Final = "live"
DEFAULT_CONNECT_TIMEOUT: Final = 10.0
DEFAULT_FALLBACK_CLIENT_IDS: Final[tuple[int, ...]] = ()
DEFAULT_ALLOW_DELAYED_FALLBACK: Final = False
DEFAULT_RECONNECT_INITIAL: Final = 1.0
DEFAULT_RECONNECT_MAX: Final = 30.0
DEFAULT_PROBE_INTERVAL: Final = 5.0
DEFAULT_PROBE_TIMEOUT: Final = 15.0
DEFAULT_STALE_AFTER: Final = 120.0
DEFAULT_MAX_STALE_RETRIES: Final = 3
DEFAULT_PUB_ENDPOINTS: Final[tuple[str, ...]] = ("tcp://127.0.0.1:7700",)
DEFAULT_SNAPSHOT_ENDPOINT: Final = "tcp://127.0.0.1:7701"
DEFAULT_HEARTBEAT_INTERVAL: Final = 1.0
DEFAULT_SEND_HWM: Final = 100_000
DEFAULT_METRICS_LISTEN: Final = "127.0.0.1:9700"
DEFAULT_METRICS_PER_INSTRUMENT: Final = True

ENV_PREFIX: Final = "IBPUB_"
ENVIRONMENT: Final = "environment"
"""``ConfigError.file`` for a bad ``IBPUB_*`` variable."""
COMMAND_LINE: Final = "command line"
"""``ConfigError.file`` for a bad flag."""
EXIT_CONFIG_ERROR: Final = 2

KEY_PATTERN: Final = re.compile(r"[A-Za-z0-9._-]{1,64}")
"""Instrument keys and publisher names (they become topic segments): use ``fullmatch``."""
_KEY_RULE: Final = "1 to 64 of the characters A-Z a-z 0-9 . _ -"
_NOT_KEY_CHARS: Final = re.compile(r"[^A-Za-z0-9._-]+")

MARKET_DATA_TYPES: Final[Mapping[str, int]] = {
    "live": 1,
    "frozen": 2,
    "delayed": 3,
    "delayed-frozen": 4,
}
"""``gateway.market_data_type`` names and the ids ``reqMarketDataType`` takes."""

SEC_TYPES: Final[tuple[str, ...]] = (
    "STK",  # stock or ETF
    "OPT",  # option
    "FUT",  # future
    "CONTFUT",  # continuous future
    "IND",  # index
    "FOP",  # future option
    "CASH",  # forex pair
    "CFD",
    "BAG",  # combo: needs legs, which a configuration cannot describe (refused below)
    "WAR",  # warrant
    "IOPT",  # structured product (Dutch warrant)
    "BOND",
    "CMDTY",  # commodity
    "NEWS",
    "FUND",  # mutual fund
    "CRYPTO",
    "EVENT",  # event contract
)
"""IB's security types (``Contract.secType``), as the TWS API documentation lists them."""

RIGHTS: Final[tuple[str, ...]] = ("", "C", "P", "CALL", "PUT")
_OPTION_TYPES: Final = frozenset({"OPT", "FOP"})
_MAX_INT32: Final = 2**31 - 1


# -- validation helpers (values in, problem text out) ----------------------------------------


def _fail(owner: object, key: str, problem: str) -> NoReturn:
    raise ConfigError(type(owner).__name__, key, problem)


def _suggest(value: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or nothing."""
    options = list(choices)
    for option in options:
        if option and option.casefold() == value.casefold():
            return f" (did you mean {option!r}?)"
    close = difflib.get_close_matches(value, options, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _port_problem(port: str, *, allow_any: bool) -> str | None:
    if allow_any and port == "*":
        return None
    if re.fullmatch(r"[0-9]{1,5}", port) and int(port) <= 65535:
        return None
    return f"port {port!r} is not a number 0..65535" + (" or *" if allow_any else "")


def _endpoint_problem(endpoint: str) -> str | None:
    scheme, sep, rest = endpoint.partition("://")
    if not sep or scheme not in ("tcp", "ipc"):
        return f"{endpoint!r} must start with tcp:// or ipc://"
    if scheme == "ipc":
        return None if rest else f"{endpoint!r} needs a path after ipc://"
    host, sep, port = rest.rpartition(":")
    if not sep or not host:
        return f"{endpoint!r} needs host:port after tcp:// (e.g. tcp://127.0.0.1:7700)"
    problem = _port_problem(port, allow_any=True)
    return f"{endpoint!r}: {problem}" if problem else None


def _fixed_endpoint(endpoint: str) -> bool:
    """Whether two binds of this endpoint would collide (port 0 and * pick a fresh port)."""
    return not endpoint.startswith("tcp://") or endpoint.rpartition(":")[2] not in ("0", "*")


def _date_problem(text: str) -> str | None:
    if not re.fullmatch(r"[0-9]{6}|[0-9]{8}", text):
        return f"expected YYYYMM or YYYYMMDD, got {text!r}"
    year, month = int(text[:4]), int(text[4:6])
    if not 1900 <= year <= 2199:
        return f"year {year} in {text!r} is implausible"
    if not 1 <= month <= 12:
        return f"month {month:02d} in {text!r} is not 01..12"
    if len(text) == 8:
        try:
            date(year, month, int(text[6:]))
        except ValueError:
            return f"{text!r} is not a calendar date"
    return None


# -- instrument keys ---------------------------------------------------------------------------


def sanitize_key(text: str) -> str:
    """``text`` made into a key: each run of other characters becomes ``_``, cut to 64."""
    return _NOT_KEY_CHARS.sub("_", text)[:64]


def derive_key(
    sec_type: str,
    symbol: str,
    *,
    currency: str = "",
    local_symbol: str = "",
    last_trade_date: str = "",
    right: str = "",
    strike: float = 0.0,
    con_id: int = 0,
) -> str:
    """The topic key of an instrument configured without ``key``.

    * CASH: ``SYMBOL.CURRENCY`` (``EUR.USD``)
    * FUT: ``local_symbol`` if set, else ``SYMBOL.LAST_TRADE_DATE`` (``ES.202612``)
    * OPT, FOP: ``SYMBOL.LAST_TRADE_DATE.<C|P><strike:g>`` (``AAPL.20261218.C200``)
    * everything else (STK, IND, CRYPTO, CONTFUT, CMDTY, ...): ``SYMBOL``

    When the rule's fields are missing (possible only with ``con_id``), the key is
    ``local_symbol``, else the ``con_id``. The result is passed through :func:`sanitize_key`.
    """
    raw = ""
    if sec_type == "CASH" and symbol and currency:
        raw = f"{symbol}.{currency}"
    elif sec_type == "FUT":
        if local_symbol:
            raw = local_symbol
        elif symbol and last_trade_date:
            raw = f"{symbol}.{last_trade_date}"
    elif sec_type in _OPTION_TYPES:
        if symbol and last_trade_date and right and strike:
            raw = f"{symbol}.{last_trade_date}.{right[0]}{strike:g}"
    else:
        raw = symbol
    if not raw:
        raw = local_symbol or (str(con_id) if con_id else symbol)
    return sanitize_key(raw)


# -- value objects -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PublisherSettings:
    """``[publisher]``: who this publisher is on the bus."""

    name: str = DEFAULT_PUBLISHER_NAME
    """Names the ``status.<name>`` and ``hb.<name>`` topics and the ``pub`` payload key."""

    def __post_init__(self) -> None:
        if not KEY_PATTERN.fullmatch(self.name):
            _fail(self, "name", f"must be {_KEY_RULE}, got {self.name!r}")


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    """``[gateway]``: the IB Gateway or TWS to connect to."""

    host: str = DEFAULT_GATEWAY_HOST
    port: int = DEFAULT_GATEWAY_PORT
    client_id: int = DEFAULT_CLIENT_ID
    market_data_type: str = DEFAULT_MARKET_DATA_TYPE
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    """Seconds from TCP connect to a ready API session before giving up and retrying."""
    fallback_client_ids: tuple[int, ...] = DEFAULT_FALLBACK_CLIENT_IDS
    """Client ids tried in turn when the gateway says ``client_id`` is in use (error 326)."""
    allow_delayed_fallback: bool = DEFAULT_ALLOW_DELAYED_FALLBACK
    """Re-request delayed data for an instrument without live permission (354/10089/10168)."""
    reconnect_initial: float = DEFAULT_RECONNECT_INITIAL
    """Seconds before the first reconnect; doubles per failed attempt up to reconnect_max."""
    reconnect_max: float = DEFAULT_RECONNECT_MAX
    probe_interval: float = DEFAULT_PROBE_INTERVAL
    """Seconds between reqCurrentTime liveness probes."""
    probe_timeout: float = DEFAULT_PROBE_TIMEOUT
    """A probe unanswered this long means a dead gateway: reconnect."""
    stale_after: float = DEFAULT_STALE_AFTER
    """Seconds without ticks (while others tick) before an instrument is stale; 0 turns off."""
    max_stale_retries: int = DEFAULT_MAX_STALE_RETRIES
    """Re-requests of a stale instrument before it is left stale until the next reconnect."""

    def __post_init__(self) -> None:
        self._check_resilience()
        if not self.host or any(c.isspace() for c in self.host):
            _fail(self, "host", f"must be a host name or address, got {self.host!r}")
        if not 1 <= self.port <= 65535:
            _fail(self, "port", f"must be 1..65535, got {self.port}")
        if not 0 <= self.client_id <= _MAX_INT32:
            _fail(self, "client_id", f"must be 0..{_MAX_INT32}, got {self.client_id}")
        if self.market_data_type not in MARKET_DATA_TYPES:
            _fail(
                self,
                "market_data_type",
                f"must be one of {', '.join(MARKET_DATA_TYPES)}, got {self.market_data_type!r}"
                + _suggest(self.market_data_type, MARKET_DATA_TYPES),
            )
        if not (math.isfinite(self.connect_timeout) and self.connect_timeout > 0):
            _fail(self, "connect_timeout", f"must be > 0 seconds, got {self.connect_timeout}")

    @property
    def market_data_type_id(self) -> int:
        """The id ``reqMarketDataType`` takes: 1 live, 2 frozen, 3 delayed, 4 delayed-frozen."""
        return MARKET_DATA_TYPES[self.market_data_type]

    @property
    def client_ids(self) -> tuple[int, ...]:
        """``client_id`` first, then the fallbacks (each once)."""
        return tuple(dict.fromkeys((self.client_id, *self.fallback_client_ids)))

    def _check_resilience(self) -> None:
        ids: list[int] = []
        for raw in self.fallback_client_ids:  # a variable or flag gives strings: "18,19"
            text = str(raw).strip()
            if isinstance(raw, bool) or not re.fullmatch(r"[0-9]+", text):
                _fail(self, "fallback_client_ids", f"must be client ids (integers), got {raw!r}")
            if int(text) > _MAX_INT32:
                _fail(self, "fallback_client_ids", f"must be 0..{_MAX_INT32}, got {text}")
            ids.append(int(text))
        object.__setattr__(self, "fallback_client_ids", tuple(ids))
        for name in ("reconnect_initial", "reconnect_max", "probe_interval", "probe_timeout"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                _fail(self, name, f"must be > 0 seconds, got {value}")
        if self.reconnect_max < self.reconnect_initial:
            _fail(self, "reconnect_max", "must be >= gateway.reconnect_initial")
        if not (math.isfinite(self.stale_after) and self.stale_after >= 0):
            _fail(self, "stale_after", f"must be >= 0 seconds (0: off), got {self.stale_after}")
        if not 0 <= self.max_stale_retries <= 1000:
            _fail(self, "max_stale_retries", f"must be 0..1000, got {self.max_stale_retries}")
        if not isinstance(self.allow_delayed_fallback, bool):
            _fail(self, "allow_delayed_fallback", "must be true or false")


@dataclass(frozen=True, slots=True)
class BusSettings:
    """``[bus]``: the ZeroMQ endpoints the publisher binds.

    The CURVE settings are *paths* (the server's secret key file, a directory of authorised
    client public keys), never key material, so ``repr`` shows them; whoever opens the secret
    key file must not log its contents.
    """

    pub: tuple[str, ...] = DEFAULT_PUB_ENDPOINTS
    snapshot: str = DEFAULT_SNAPSHOT_ENDPOINT
    heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL
    send_hwm: int = DEFAULT_SEND_HWM
    curve_secret_key: str | None = None
    curve_authorized_keys: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "pub", tuple(self.pub))
        if not self.pub:
            _fail(self, "pub", "needs at least one endpoint")
        bound: dict[str, str] = {}
        for i, endpoint in enumerate(self.pub):
            problem = _endpoint_problem(endpoint)
            if problem:
                _fail(self, "pub", problem)
            if _fixed_endpoint(endpoint) and endpoint in bound:
                _fail(self, "pub", f"{endpoint!r} is listed twice ({bound[endpoint]} and pub[{i}])")
            bound[endpoint] = f"pub[{i}]"
        problem = _endpoint_problem(self.snapshot)
        if problem:
            _fail(self, "snapshot", problem)
        if _fixed_endpoint(self.snapshot) and self.snapshot in bound:
            _fail(self, "snapshot", f"{self.snapshot!r} is also bus.{bound[self.snapshot]}")
        if not (math.isfinite(self.heartbeat_interval) and self.heartbeat_interval > 0):
            _fail(self, "heartbeat_interval", f"must be > 0 seconds, got {self.heartbeat_interval}")
        if not 0 <= self.send_hwm <= _MAX_INT32:
            _fail(self, "send_hwm", f"must be 0..{_MAX_INT32} (0: no limit), got {self.send_hwm}")
        secret, authorized = self.curve_secret_key, self.curve_authorized_keys
        for name, value in (("curve_secret_key", secret), ("curve_authorized_keys", authorized)):
            if value is not None and not value:
                _fail(self, name, "must be a path (leave it out to turn CURVE off)")
        if (secret is None) != (authorized is None):
            given, missing = (
                ("curve_secret_key", "curve_authorized_keys")
                if authorized is None
                else ("curve_authorized_keys", "curve_secret_key")
            )
            _fail(self, given, f"is set but bus.{missing} is not; CURVE needs both or neither")

    @property
    def curve(self) -> bool:
        """Whether CURVE encryption and client authentication are on."""
        return self.curve_secret_key is not None


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    """``[metrics]``: where the HTTP endpoint (/metrics, /healthz, /readyz) listens."""

    listen: str = DEFAULT_METRICS_LISTEN
    """``host:port`` (IPv6 as ``[::1]:9700``); port 0 picks a free port."""
    per_instrument: bool = DEFAULT_METRICS_PER_INSTRUMENT
    """Label ``ibpub_ticks_total`` and ``ibpub_last_tick_age_seconds`` by instrument; turn off
    for very large universes (one ``instrument="_all"`` series each instead)."""

    def __post_init__(self) -> None:
        host, sep, port = self.listen.rpartition(":")
        if not sep or not host:
            _fail(self, "listen", f"expected host:port (e.g. 127.0.0.1:9700), got {self.listen!r}")
        problem = _port_problem(port, allow_any=False)
        if problem:
            _fail(self, "listen", f"{self.listen!r}: {problem}")
        if not isinstance(self.per_instrument, bool):
            _fail(self, "per_instrument", f"must be true or false, got {self.per_instrument!r}")


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    """One ``[[instruments]]`` table: an IB contract description and its topic key.

    ``key`` may be ``""``: it is then derived (:func:`derive_key`) and set on construction.
    ``generic_ticks`` is normalised to ``"233,236"`` form (no spaces).
    """

    key: str
    sec_type: str
    symbol: str
    exchange: str = "SMART"
    primary_exchange: str = ""
    currency: str = "USD"
    local_symbol: str = ""
    last_trade_date: str = ""
    strike: float = 0.0
    right: str = ""
    multiplier: str = ""
    trading_class: str = ""
    con_id: int = 0
    generic_ticks: str = ""

    def __post_init__(self) -> None:
        st = self.sec_type
        if st not in SEC_TYPES:
            _fail(
                self,
                "sec_type",
                f"unknown security type {st!r}{_suggest(st, SEC_TYPES)}; "
                f"IB's types are {' '.join(SEC_TYPES)}",
            )
        if st == "BAG":
            _fail(self, "sec_type", "BAG (combo) contracts need legs, which a config cannot list")
        if self.con_id < 0:
            _fail(self, "con_id", f"must be >= 0 (0: look the contract up), got {self.con_id}")
        if not self.symbol and not self.con_id:
            _fail(self, "symbol", "is required (or give con_id)")
        if not self.exchange:
            _fail(self, "exchange", "must not be empty (e.g. SMART)")
        if self.last_trade_date:
            problem = _date_problem(self.last_trade_date)
            if problem:
                _fail(self, "last_trade_date", problem)
        if self.right not in RIGHTS:
            _fail(
                self,
                "right",
                f"must be C, P, CALL or PUT, got {self.right!r}" + _suggest(self.right, RIGHTS),
            )
        if not math.isfinite(self.strike):
            _fail(self, "strike", f"must be a finite number, got {self.strike}")
        if st in _OPTION_TYPES and not self.con_id:
            for name, given in (
                ("last_trade_date", self.last_trade_date),
                ("right", self.right),
                ("strike", self.strike),
            ):
                if not given:
                    _fail(self, name, f"is required for {st} (or give con_id)")
        if st == "FUT" and not (self.con_id or self.last_trade_date or self.local_symbol):
            _fail(self, "last_trade_date", "is required for FUT (or give local_symbol or con_id)")
        self._normalise_generic_ticks()
        if not self.key:
            object.__setattr__(self, "key", self._derived_key())
        elif not KEY_PATTERN.fullmatch(self.key):
            _fail(self, "key", f"must be {_KEY_RULE}, got {self.key!r}")

    def _normalise_generic_ticks(self) -> None:
        if not self.generic_ticks.strip():
            object.__setattr__(self, "generic_ticks", "")
            return
        parts = [part.strip() for part in self.generic_ticks.split(",")]
        if not all(re.fullmatch(r"[0-9]{1,4}", part) for part in parts):
            _fail(
                self,
                "generic_ticks",
                f"expected comma-separated tick type numbers such as '233,236', "
                f"got {self.generic_ticks!r}",
            )
        object.__setattr__(self, "generic_ticks", ",".join(parts))

    def _derived_key(self) -> str:
        return derive_key(
            self.sec_type,
            self.symbol,
            currency=self.currency,
            local_symbol=self.local_symbol,
            last_trade_date=self.last_trade_date,
            right=self.right,
            strike=self.strike,
            con_id=self.con_id,
        )


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the publisher needs, parsed and validated once at start-up."""

    source: str
    """The configuration file the settings were loaded from."""
    publisher: PublisherSettings
    gateway: GatewaySettings
    bus: BusSettings
    metrics: MetricsSettings
    instruments: tuple[InstrumentSpec, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "instruments", tuple(self.instruments))
        first: dict[str, int] = {}
        for i, spec in enumerate(self.instruments):
            if spec.key in first:
                raise ConfigError(
                    self.source,
                    f"instruments[{i}].key",
                    f"duplicate key {spec.key!r}: instruments[{first[spec.key]}] has the same "
                    "key (keys not given are derived from the contract; set distinct keys)",
                )
            first[spec.key] = i


# -- the settings that can be overridden ---------------------------------------------------------

_SECTIONS: Final[Mapping[str, type[Any]]] = {
    "publisher": PublisherSettings,
    "gateway": GatewaySettings,
    "bus": BusSettings,
    "metrics": MetricsSettings,
}
_INSTRUMENTS: Final = "instruments"


class _Setting(NamedTuple):
    section: str
    name: str
    kind: type  # str, int, float, bool or tuple (of str)
    default: object  # None: optional, unset

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.name}"


def env_var_name(dotted: str) -> str:
    """``gateway.client_id`` -> ``IBPUB_GATEWAY_CLIENT_ID``."""
    return ENV_PREFIX + dotted.replace(".", "_").upper()


def flag_name(dotted: str) -> str:
    """``gateway.client_id`` -> ``--gateway-client-id``."""
    return "--" + dotted.replace(".", "-").replace("_", "-")


def _dest(dotted: str) -> str:
    return dotted.replace(".", "_")


def _settings_of(section: str, cls: type[Any]) -> Iterable[_Setting]:
    for f in fields(cls):
        default = f.default
        assert default is not MISSING, f"{cls.__name__}.{f.name} needs a default"
        kind = str if default is None else type(default)
        yield _Setting(section, f.name, kind, default)


_SCALARS: Final[tuple[_Setting, ...]] = tuple(
    setting for section, cls in _SECTIONS.items() for setting in _settings_of(section, cls)
)
_BY_DOTTED: Final[Mapping[str, _Setting]] = {s.dotted: s for s in _SCALARS}
_BY_ENV: Final[Mapping[str, _Setting]] = {env_var_name(s.dotted): s for s in _SCALARS}

SCALAR_SETTINGS: Final[tuple[tuple[str, type], ...]] = tuple((s.dotted, s.kind) for s in _SCALARS)
"""Every setting an environment variable or a flag can override, as ("section.key", type).
``bus.pub`` has type ``tuple`` (of endpoint strings; comma-separated in a variable or flag)."""

_INSTRUMENT_KINDS: Final[Mapping[str, type]] = {
    f.name: (str if f.default is MISSING else type(f.default)) for f in fields(InstrumentSpec)
}


# -- typing raw values ---------------------------------------------------------------------------

_EXPECTED: Final[Mapping[type, str]] = {
    str: "a string",
    int: "an integer",
    float: "a number",
    tuple: "an array of strings",
    bool: "a boolean (true or false)",
}
_TRUE_WORDS: Final = frozenset({"true", "1", "yes", "on"})
_FALSE_WORDS: Final = frozenset({"false", "0", "no", "off"})
"""How an environment variable or flag spells a boolean (case-insensitive)."""


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


class _WrongTypeError(Exception):
    """A raw value is not of the setting's type; ``str(exc)`` is the problem."""


def _from_toml(value: object, kind: type) -> object:
    """A TOML value checked against (and converted to) the setting's type."""
    if kind is str and isinstance(value, str):
        return value
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind is tuple and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    if kind is tuple and isinstance(value, list) and all(type(v) is int for v in value):
        return tuple(value)  # gateway.fallback_client_ids
    if kind is bool and isinstance(value, bool):
        return value
    raise _WrongTypeError(f"expected {_EXPECTED[kind]}, got {_describe(value)}")


def _from_text(text: str, setting: _Setting) -> object:
    """An environment or flag string parsed to the setting's type."""
    kind = setting.kind
    if kind is int:
        if re.fullmatch(r"\s*[+-]?[0-9]+\s*", text):
            return int(text)
    elif kind is float:
        try:
            return float(text)
        except ValueError:
            pass
    elif kind is tuple:
        return tuple(part.strip() for part in text.split(",") if part.strip())
    elif kind is bool:
        word = text.strip().lower()
        if word in _TRUE_WORDS or word in _FALSE_WORDS:
            return word in _TRUE_WORDS
    elif setting.default is None and not text.strip():
        return None  # an empty optional setting means "unset"
    else:
        return text
    raise _WrongTypeError(f"expected {_EXPECTED[kind]}, got {_describe(text)}")


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


def _unknown_section(name: str) -> str:
    hint = _suggest(name, [*_SECTIONS, _INSTRUMENTS])
    if not hint:
        owners = [s.dotted for s in _SCALARS if s.name == name]
        if owners:
            hint = f" (did you mean {owners[0]!r}, under [{owners[0].split('.')[0]}]?)"
    return f"unknown section{hint}; valid sections: {', '.join([*_SECTIONS, _INSTRUMENTS])}"


def _unknown_key(section: str, name: str, valid: Iterable[str]) -> str:
    hint = _suggest(name, valid)
    if not hint:
        elsewhere = [s.section for s in _SCALARS if s.name == name and s.section != section]
        if elsewhere:
            hint = f" ({name!r} belongs in [{elsewhere[0]}])"
    return "unknown key" + hint


def _file_values(document: Mapping[str, Any], source: str) -> dict[str, _Given]:
    values: dict[str, _Given] = {}
    for section, table in document.items():
        if section == _INSTRUMENTS:
            continue
        if section not in _SECTIONS:
            raise ConfigError(source, section, _unknown_section(section))
        if not isinstance(table, dict):
            raise ConfigError(
                source, section, f"expected a table ([{section}]), got {_describe(table)}"
            )
        names = [f.name for f in fields(_SECTIONS[section])]
        for name, raw in table.items():
            dotted = f"{section}.{name}"
            setting = _BY_DOTTED.get(dotted)
            if setting is None:
                raise ConfigError(source, dotted, _unknown_key(section, name, names))
            try:
                value = _from_toml(raw, setting.kind)
            except _WrongTypeError as exc:
                raise ConfigError(source, dotted, str(exc)) from None
            if name.startswith("curve_") and isinstance(value, str) and value:
                # Relative key paths are relative to the configuration file, not the cwd.
                value = os.path.join(os.path.dirname(source), value)
            values[dotted] = _Given(value, source, dotted)
    return values


def _env_values(env: Mapping[str, str]) -> dict[str, _Given]:
    values: dict[str, _Given] = {}
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX):
            continue
        setting = _BY_ENV.get(name)
        if setting is None:
            if name.startswith(ENV_PREFIX + "INSTRUMENTS"):
                hint = " (instruments come from the configuration file only)"
            else:
                hint = _suggest(name, _BY_ENV)
            raise ConfigError(ENVIRONMENT, name, f"names no setting{hint}")
        try:
            value = _from_text(env[name], setting)
        except _WrongTypeError as exc:
            raise ConfigError(ENVIRONMENT, name, str(exc)) from None
        values[setting.dotted] = _Given(value, ENVIRONMENT, name)
    return values


def _override_values(overrides: Mapping[str, str]) -> dict[str, _Given]:
    values: dict[str, _Given] = {}
    for dotted, text in overrides.items():
        setting = _BY_DOTTED.get(dotted)
        if setting is None:
            raise ConfigError(
                COMMAND_LINE, dotted, "names no setting" + _suggest(dotted, _BY_DOTTED)
            )
        flag = flag_name(dotted)
        try:
            value = _from_text(text, setting)
        except _WrongTypeError as exc:
            raise ConfigError(COMMAND_LINE, flag, str(exc)) from None
        values[dotted] = _Given(value, COMMAND_LINE, flag)
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
    where = f"{_INSTRUMENTS}[{position}]"
    if not isinstance(table, dict):
        raise ConfigError(source, where, f"expected a table, got {_describe(table)}")
    values: dict[str, object] = {"key": "", "symbol": ""}
    for name, raw in table.items():
        kind = _INSTRUMENT_KINDS.get(name)
        if kind is None:
            raise ConfigError(
                source, f"{where}.{name}", "unknown key" + _suggest(name, _INSTRUMENT_KINDS)
            )
        try:
            values[name] = _from_toml(raw, kind)
        except _WrongTypeError as exc:
            raise ConfigError(source, f"{where}.{name}", str(exc)) from None
    if "sec_type" not in values:
        raise ConfigError(source, f"{where}.sec_type", 'is required (e.g. "STK")')
    try:
        return InstrumentSpec(**values)  # type: ignore[arg-type]  # types checked just above
    except ConfigError as exc:
        raise ConfigError(source, f"{where}.{exc.key}", exc.problem) from None


def _instruments(document: Mapping[str, Any], source: str) -> tuple[InstrumentSpec, ...]:
    tables = document.get(_INSTRUMENTS)
    if tables is None or tables == []:
        raise ConfigError(source, _INSTRUMENTS, "at least one [[instruments]] table is required")
    if not isinstance(tables, list):
        raise ConfigError(
            source,
            _INSTRUMENTS,
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
    :func:`overrides_from_args`). Flags win over the environment, the environment over the file.
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
    for section, cls in _SECTIONS.items():
        prefix = section + "."
        given = {k.removeprefix(prefix): g for k, g in merged.items() if k.startswith(prefix)}
        sections[section] = _build(cls, section, given, source)
    return Settings(source=source, instruments=instruments, **sections)


# -- helpers for the CLI ---------------------------------------------------------------------------


def _shown_default(default: object) -> str:
    if default is None:
        return "unset"
    if isinstance(default, bool):
        return str(default).lower()  # as TOML writes it
    if isinstance(default, tuple):
        return ",".join(default)
    return str(default)


_METAVARS: Final[Mapping[str, str]] = {
    "gateway.client_id": "ID",
    "gateway.market_data_type": "|".join(MARKET_DATA_TYPES),
    "gateway.connect_timeout": "SECONDS",
    "gateway.fallback_client_ids": "IDS",
    "gateway.allow_delayed_fallback": "true|false",
    "gateway.reconnect_initial": "SECONDS",
    "gateway.reconnect_max": "SECONDS",
    "gateway.probe_interval": "SECONDS",
    "gateway.probe_timeout": "SECONDS",
    "gateway.stale_after": "SECONDS",
    "gateway.max_stale_retries": "COUNT",
    "bus.pub": "ENDPOINTS",
    "bus.snapshot": "ENDPOINT",
    "bus.heartbeat_interval": "SECONDS",
    "bus.send_hwm": "COUNT",
    "bus.curve_secret_key": "FILE",
    "bus.curve_authorized_keys": "DIR",
    "metrics.listen": "HOST:PORT",
    "metrics.per_instrument": "true|false",
}


def add_override_flags(parser: argparse.ArgumentParser) -> None:
    """Add one ``--section-key`` flag per overridable setting (all default to ``None``)."""
    group = parser.add_argument_group(
        "setting overrides",
        "Each flag overrides one setting of the configuration file and its IBPUB_* "
        "environment variable (flags win).",
    )
    for setting in _SCALARS:
        extra = "; comma-separated" if setting.kind is tuple else ""
        help_text = (
            f"{setting.dotted} (env {env_var_name(setting.dotted)}{extra}; "
            f"default: {_shown_default(setting.default)})"
        )
        group.add_argument(
            flag_name(setting.dotted),
            dest=_dest(setting.dotted),
            metavar=_METAVARS.get(setting.dotted, setting.name.upper()),
            default=None,
            help=help_text.replace("%", "%%"),
        )


def overrides_from_args(args: argparse.Namespace) -> dict[str, str]:
    """The flags the user gave, as ``{"section.key": "value"}`` for :func:`load_settings`."""
    overrides: dict[str, str] = {}
    for setting in _SCALARS:
        value = getattr(args, _dest(setting.dotted), None)
        if value is not None:
            overrides[setting.dotted] = str(value)
    return overrides


def _describe_instrument(spec: InstrumentSpec) -> str:
    parts = [spec.sec_type, spec.symbol or "-"]
    if spec.last_trade_date:
        parts.append(spec.last_trade_date)
    if spec.right:
        parts.append(f"{spec.right[0]}{spec.strike:g}")
    if spec.local_symbol:
        parts.append(f"({spec.local_symbol})")
    venue = spec.exchange + (f"/{spec.primary_exchange}" if spec.primary_exchange else "")
    parts += [venue, spec.currency]
    if spec.con_id:
        parts.append(f"conid {spec.con_id}")
    if spec.generic_ticks:
        parts.append(f"ticks {spec.generic_ticks}")
    return " ".join(part for part in parts if part)


def summarize(settings: Settings) -> str:
    """A short human summary of the effective settings, one line per instrument."""
    gw, bus = settings.gateway, settings.bus
    curve = (
        f"CURVE on (secret key {bus.curve_secret_key}, clients {bus.curve_authorized_keys})"
        if bus.curve
        else "CURVE off"
    )
    width = max(len(spec.key) for spec in settings.instruments) if settings.instruments else 0
    lines = [
        f"{settings.source}: ok",
        f"publisher    {settings.publisher.name}",
        f"gateway      {gw.host}:{gw.port}  client_id {gw.client_id}  "
        f"market data {gw.market_data_type} ({gw.market_data_type_id})  "
        f"connect timeout {gw.connect_timeout:g} s",
        f"bus          pub {', '.join(bus.pub)}  snapshot {bus.snapshot}",
        f"             heartbeat {bus.heartbeat_interval:g} s  send_hwm {bus.send_hwm}  {curve}",
        f"metrics      http://{settings.metrics.listen}/metrics"
        + ("" if settings.metrics.per_instrument else "  (per-instrument labels off)"),
        f"instruments  {len(settings.instruments)}",
        *(f"  {spec.key:<{width}}  {_describe_instrument(spec)}" for spec in settings.instruments),
    ]
    return "\n".join(lines) + "\n"


def check_config(
    path: str,
    env: Mapping[str, str],
    *,
    overrides: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """``ibpub check-config``: print the effective settings and return 0, or print
    ``error: <file>: <key>: <problem>`` to ``err`` and return 2."""
    try:
        settings = load_settings(path, env, overrides)
    except ConfigError as exc:
        print(f"error: {exc}", file=err or sys.stderr)
        return EXIT_CONFIG_ERROR
    stream = out or sys.stdout
    stream.write(summarize(settings))
    used = sorted(name for name in env if name.startswith(ENV_PREFIX))
    if used:
        stream.write(f"from the environment: {', '.join(used)}\n")
    return 0
