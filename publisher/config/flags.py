"""The ``--section-key`` flags that override single settings, for ``ibpub run`` and ``ibpub demo``.

One flag per overridable setting (:data:`~publisher.config.schema.SCALARS`), each defaulting to
``None`` so that a flag not given overrides nothing. Pure: it adds arguments to the parser it is
handed and reads the namespace argparse returns; typing the flags' text is
:func:`~publisher.config.loading.load_settings`'s job.
"""

import argparse
from collections.abc import Mapping
from typing import Final

from publisher.config.rules import MARKET_DATA_TYPES
from publisher.config.schema import SCALARS, dest, env_var_name, flag_name

__all__ = ["add_override_flags", "overrides_from_args"]


def _shown_default(default: object) -> str:
    if default is None:
        return "unset"
    if isinstance(default, bool):
        return str(default).lower()  # as TOML writes it
    if isinstance(default, tuple):
        return ",".join(str(item) for item in default)
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
    for setting in SCALARS:
        extra = "; comma-separated" if setting.kind is tuple else ""
        help_text = (
            f"{setting.dotted} (env {env_var_name(setting.dotted)}{extra}; "
            f"default: {_shown_default(setting.default)})"
        )
        group.add_argument(
            flag_name(setting.dotted),
            dest=dest(setting.dotted),
            metavar=_METAVARS.get(setting.dotted, setting.name.upper()),
            default=None,
            help=help_text.replace("%", "%%"),
        )


def overrides_from_args(args: argparse.Namespace) -> dict[str, str]:
    """The flags the user gave, as ``{"section.key": "value"}`` for ``load_settings``."""
    overrides: dict[str, str] = {}
    for setting in SCALARS:
        value = getattr(args, dest(setting.dotted), None)
        if value is not None:
            overrides[setting.dotted] = str(value)
    return overrides
