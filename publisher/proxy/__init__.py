"""``ibpub proxy``: fan one bus out to many hosts through ZeroMQ's own forwarder.

:mod:`~publisher.proxy.settings` (flags and their checks), :mod:`~publisher.proxy.metrics`
(the forwarder's statistics at scrape time) and :mod:`~publisher.proxy.service` (the forwarder
and its supervisor, on the shared :class:`~publisher.loop.EventLoop`).
"""

from publisher.proxy.metrics import ProxyMetrics, ProxyStatistics
from publisher.proxy.service import EXIT_FATAL, EXIT_OK, ProxyService
from publisher.proxy.settings import (
    DEFAULT_HWM,
    DEFAULT_METRICS_LISTEN,
    DESCRIPTION,
    EPILOG,
    ProxySettings,
    add_arguments,
    settings_from_args,
)

__all__ = [
    "DEFAULT_HWM",
    "DEFAULT_METRICS_LISTEN",
    "DESCRIPTION",
    "EPILOG",
    "EXIT_FATAL",
    "EXIT_OK",
    "ProxyMetrics",
    "ProxyService",
    "ProxySettings",
    "ProxyStatistics",
    "add_arguments",
    "settings_from_args",
]
