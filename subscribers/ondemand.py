"""A subscriber's on-demand requests: the shell that carries out :mod:`subscribers.leases`.

:class:`OnDemand` owns the two control sockets of one subscriber: a blocking
:class:`~subscribers.control.ControlClient` for what the caller asks for and waits on
(``sub.request``, the release at close), and :class:`~subscribers.control.BackgroundCalls` for
what the subscriber does by itself (renewals, asking again after a restart), which its receive
loop polls beside the SUB socket. Two sockets, so that a caller's request never waits behind a
renewal and no reply can be taken for another's. No thread: the subscriber calls
:meth:`run_timers` when :meth:`next_due` passes and :meth:`on_readable` when the background
socket is readable (the sync :class:`~subscribers.client.Subscriber` from ``recv``, the
:class:`~subscribers.aio.AsyncSubscriber` from its ``recv`` coroutine).
"""

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, cast

import zmq

from subscribers.control import (
    DEFAULT_CONTROL_TIMEOUT,
    BackgroundCalls,
    ControlClient,
    ControlError,
    InstrumentLike,
    Outcome,
    describe_instrument,
    encode_renew,
    encode_subscribe,
    instrument_from,
)
from subscribers.curve import CurveKeys
from subscribers.events import Event, Requested, RequestFailed
from subscribers.leases import Held, Holdings, Wanted
from subscribers.schema import DEFAULT_DATA, RenewReply, SubscribeReply

RELEASE_TIMEOUT: Final = 2.0
"""Seconds ``close`` waits for the publisher to acknowledge the release (it would also let the
leases run out by themselves)."""


class OnDemand:
    """The on-demand requests of one subscriber, named ``client`` to the publisher."""

    def __init__(
        self,
        endpoint: str,
        context: zmq.Context[Any],
        client: str,
        *,
        curve: CurveKeys | None,
        timeout: float = DEFAULT_CONTROL_TIMEOUT,
        on_granted: Callable[[Held], None],
        on_event: Callable[[Event], None],
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], int] = time.time_ns,
    ) -> None:
        self.endpoint = endpoint
        self.client = client
        self.holdings = Holdings()
        self._on_granted = on_granted
        self._on_event = on_event
        self._clock = clock
        self._wall = wall
        self.calls = ControlClient(endpoint, context=context, curve=curve, timeout=timeout)
        self.background = BackgroundCalls(endpoint, context, curve, timeout, clock)
        self._polled: zmq.Socket[Any] | None = None
        """The background socket as registered with the subscriber's poller (see
        :meth:`poll_with`)."""

    @property
    def held(self) -> Mapping[str, Held]:
        """What is held, by key."""
        return self.holdings.held

    @staticmethod
    def wanted(
        instrument: InstrumentLike, data: Sequence[str] = DEFAULT_DATA, lease: float | None = None
    ) -> Wanted:
        """The :class:`~subscribers.leases.Wanted` for a request (ValueError if malformed)."""
        if isinstance(data, str):
            raise TypeError("data is a sequence of kind names, not one str")
        return Wanted(instrument_from(instrument), tuple(data), lease)

    def request_body(self, wanted: Wanted) -> bytes:
        """The ``subscribe`` request for ``wanted``."""
        return encode_subscribe(self.client, wanted.instrument, wanted.data, wanted.lease)

    def request(self, wanted: Wanted) -> SubscribeReply:
        """Ask and wait (ControlError on a refusal or a timeout); the grant is recorded."""
        reply = self.calls.call("subscribe", self.request_body(wanted))
        assert isinstance(reply, SubscribeReply)
        self.granted(wanted, reply, again=False)
        return reply

    def granted(self, wanted: Wanted, reply: SubscribeReply, *, again: bool) -> None:
        """Record a grant and tell the subscriber (which subscribes to its topics)."""
        held = self.holdings.granted(wanted, reply, self._clock(), self._wall())
        self._on_granted(held)
        self._on_event(Requested(held.key, held.topics, held.state, again))

    def release(self, key: str, timeout: float = RELEASE_TIMEOUT) -> Held | None:
        """Stop holding ``key`` and tell the publisher (ControlError if it refuses)."""
        held = self.holdings.release(key)
        if held is not None:
            self.calls.unsubscribe(self.client, [key], timeout)
        return held

    def release_all(self, timeout: float = RELEASE_TIMEOUT) -> None:
        """Release everything held, in one request; a publisher that does not answer is left
        to let the leases run out."""
        keys = sorted(self.holdings.held)
        for key in keys:
            self.holdings.release(key)
        if keys:
            with contextlib.suppress(ControlError):
                self.calls.unsubscribe(self.client, keys, timeout)

    def restarted(self) -> None:
        """A publisher restarted: ask again for everything held (in the background)."""
        for wanted in self.holdings.restarted():
            self.background.submit("subscribe", self.request_body(wanted), wanted)

    def next_due(self) -> float:
        """When :meth:`run_timers` next has something to do."""
        return min(self.holdings.next_due(), self.background.next_deadline())

    def run_timers(self, now: float) -> None:
        """Send the renewals and retries due at ``now``; time out a request gone unanswered."""
        for outcome in self.background.overdue(now):
            self._settle(outcome, now)
        keys = self.holdings.due_renewals(now)
        if keys:
            self.background.submit("renew", encode_renew(self.client, keys), keys)
        for wanted in self.holdings.due_requests(now):
            self.background.submit("subscribe", self.request_body(wanted), wanted)

    def on_readable(self) -> None:
        """Handle the background reply waiting on :attr:`background`'s socket."""
        for outcome in self.background.on_readable():
            self._settle(outcome, self._clock())

    @property
    def active(self) -> bool:
        """Whether anything is held or in flight (so that renewals must be looked at)."""
        return self.background.busy or bool(self.holdings)

    def service(self, now: float) -> None:
        """Read a background reply and run what is due, without polling: for a subscriber
        whose queue never empties (it never polls, but must not let its leases run out)."""
        if self.background.busy:
            self.on_readable()
        if now >= self.next_due():
            self.run_timers(now)

    def poll_with(self, poller: zmq.Poller) -> None:
        """Have ``poller`` watch the background socket while a request is in flight on it
        (the socket is replaced after a timeout, so the registration follows it)."""
        background = self.background
        current = background.socket if background.busy else None
        if current is self._polled:
            return
        if self._polled is not None:
            poller.unregister(self._polled)
        if current is not None:
            poller.register(current, zmq.POLLIN)
        self._polled = current

    def on_polled(self, events: Mapping[Any, int]) -> bool:
        """Handle the background reply if a poll found its socket readable (True if so)."""
        if self._polled is None or self._polled not in events:
            return False
        self.on_readable()
        return True

    def _settle(self, outcome: Outcome, now: float) -> None:
        if outcome.op == "renew":
            keys = cast(tuple[str, ...], outcome.tag)  # what run_timers attached
            if isinstance(outcome.reply, RenewReply):
                self.holdings.renewed(keys, outcome.reply.lease_expires, now, self._wall())
            elif outcome.error is not None and outcome.error.refused:
                for wanted in self.holdings.renew_refused(keys):  # it no longer holds them
                    self.background.submit("subscribe", self.request_body(wanted), wanted)
            else:
                self.holdings.renew_timed_out(keys, now)
            return
        wanted = cast(Wanted, outcome.tag)  # what each subscribe submit attached
        if isinstance(outcome.reply, SubscribeReply):
            self.granted(wanted, outcome.reply, again=True)
        elif outcome.error is not None:
            retrying = self.holdings.refused(wanted, outcome.error.error, now)
            name = describe_instrument(wanted.instrument)
            self._on_event(
                RequestFailed(name, outcome.error.error, outcome.error.message, retrying)
            )

    def close(self) -> None:
        """Close both sockets (call :meth:`release_all` first to let go of the holds)."""
        self.background.close()
        self.calls.close()
