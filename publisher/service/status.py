"""Status and heartbeat messages (contract v1), and the latest status of every (scope, key).

The messages are the wire schema's (:class:`~publisher.core.schema.StatusPayload`,
:class:`~publisher.core.schema.HeartbeatPayload`), stamped and sent by
:meth:`~publisher.bus.publish.Bus.publish_status` and
:meth:`~publisher.bus.publish.Bus.publish_heartbeat`. Each status published is kept, exactly as it
went out, as the latest of its (scope, key) pair, for late joiners (contract 1.1: the snapshot's
``states``).
"""

import logging
from typing import Protocol

from publisher.core.schema import HeartbeatPayload, StatusPayload

log = logging.getLogger(__name__)


class StatusBus(Protocol):
    """The part of the bus that status and heartbeat publishing uses."""

    def publish_status(
        self,
        scope: str,
        state: str,
        *,
        key: str | None = None,
        code: int | None = None,
        message: str = "",
    ) -> StatusPayload: ...

    def publish_heartbeat(self, gateway: str) -> HeartbeatPayload: ...


class StatusPublisher:
    """Publishes ``status`` and ``hb`` messages and remembers the latest status per pair."""

    def __init__(self, bus: StatusBus) -> None:
        self._bus = bus
        self._latest: dict[tuple[str, str | None], StatusPayload] = {}

    def status(
        self,
        scope: str,
        state: str,
        *,
        key: str | None = None,
        code: int | None = None,
        message: str = "",
    ) -> StatusPayload:
        """Publish one status (``state`` as its plain string); returns the message as sent."""
        state = str(state)  # an InstrumentState is published as its value
        payload = self._bus.publish_status(scope, state, key=key, code=code, message=message)
        self._latest[(scope, key)] = payload
        log.info(
            "status",
            extra={"scope": scope, "state": state, "key": key, "code": code, "text": message},
        )
        return payload

    def heartbeat(self, gateway_state: str) -> HeartbeatPayload:
        """Publish one heartbeat: the gateway state and every tick topic's last seq."""
        return self._bus.publish_heartbeat(gateway_state)

    def latest(self) -> list[StatusPayload]:
        """The latest status of every (scope, key) pair, oldest first, each as it was sent."""
        return sorted(self._latest.values(), key=lambda payload: payload.seq)

    def forget(self, scope: str, key: str | None) -> None:
        """Drop a pair's latest status (an instrument removed at run time)."""
        self._latest.pop((scope, key), None)
