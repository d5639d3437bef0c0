"""Settings: a TOML file, ``IBPUB_*`` environment overrides and flag overrides, validated once.

The package hands on the names other modules use; each lives in one module with one job:

* :mod:`~publisher.config.model`: the frozen value objects and their ``DEFAULT_*`` constants
  (pure; they validate values on construction),
* :mod:`~publisher.config.rules`: IB's vocabularies and the value rules the objects share
  (endpoints, dates, topic keys; pure),
* :mod:`~publisher.config.schema`: which settings exist, with their variable and flag names,
* :mod:`~publisher.config.convert`: typing raw values with ``msgspec.convert`` (strict for
  TOML, lax for text) and msgspec's errors in ``file: key: problem`` words (pure),
* :mod:`~publisher.config.loading`: :func:`load_settings`, which reads the file and the
  environment mapping it is given, and merges and validates them,
* :mod:`~publisher.config.flags`: the ``--section-key`` override flags.

``ibpub check-config`` is a command and lives in :mod:`publisher.commands.check_config`.
"""

from publisher.config.control import (
    DEFAULT_CONTROL_GRACE,
    DEFAULT_CONTROL_LEASE,
    DEFAULT_CONTROL_LISTEN,
    DEFAULT_MAX_REQUESTS_PER_SECOND,
    ControlSettings,
)
from publisher.config.flags import add_override_flags, overrides_from_args
from publisher.config.loading import COMMAND_LINE, ENVIRONMENT, load_settings
from publisher.config.model import (
    DEFAULT_ALLOW_DELAYED_FALLBACK,
    DEFAULT_CLIENT_ID,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_FALLBACK_CLIENT_IDS,
    DEFAULT_GATEWAY_HOST,
    DEFAULT_GATEWAY_PORT,
    DEFAULT_HEARTBEAT_INTERVAL,
    DEFAULT_MARKET_DATA_TYPE,
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_LINES,
    DEFAULT_MAX_STALE_RETRIES,
    DEFAULT_MAX_TICK_BY_TICK,
    DEFAULT_METRICS_LISTEN,
    DEFAULT_METRICS_PER_INSTRUMENT,
    DEFAULT_PROBE_INTERVAL,
    DEFAULT_PROBE_TIMEOUT,
    DEFAULT_PUB_ENDPOINTS,
    DEFAULT_PUBLISHER_NAME,
    DEFAULT_RECONNECT_INITIAL,
    DEFAULT_RECONNECT_MAX,
    DEFAULT_SEND_HWM,
    DEFAULT_SNAPSHOT_ENDPOINT,
    DEFAULT_STALE_AFTER,
    BusSettings,
    GatewaySettings,
    InstrumentSpec,
    MetricsSettings,
    PublisherSettings,
    Settings,
)
from publisher.config.rules import (
    KEY_PATTERN,
    MARKET_DATA_TYPES,
    RIGHTS,
    SEC_TYPES,
    derive_key,
    sanitize_key,
)
from publisher.config.schema import ENV_PREFIX, SCALAR_SETTINGS, env_var_name, flag_name

__all__ = [
    "COMMAND_LINE",
    "DEFAULT_ALLOW_DELAYED_FALLBACK",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_CONTROL_GRACE",
    "DEFAULT_CONTROL_LEASE",
    "DEFAULT_CONTROL_LISTEN",
    "DEFAULT_FALLBACK_CLIENT_IDS",
    "DEFAULT_GATEWAY_HOST",
    "DEFAULT_GATEWAY_PORT",
    "DEFAULT_HEARTBEAT_INTERVAL",
    "DEFAULT_MARKET_DATA_TYPE",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_LINES",
    "DEFAULT_MAX_REQUESTS_PER_SECOND",
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
    "ENVIRONMENT",
    "ENV_PREFIX",
    "KEY_PATTERN",
    "MARKET_DATA_TYPES",
    "RIGHTS",
    "SCALAR_SETTINGS",
    "SEC_TYPES",
    "BusSettings",
    "ControlSettings",
    "GatewaySettings",
    "InstrumentSpec",
    "MetricsSettings",
    "PublisherSettings",
    "Settings",
    "add_override_flags",
    "derive_key",
    "env_var_name",
    "flag_name",
    "load_settings",
    "overrides_from_args",
    "sanitize_key",
]
