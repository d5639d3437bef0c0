"""``ibpub check-config FILE``: validate a configuration and print the effective settings.

Loads the file with the environment's ``IBPUB_*`` overrides exactly as ``ibpub run`` would, and
prints either a short summary (exit 0) or ``error: <file>: <key>: <problem>`` (exit 2). This is
the only configuration code that prints; :func:`summarize` is pure and returns the text.
"""

import sys
from collections.abc import Mapping
from typing import Final, TextIO

from publisher.bridge import BridgeConfig, bridge_settings, is_bridge_document
from publisher.config import ENV_PREFIX, InstrumentSpec, Settings, load_settings
from publisher.config.loading import _read_document as read_document
from publisher.errors import ConfigError

__all__ = ["EXIT_CONFIG_ERROR", "check_config", "summarize", "summarize_bridge"]

EXIT_CONFIG_ERROR: Final = 2
"""The exit code of a configuration error (as for ``ibpub run``)."""


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


def _describe_control(settings: Settings) -> str:
    control = settings.control
    if not control.enabled:
        return "off"
    return (
        f"{control.listen}  lease {control.lease:g} s  grace {control.grace:g} s  "
        f"max {control.max_requests_per_second:g} requests/s per client"
    )


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
        f"lines        budget {gw.max_lines}  tick-by-tick {gw.max_tick_by_tick}  "
        f"depth {gw.max_depth}",
        f"control      {_describe_control(settings)}",
        f"metrics      http://{settings.metrics.listen}/metrics"
        + ("" if settings.metrics.per_instrument else "  (per-instrument labels off)"),
        f"instruments  {len(settings.instruments)}",
        *(f"  {spec.key:<{width}}  {_describe_instrument(spec)}" for spec in settings.instruments),
    ]
    return "\n".join(lines) + "\n"


def summarize_bridge(config: BridgeConfig) -> str:
    """A short human summary of a bridge configuration (``[bridge]`` files)."""
    b, n = config.bridge, config.nats
    auth = [name for name in ("credentials", "nkeys_seed", "tls_cert") if getattr(n, name)]
    lines = [
        f"{config.source}: ok (bridge)",
        f"bridge       {b.name}  upstream {', '.join(b.upstream)}  max_buffered {b.max_buffered}",
        f"nats         {n.shown_servers}  auth {', '.join(auth) or 'none'}",
        f"stream       {n.stream}  replicas {n.replicas}  max_age {n.max_age:g} s  "
        f"max_bytes {n.max_bytes}  duplicate_window {n.duplicate_window:g} s  "
        f"max_pending {n.max_pending}",
        f"metrics      http://{config.metrics.listen}/metrics",
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
        document = read_document(path)
        if is_bridge_document(document):
            text = summarize_bridge(bridge_settings(document, path, env, overrides))
        else:
            text = summarize(load_settings(path, env, overrides))
    except ConfigError as exc:
        print(f"error: {exc}", file=err or sys.stderr)
        return EXIT_CONFIG_ERROR
    stream = out or sys.stdout
    stream.write(text)
    used = sorted(name for name in env if name.startswith(ENV_PREFIX))
    if used:
        stream.write(f"from the environment: {', '.join(used)}\n")
    return 0
