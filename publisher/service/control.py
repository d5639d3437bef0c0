"""The control desk: the control socket, the holdings book and the rate limit, wired together.

Kept out of :mod:`publisher.service.root` so the composition root stays one screenful. Every
subscription-machine event the service feeds goes through :meth:`ControlDesk.feed`, so the
book sees the qualifications it waits for; every request from the socket is rate-limited,
parsed and decided here, and the replies the book produces (now or when IB answers) are sent
back through the server. All on the service thread.
"""

import logging
from collections.abc import Callable
from typing import Any

import zmq

from publisher.bus.control import ControlServer, Garbage
from publisher.bus.curve import BusSecurity
from publisher.config import Settings
from publisher.core.control import (
    BAD_REQUEST,
    RATE_LIMITED,
    ControlPolicy,
    Holdings,
    Outcome,
    RateLimiter,
    Refusal,
    error_body,
    parse_request,
)
from publisher.core.control.requests import OPS
from publisher.core.subscriptions import SubscriptionAction, SubscriptionEvent, Subscriptions
from publisher.loop import EventLoop, Periodic
from publisher.observability.metrics import PublisherMetrics
from publisher.service.status import StatusPublisher

__all__ = ["EXPIRY_INTERVAL", "ControlDesk"]

log = logging.getLogger(__name__)

EXPIRY_INTERVAL = 0.25
"""Seconds between lease and grace checks (the grace is kept to within this)."""


def _op_of(body: object) -> str:
    op = body.get("op") if isinstance(body, dict) else None
    return op if isinstance(op, str) and op in OPS else "unknown"


class ControlDesk:
    """Decides control requests over ``subscriptions``; binds the socket when it is enabled."""

    def __init__(
        self,
        settings: Settings,
        subscriptions: Subscriptions,
        status: StatusPublisher,
        metrics: PublisherMetrics,
        context: zmq.Context[Any],
        security: BusSecurity,
        *,
        carry_out: Callable[[list[SubscriptionAction]], None],
        clock: Callable[[], float],
        wall_ns: Callable[[], int],
        jitter: Callable[[], float],
    ) -> None:
        control, gw = settings.control, settings.gateway
        policy = ControlPolicy(
            lease=control.lease,
            grace=control.grace,
            max_lines=gw.max_lines,
            max_tick_by_tick=gw.max_tick_by_tick,
            max_depth=gw.max_depth,
        )
        pinned = [spec.key for spec in settings.instruments]
        self.holdings = Holdings(subscriptions, policy, pinned, jitter=jitter)
        self._limiter = RateLimiter(control.max_requests_per_second)
        self._status, self._metrics, self._carry_out = status, metrics, carry_out
        curve = security.enabled
        self._clock, self._wall_ns, self._curve = clock, wall_ns, curve
        self.server: ControlServer | None = None
        if control.enabled:  # CURVE with the bus's keys: only authorised clients reach it
            self.server = ControlServer(
                control.listen,
                self._on_request,
                context=context,
                before_bind=security.secure,
                curve=curve,
            )
        metrics.watch_lines(
            lambda: self.holdings.lines_used, gw.max_lines, lambda: self.holdings.leases_active
        )

    @property
    def endpoint(self) -> str | None:
        """The bound control endpoint (port resolved), or None when it is off."""
        return self.server.endpoint if self.server is not None else None

    def attach(self, loop: EventLoop) -> None:
        """Serve the socket and check leases on the service loop."""
        if self.server is not None:
            loop.add_socket(self.server.socket, self.server.on_readable)
        loop.add_timer(Periodic(EXPIRY_INTERVAL, self._expire))

    def feed(self, event: SubscriptionEvent) -> None:
        """One subscription-machine event, through the book."""
        self._apply(self.holdings.handle(event, self._clock(), self._wall_ns()))

    def close(self) -> None:
        if self.server is not None:
            self.server.close()

    # -- internals ---------------------------------------------------------------------------

    def _expire(self, now: float) -> None:
        self._apply(self.holdings.expire(now))

    def _refuse(self, token: int, op: str, code: str, message: str) -> None:
        assert self.server is not None
        self._metrics.control_request(op, code)  # counted before the client can see it
        self.server.reply(token, error_body(code, message))

    def _on_request(self, token: int, body: object, client: bytes) -> None:
        now = self._clock()
        if not self._limiter.allow(client, now):
            self._refuse(token, _op_of(body), RATE_LIMITED, "too many requests: slow down")
            return
        if isinstance(body, Garbage):
            self._refuse(token, "unknown", BAD_REQUEST, body.problem)
            return
        request = parse_request(body)
        if isinstance(request, Refusal):
            self._refuse(token, request.op, request.code, request.message)
            return
        principal = client if self._curve else None
        self._apply(self.holdings.request(token, request, principal, now, self._wall_ns()))

    def _apply(self, outcome: Outcome) -> None:
        if outcome.actions:
            self._carry_out(list(outcome.actions))
        for key in outcome.removed:
            self._status.forget("instrument", key)
        if self.server is None:
            return
        for reply in outcome.replies:
            self._metrics.control_request(reply.op, reply.outcome)
            self.server.reply(reply.token, reply.body)
