"""``ibpub proxy``: fan one bus out to many hosts through ZeroMQ's own forwarder.

:mod:`~publisher.proxy.settings` (flags and their checks), :mod:`~publisher.proxy.metrics`
(the forwarder's statistics at scrape time), :mod:`~publisher.proxy.security` (CURVE toward
subscribers and toward publishers), :mod:`~publisher.proxy.links` (each upstream's state and
re-dials, from the socket monitor) and :mod:`~publisher.proxy.service` (the forwarder and its
supervisor, on the shared :class:`~publisher.loop.EventLoop`).
"""

from publisher.proxy.metrics import ProxyMetrics, ProxyStatistics
from publisher.proxy.security import ProxySecurity
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
    "ProxySecurity",
    "ProxyService",
    "ProxySettings",
    "ProxyStatistics",
    "add_arguments",
    "settings_from_args",
]
