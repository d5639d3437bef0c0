"""The state of each upstream connection, decided from the XSUB socket's monitor events.

Pure (events in, a verdict out), so the supervisor only has to log it. An upstream counts as
connected once its ZMTP handshake has succeeded, not when TCP connects: with CURVE a publisher
that refuses the proxy's key (or a proxy holding the wrong server key) accepts the TCP
connection and then drops it, and such a link must neither count as up nor pass unnoticed.

A connection that closes before its handshake succeeded is a *refusal*: libzmq reports a
refused client key as ``HANDSHAKE_FAILED_AUTH``, a mechanism mismatch (CURVE on one side only)
as ``HANDSHAKE_FAILED_PROTOCOL``, and a wrong server key only as a disconnect (the server cannot
decrypt the client's hello and closes). Each refusal is counted once.
"""

import enum
from dataclasses import dataclass
from typing import Final

import zmq

HANDSHAKE_FAILED: Final = (
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
)
MONITORED: Final = (
    zmq.EVENT_CONNECTED | zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED | HANDSHAKE_FAILED
)
"""The monitor events :class:`UpstreamLinks` reads."""


class Link(enum.Enum):
    DOWN = "down"
    """Not connected (never, or the connection closed after it was up)."""
    CONNECTING = "connecting"
    """TCP connected, the handshake not finished."""
    UP = "up"
    """Handshake succeeded: messages flow."""
    REFUSED = "refused"
    """The last connection closed or failed before its handshake succeeded."""


@dataclass(frozen=True, slots=True)
class Change:
    """A link that changed state on one event; ``refusal`` when this event counts as one,
    ``first_refusal`` when it is the first since the link was last up (the one to log)."""

    endpoint: str
    before: Link
    after: Link
    refusal: bool = False
    first_refusal: bool = False


class UpstreamLinks:
    """Per-endpoint link states and the totals the metrics read."""

    def __init__(self) -> None:
        self._links: dict[str, Link] = {}
        self._refused: set[str] = set()
        """Endpoints refused since they were last up."""
        self.up = 0
        """Links whose handshake succeeded and that are still open."""
        self.refusals = 0
        """Connections that ended before their handshake succeeded, since start."""

    def state(self, endpoint: str) -> Link:
        return self._links.get(endpoint, Link.DOWN)

    def on_event(self, endpoint: str, event: int) -> Change | None:
        """Apply one monitor event; the change, or ``None`` when the state stays as it was."""
        before = self.state(endpoint)
        after, refusal = before, False
        if event == zmq.EVENT_CONNECTED:
            after = Link.CONNECTING if before is not Link.UP else before
        elif event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
            after = Link.UP
        elif event & HANDSHAKE_FAILED:
            after, refusal = Link.REFUSED, before is not Link.REFUSED
        elif event == zmq.EVENT_DISCONNECTED:
            if before is Link.UP:
                after = Link.DOWN
            elif before is Link.CONNECTING:
                after, refusal = Link.REFUSED, True
        first = False
        if refusal:
            self.refusals += 1
            first = endpoint not in self._refused
            self._refused.add(endpoint)
        if after is Link.UP:
            self._refused.discard(endpoint)
        if after is before and not refusal:
            return None
        self._links[endpoint] = after
        self.up += (after is Link.UP) - (before is Link.UP)
        return Change(endpoint, before, after, refusal, first)


REDIAL_INITIAL: Final = 2.0
REDIAL_MAX: Final = 30.0
"""Seconds before a refused upstream is dialled again: doubling from the first to the last."""


class Redials:
    """When to dial a refused upstream again (pure: the caller passes the time).

    libzmq does not reconnect after a handshake that failed with an error from the peer (a
    publisher whose ZAP handler refused the proxy's key answers with an ERROR command): left
    alone, the link would stay dead after the key is authorised and the publisher restarted.
    So the supervisor re-dials it, backing off while the refusals go on.
    """

    def __init__(self, initial: float = REDIAL_INITIAL, maximum: float = REDIAL_MAX) -> None:
        self._initial = initial
        self._maximum = maximum
        self._delay: dict[str, float] = {}
        self._due: dict[str, float] = {}

    def refused(self, endpoint: str, now: float) -> None:
        """``endpoint`` failed its handshake at ``now``: dial it again after the backoff."""
        delay = self._delay.get(endpoint, self._initial)
        self._due[endpoint] = now + delay
        self._delay[endpoint] = min(delay * 2, self._maximum)

    def connected(self, endpoint: str) -> None:
        """``endpoint`` is up: forget its backoff."""
        self._delay.pop(endpoint, None)
        self._due.pop(endpoint, None)

    def due(self, now: float) -> list[str]:
        """The endpoints to dial again now (each returned once per refusal)."""
        ready = sorted(e for e, at in self._due.items() if at <= now)
        for endpoint in ready:
            del self._due[endpoint]
        return ready

    def deadline(self) -> float | None:
        return min(self._due.values(), default=None)
