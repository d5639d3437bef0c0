"""The settings as value objects: frozen, slotted, validated on construction. Pure.

Each class is one section of the configuration file (``[publisher]``, ``[gateway]``, ``[bus]``,
``[metrics]``, one ``[[instruments]]`` table) with its documented defaults as named ``DEFAULT_*``
constants; :class:`Settings` holds them all. They check *values* (ranges, vocabularies, endpoint
shapes, cross-field rules), not types: typing the raw text and TOML values is
:mod:`publisher.config.convert`'s job, and mypy's in code.

A bad value raises :class:`~publisher.errors.ConfigError` whose ``file`` is the class name
(``GatewaySettings: port: must be 1..65535, got 0``); the loader re-labels it with the file,
variable or flag the value came from.

No setting is a secret: the CURVE settings are paths to key files, never key material, so the
default ``repr`` is safe to log (see :class:`BusSettings`).
"""

import math
import re
from dataclasses import dataclass, field
from typing import Final, NoReturn

from publisher.config.control import ControlSettings
from publisher.config.rules import (
    KEY_PATTERN,
    KEY_RULE,
    MARKET_DATA_TYPES,
    MAX_INT32,
    OPTION_TYPES,
    RIGHTS,
    SEC_TYPES,
    date_problem,
    derive_key,
    suggest,
)
from publisher.endpoints import endpoint_problem, host_port_problem, parse_endpoint
from publisher.errors import ConfigError, EndpointError
from subscribers.kinds import DataKind, KindError, parse_kinds

__all__ = [
    "DEFAULT_ALLOW_DELAYED_FALLBACK",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_FALLBACK_CLIENT_IDS",
    "DEFAULT_GATEWAY_HOST",
    "DEFAULT_GATEWAY_PORT",
    "DEFAULT_HEARTBEAT_INTERVAL",
    "DEFAULT_MARKET_DATA_TYPE",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_LINES",
    "DEFAULT_MAX_STALE_RETRIES",
    "DEFAULT_MAX_TICK_BY_TICK",
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
    "BusSettings",
    "GatewaySettings",
    "InstrumentSpec",
    "MetricsSettings",
    "PublisherSettings",
    "Settings",
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
DEFAULT_MAX_LINES: Final = 100  # IB's default market-data lines per account
DEFAULT_MAX_TICK_BY_TICK: Final = 5
DEFAULT_MAX_DEPTH: Final = 3
DEFAULT_PUB_ENDPOINTS: Final[tuple[str, ...]] = ("tcp://127.0.0.1:7700",)
DEFAULT_SNAPSHOT_ENDPOINT: Final = "tcp://127.0.0.1:7701"
DEFAULT_HEARTBEAT_INTERVAL: Final = 1.0
DEFAULT_SEND_HWM: Final = 100_000
DEFAULT_METRICS_LISTEN: Final = "127.0.0.1:9700"
DEFAULT_METRICS_PER_INSTRUMENT: Final = True


DEFAULT_DATA: Final = ("l1",)
"""An instrument's data kinds when it names none."""


def _fail(owner: object, key: str, problem: str) -> NoReturn:
    raise ConfigError(type(owner).__name__, key, problem)


# -- value objects -----------------------------------------------------------------------------


def _fixed(endpoint: str) -> bool:
    """Whether two binds of ``endpoint`` would collide (a tcp port 0 or * picks a fresh port)."""
    try:
        return not parse_endpoint(endpoint, bind=True).picks_free_port
    except EndpointError:
        return True


@dataclass(frozen=True, slots=True)
class PublisherSettings:
    """``[publisher]``: who this publisher is on the bus."""

    name: str = DEFAULT_PUBLISHER_NAME
    """Names the ``status.<name>`` and ``hb.<name>`` topics and the ``pub`` payload key."""

    def __post_init__(self) -> None:
        if not KEY_PATTERN.fullmatch(self.name):
            _fail(self, "name", f"must be {KEY_RULE}, got {self.name!r}")


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
    max_lines: int = DEFAULT_MAX_LINES
    """Market-data lines the publisher may hold at once; a request beyond is budget_exceeded."""
    max_tick_by_tick: int = DEFAULT_MAX_TICK_BY_TICK
    max_depth: int = DEFAULT_MAX_DEPTH

    def __post_init__(self) -> None:
        self._check_resilience()
        for name in ("max_lines", "max_tick_by_tick", "max_depth"):
            if not 0 <= getattr(self, name) <= 100_000:
                _fail(self, name, f"must be 0..100000, got {getattr(self, name)}")
        if not self.host or any(c.isspace() for c in self.host):
            _fail(self, "host", f"must be a host name or address, got {self.host!r}")
        if not 1 <= self.port <= 65535:
            _fail(self, "port", f"must be 1..65535, got {self.port}")
        if not 0 <= self.client_id <= MAX_INT32:
            _fail(self, "client_id", f"must be 0..{MAX_INT32}, got {self.client_id}")
        if self.market_data_type not in MARKET_DATA_TYPES:
            _fail(
                self,
                "market_data_type",
                f"must be one of {', '.join(MARKET_DATA_TYPES)}, got {self.market_data_type!r}"
                + suggest(self.market_data_type, MARKET_DATA_TYPES),
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
        ids = tuple(self.fallback_client_ids)  # a list given in code is kept as a tuple
        for client_id in ids:
            if isinstance(client_id, bool) or not isinstance(client_id, int):
                _fail(
                    self, "fallback_client_ids", f"must be client ids (integers), got {client_id!r}"
                )
            if not 0 <= client_id <= MAX_INT32:
                _fail(self, "fallback_client_ids", f"must be 0..{MAX_INT32}, got {client_id}")
        object.__setattr__(self, "fallback_client_ids", ids)
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
            problem = endpoint_problem(endpoint, bind=True)
            if problem:
                _fail(self, "pub", problem)
            if _fixed(endpoint) and endpoint in bound:
                _fail(self, "pub", f"{endpoint!r} is listed twice ({bound[endpoint]} and pub[{i}])")
            bound[endpoint] = f"pub[{i}]"
        problem = endpoint_problem(self.snapshot, bind=True)
        if problem:
            _fail(self, "snapshot", problem)
        if _fixed(self.snapshot) and self.snapshot in bound:
            _fail(self, "snapshot", f"{self.snapshot!r} is also bus.{bound[self.snapshot]}")
        if not (math.isfinite(self.heartbeat_interval) and self.heartbeat_interval > 0):
            _fail(self, "heartbeat_interval", f"must be > 0 seconds, got {self.heartbeat_interval}")
        if not 0 <= self.send_hwm <= MAX_INT32:
            _fail(self, "send_hwm", f"must be 0..{MAX_INT32} (0: no limit), got {self.send_hwm}")
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
        problem = host_port_problem(self.listen)
        if problem:
            _fail(self, "listen", problem)
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
    data: tuple[str, ...] = DEFAULT_DATA
    """The data kinds to publish (contract 1.1 "Data kinds"), in canonical spelling
    (``depth`` becomes ``depth:10``); see :mod:`subscribers.kinds`."""

    def __post_init__(self) -> None:
        st = self.sec_type
        if st not in SEC_TYPES:
            _fail(
                self,
                "sec_type",
                f"unknown security type {st!r}{suggest(st, SEC_TYPES)}; "
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
            problem = date_problem(self.last_trade_date)
            if problem:
                _fail(self, "last_trade_date", problem)
        if self.right not in RIGHTS:
            _fail(
                self,
                "right",
                f"must be C, P, CALL or PUT, got {self.right!r}" + suggest(self.right, RIGHTS),
            )
        if not math.isfinite(self.strike):
            _fail(self, "strike", f"must be a finite number, got {self.strike}")
        if st in OPTION_TYPES and not self.con_id:
            for name, given in (
                ("last_trade_date", self.last_trade_date),
                ("right", self.right),
                ("strike", self.strike),
            ):
                if not given:
                    _fail(self, name, f"is required for {st} (or give con_id)")
        self._normalise_generic_ticks()
        self._normalise_data()
        if not self.key:
            object.__setattr__(self, "key", self._derived_key())
        elif not KEY_PATTERN.fullmatch(self.key):
            _fail(self, "key", f"must be {KEY_RULE}, got {self.key!r}")

    @property
    def open_ended(self) -> bool:
        """A future without an expiry: it names every contract month (IB answers several).
        A configuration refuses it; a control request may ask, to learn the candidates."""
        return self.sec_type == "FUT" and not (
            self.con_id or self.last_trade_date or self.local_symbol
        )

    def _normalise_data(self) -> None:
        try:
            kinds = parse_kinds(list(self.data))
        except KindError as exc:
            _fail(self, "data", str(exc))
        if any(kind.family == "greeks" for kind in kinds) and self.sec_type not in OPTION_TYPES:
            _fail(self, "data", f"greeks are published for options only, not {self.sec_type}")
        object.__setattr__(self, "data", tuple(kind.name for kind in kinds))

    @property
    def kinds(self) -> tuple[DataKind, ...]:
        """The parsed data kinds."""
        return parse_kinds(list(self.data))

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
    control: ControlSettings = field(default_factory=ControlSettings)

    def __post_init__(self) -> None:
        object.__setattr__(self, "instruments", tuple(self.instruments))
        listen = self.control.listen
        if listen and _fixed(listen) and listen in (self.bus.snapshot, *self.bus.pub):
            raise ConfigError(self.source, "control.listen", f"{listen!r} is also bound on [bus]")
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
