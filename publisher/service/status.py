"""Status and heartbeat messages (contract v1), and the latest status of every (scope, key).

The bodies are built here and only here; :class:`~publisher.bus.publish.Bus` adds the envelope.
Each status published is kept, exactly as it went out, as the latest of its (scope, key) pair,
for late joiners (contract 1.1: the snapshot's ``states``).
"""

import logging
from typing import Any, Protocol

log = logging.getLogger(__name__)

Payload = dict[str, Any]


class StatusBus(Protocol):
    """The part of the bus that status and heartbeat publishing uses."""

    @property
    def status_topic(self) -> str: ...
    @property
    def heartbeat_topic(self) -> str: ...
    def publish(self, topic: str, kind: str, body: dict[str, Any]) -> Payload: ...
    def tick_seqs(self) -> dict[str, int]: ...


class StatusPublisher:
    """Publishes ``status`` and ``hb`` messages and remembers the latest status per pair."""

    def __init__(self, bus: StatusBus) -> None:
        self._bus = bus
        self._latest: dict[tuple[str, str | None], Payload] = {}

    def status(
        self,
        scope: str,
        state: str,
        *,
        key: str | None = None,
        code: int | None = None,
        message: str = "",
    ) -> Payload:
        """Publish one status (``state`` as its plain string); returns the payload as sent."""
        state = str(state)  # an InstrumentState is published as its value
        body = {"scope": scope, "state": state, "key": key, "code": code, "message": message}
        payload = self._bus.publish(self._bus.status_topic, "status", body)
        self._latest[(scope, key)] = payload
        log.info(
            "status",
            extra={"scope": scope, "state": state, "key": key, "code": code, "text": message},
        )
        return payload

    def heartbeat(self, gateway_state: str) -> Payload:
        """Publish one heartbeat: the gateway state and every tick topic's last seq."""
        body = {"gateway": gateway_state, "seqs": self._bus.tick_seqs()}
        return self._bus.publish(self._bus.heartbeat_topic, "hb", body)

    def latest(self) -> list[Payload]:
        """The latest status of every (scope, key) pair, oldest first, each as it was sent."""
        return sorted(self._latest.values(), key=lambda payload: int(payload["seq"]))

    def forget(self, scope: str, key: str | None) -> None:
        """Drop a pair's latest status (an instrument removed at run time)."""
        self._latest.pop((scope, key), None)
