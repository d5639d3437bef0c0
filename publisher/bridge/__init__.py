"""``ibpub bridge``: the bus copied into NATS JetStream (contract 1.1, "History").

:mod:`~publisher.bridge.settings` (its own TOML schema), :mod:`~publisher.bridge.copier`
(pure: subjects, ``Nats-Msg-Id``, gaps, the bounded outage buffer),
:mod:`~publisher.bridge.stream` (the stream created or updated from the config),
:mod:`~publisher.bridge.metrics` and :mod:`~publisher.bridge.service` (the asyncio shell).
"""

from publisher.bridge.command import DESCRIPTION, EPILOG, add_arguments, overrides_from_args
from publisher.bridge.settings import (
    BridgeConfig,
    bridge_settings,
    is_bridge_document,
    load_bridge_settings,
    masked_url,
)

__all__ = [
    "DESCRIPTION",
    "EPILOG",
    "BridgeConfig",
    "add_arguments",
    "bridge_settings",
    "is_bridge_document",
    "load_bridge_settings",
    "masked_url",
    "overrides_from_args",
]
