"""The asyncio flavour of the subscriber, on ``zmq.asyncio``: most IB users write asyncio.

::

    async with AsyncSubscriber("tcp://127.0.0.1:7700", requests=["NVDA"], snapshot=True) as sub:
        async for msg in sub:
            print(msg.topic, sub.book.quotes["NVDA"].bid, sub.states.get(("instrument", "NVDA")))

It is the same subscriber, not a second one: an :class:`AsyncSubscriber` drives a
:class:`~subscribers.client.Subscriber` whose every step but the wait is shared (decoding,
sequence tracking, the Clone-pattern snapshot, heartbeats and silence, ``sub.states``, the lease
books and their timers). Only the two waits differ: for messages it awaits a
``zmq.asyncio.Poller`` on the same sockets instead of blocking in ``zmq.Poller``, and the
requests the caller awaits (:meth:`AsyncSubscriber.request`, :meth:`AsyncSubscriber.release`,
the release at exit) go over a ``zmq.asyncio`` DEALER socket. Renewals and asking again after a
publisher restart happen inside :meth:`AsyncSubscriber.recv`, as in the sync flavour: no task
runs behind the caller's back, so nothing happens while the caller does not read (a caller that
stops reading for longer than a lease should release or close).
"""

import contextlib
import math
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self

import zmq
import zmq.asyncio

from subscribers.book import Book
from subscribers.client import (
    DEFAULT_ENDPOINT,
    DEFAULT_RCVHWM,
    DEFAULT_SNAPSHOT_ENDPOINT,
    Subscriber,
    SubscriberStats,
)
from subscribers.control import (
    DEFAULT_CONTROL_ENDPOINT,
    DEFAULT_CONTROL_TIMEOUT,
    ControlError,
    ControlTimeoutError,
    InstrumentLike,
    Op,
    Reply,
    decode_reply,
    encode_unsubscribe,
)
from subscribers.curve import CurveKeys
from subscribers.depth import DepthBook
from subscribers.events import Event
from subscribers.leases import Held
from subscribers.liveness import PublisherInfo
from subscribers.ondemand import RELEASE_TIMEOUT, OnDemand
from subscribers.schema import DEFAULT_DATA, SubscribeReply
from subscribers.selection import DEFAULT_DATA_NAMES
from subscribers.snapshot import DEFAULT_TIMEOUT
from subscribers.states import StateKey
from subscribers.tracking import SeqTracker
from subscribers.wire import Bar, Greeks, Message, Status, Tbt, WireError


class AsyncSubscriber:
    """A :class:`~subscribers.client.Subscriber` for asyncio: the same arguments (``requests``
    are asked for on ``async with`` entry, or by :meth:`start`), the same attributes, and
    ``await sub.recv(timeout)`` / ``async for msg in sub`` / ``await sub.request(...)``.
    """

    def __init__(
        self,
        endpoint: str = DEFAULT_ENDPOINT,
        *,
        prefixes: Sequence[str] | None = None,
        exact_keys: Sequence[str] = (),
        data: Sequence[str] = DEFAULT_DATA_NAMES,
        books: bool = True,
        context: zmq.Context[Any] | None = None,
        rcvhwm: int = DEFAULT_RCVHWM,
        snapshot: bool = False,
        snapshot_endpoint: str = DEFAULT_SNAPSHOT_ENDPOINT,
        snapshot_timeout: float = DEFAULT_TIMEOUT,
        curve: CurveKeys | None = None,
        heartbeat_interval: float | None = None,
        on_event: Callable[[Event], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        requests: Sequence[InstrumentLike] = (),
        control_endpoint: str = DEFAULT_CONTROL_ENDPOINT,
        client: str | None = None,
        control_timeout: float = DEFAULT_CONTROL_TIMEOUT,
    ) -> None:
        if isinstance(requests, str):
            raise TypeError("requests is a sequence, not one str")
        self._pending = list(requests)
        if requests and prefixes is None and not exact_keys:
            prefixes = ()  # as the sync flavour: only the requested instruments
        self._sync = Subscriber(
            endpoint,
            prefixes=prefixes,
            exact_keys=exact_keys,
            data=data,
            books=books,
            context=context,
            rcvhwm=rcvhwm,
            snapshot=snapshot,
            snapshot_endpoint=snapshot_endpoint,
            snapshot_timeout=snapshot_timeout,
            curve=curve,
            heartbeat_interval=heartbeat_interval,
            on_event=on_event,
            clock=clock,
            control_endpoint=control_endpoint,
            client=client,
            control_timeout=control_timeout,
        )
        self._actx = zmq.asyncio.Context.shadow(self._sync._context.underlying)
        self._control_endpoint = control_endpoint
        self._control_timeout = control_timeout
        self._curve = curve
        self._control: zmq.asyncio.Socket | None = None

    # -- what callers read: the sync subscriber's ---------------------------------------------

    @property
    def subscriber(self) -> Subscriber:
        """The subscriber this one drives (read its attributes; do not call its ``recv``)."""
        return self._sync

    @property
    def book(self) -> Book:
        return self._sync.book

    @property
    def books(self) -> dict[str, DepthBook]:
        """As :attr:`Subscriber.books`: the L2 book per key."""
        return self._sync.books

    @property
    def bars(self) -> dict[str, Bar]:
        return self._sync.bars

    @property
    def greeks(self) -> dict[str, dict[str, Greeks]]:
        return self._sync.greeks

    @property
    def tbt(self) -> dict[str, dict[str, Tbt]]:
        return self._sync.tbt

    def book_ready(self, key: str) -> bool:
        """As :meth:`Subscriber.book_ready`."""
        return self._sync.book_ready(key)

    @property
    def seq(self) -> SeqTracker:
        return self._sync.seq

    @property
    def stats(self) -> SubscriberStats:
        return self._sync.stats

    @property
    def publishers(self) -> dict[str, PublisherInfo]:
        return self._sync.publishers

    @property
    def states(self) -> Mapping[StateKey, Status]:
        return self._sync.states

    @property
    def held(self) -> Mapping[str, Held]:
        return self._sync.held

    @property
    def client(self) -> str:
        return self._sync.client

    @property
    def synchronised(self) -> bool:
        return self._sync.synchronised

    @property
    def last_error(self) -> WireError | None:
        return self._sync.last_error

    @property
    def closed(self) -> bool:
        return self._sync.closed

    # -- receiving -----------------------------------------------------------------------------

    async def recv(self, timeout: float | None = None) -> Message | None:
        """The next message, or None if ``timeout`` seconds pass first (None waits for ever);
        renewals, re-requests and events happen in here, as in :meth:`Subscriber.recv`."""
        sync = self._sync
        deadline = math.inf if timeout is None else sync._clock() + timeout
        while True:
            step = sync._advance(deadline)
            if not isinstance(step, int):
                return step
            poller = zmq.asyncio.Poller()
            for sock, flags in sync._poll_sockets():
                poller.register(sock, flags)
            events = dict(await poller.poll(step))
            sync._on_polled(events)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Message:
        while True:
            if self._sync.closed:
                raise StopAsyncIteration
            msg = await self.recv(None)
            if msg is not None:
                return msg

    # -- on demand -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Ask for the constructor's ``requests`` (``async with`` does it on entry); a refusal
        raises :class:`~subscribers.control.ControlError`."""
        pending, self._pending = self._pending, []
        for instrument in pending:
            await self.request(instrument)

    async def request(
        self,
        instrument: InstrumentLike,
        data: Sequence[str] = DEFAULT_DATA,
        lease: float | None = None,
    ) -> SubscribeReply:
        """As :meth:`Subscriber.request`, awaited."""
        ondemand = self._sync._ondemand
        wanted = OnDemand.wanted(instrument, data, lease)
        early = self._sync._subscribe_early(wanted)
        try:
            reply = await self._call("subscribe", ondemand.request_body(wanted))
        except BaseException:
            self._sync._take_back(early, ())
            raise
        assert isinstance(reply, SubscribeReply)  # decode_reply's type for "subscribe"
        ondemand.granted(wanted, reply, again=False)
        self._sync._take_back(early, reply.topics)
        self._sync._update_next_timer()
        return reply

    async def release(self, key: str) -> None:
        """As :meth:`Subscriber.release`, awaited."""
        held = self._sync._ondemand.holdings.release(key)
        if held is None:
            return
        self._sync._drop_topics(held)
        self._sync._update_next_timer()
        await self._call("unsubscribe", encode_unsubscribe(self.client, [key]))

    async def _call(self, op: Op, body: bytes, timeout: float | None = None) -> Reply:
        limit = self._control_timeout if timeout is None else timeout
        if self._control is None:
            sock = self._actx.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            if self._curve is not None:
                self._curve.apply(sock)
            sock.connect(self._control_endpoint)
            self._control = sock
        sock = self._control
        await sock.send_multipart([b"", body])
        if not await sock.poll(math.ceil(limit * 1000)):
            self._close_control()  # a late reply must not be taken for the next request's
            raise ControlTimeoutError(self._control_endpoint, limit)
        frames = await sock.recv_multipart()
        return decode_reply(op, frames[-1])

    def _close_control(self) -> None:
        if self._control is not None:
            self._control.close(linger=0)
            self._control = None

    # -- closing -------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Release what is held on demand (waiting up to 2 s), then close every socket."""
        if self._sync.closed:
            return
        holdings = self._sync._ondemand.holdings
        keys = sorted(holdings.held)
        for key in keys:
            holdings.release(key)
        if keys:
            body = encode_unsubscribe(self.client, keys)
            with contextlib.suppress(ControlError):
                await self._call("unsubscribe", body, RELEASE_TIMEOUT)
        self._close_control()
        self._sync.close()

    async def __aenter__(self) -> Self:
        try:
            await self.start()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
