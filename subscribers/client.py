"""The subscriber library: decoded, in-order bus messages, with loss, restarts and silence reported.

::

    with Subscriber("tcp://127.0.0.1:7700", exact_keys=["AAPL"], snapshot=True) as sub:
        for msg in sub:
            print(msg.topic, msg.seq, sub.book.quotes["AAPL"].bid, sub.stats.lost)

What it reports, each through ``on_event`` (see :mod:`subscribers.events`) and in :attr:`stats`:

* **gaps**: a topic's ``seq`` skipped ahead, or a heartbeat showed ``seq`` numbers that never
  arrived (a lost tail). Every lost message is counted once.
* **restarts**: a publisher's ``sid`` changed. With ``snapshot=True`` the subscriber fetches a
  new snapshot and resynchronises.
* **silence**: no heartbeat from a publisher for 3 intervals (and its return).
* malformed messages (wrong frame count, bad msgpack, unknown schema version): counted, skipped;
  messages of a type it does not know (a later contract's data kinds): counted apart, skipped.

The :class:`Subscriber` is a shell over parts that each do one job: :mod:`subscribers.intake`
(pure: frames in, in-order messages and events out; which topics are wanted is
:mod:`subscribers.selection`), :mod:`subscribers.sync` (the snapshot's Clone pattern: nothing
missed or repeated), :mod:`subscribers.ondemand` (on-demand requests, contract 1.1: leases
renewed from inside ``recv``, no thread; asked for again after a restart; released on close).
It owns the SUB socket, the poller and the timers. The asyncio flavour,
:class:`~subscribers.aio.AsyncSubscriber`, drives it through :meth:`Subscriber._advance` and
awaits only the waits.
"""

import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Final, Self

import zmq

from subscribers.control import (
    DEFAULT_CONTROL_ENDPOINT,
    DEFAULT_CONTROL_TIMEOUT,
    InstrumentLike,
    default_client_name,
)
from subscribers.curve import CurveKeys
from subscribers.early import likely_topics
from subscribers.events import Event
from subscribers.intake import Intake
from subscribers.leases import Held, Wanted
from subscribers.liveness import HeartbeatWatch, PublisherInfo
from subscribers.ondemand import OnDemand
from subscribers.schema import DEFAULT_DATA, DEPTH_PREFIX, SubscribeReply
from subscribers.selection import DEFAULT_DATA_NAMES, Selection, data_prefixes
from subscribers.snapshot import DEFAULT_TIMEOUT, SnapshotClient
from subscribers.states import StateKey
from subscribers.stats import SubscriberStats as SubscriberStats  # re-exported, as before
from subscribers.sync import SnapshotSync, SyncState
from subscribers.wire import HEARTBEAT_PREFIX, STATUS_PREFIX, Heartbeat, Message, Status, WireError

DEFAULT_ENDPOINT: Final = "tcp://127.0.0.1:7700"
DEFAULT_SNAPSHOT_ENDPOINT: Final = "tcp://127.0.0.1:7701"
DEFAULT_RCVHWM: Final = 100_000
"""ZMQ_RCVHWM: messages queued in this process before ZeroMQ drops (a gap, counted)."""
CONTROL_CHECK: Final = 0.05
"""Seconds between looks at the leases while messages arrive without a pause."""
MAX_POLL_MS: Final = 250
"""The longest single wait in ZeroMQ. A signal that lands just before the wait starts is only
handled when it ends (CPython runs handlers between bytecodes), so Ctrl-C and SIGTERM take at
most this long to take effect, never for ever."""


def _ignore(event: Event) -> None:
    """The default ``on_event``: events are still counted in :attr:`Subscriber.stats`."""


class Subscriber:
    """A connected SUB socket delivering decoded, validated, in-order bus messages.

    ``prefixes`` are ZeroMQ byte-prefix subscriptions (``""`` is everything). ``exact_keys`` adds
    a subscription to ``<data>.<key>`` for each key and each of ``data`` (topic prefixes without
    the dot: ``tick`` (default), ``tbt``, ``depth``, ``bar``, ``greeks``; the kind families
    ``l1`` and ``bars`` are accepted too) and, once any are given, restricts every data topic to
    exactly those keys (``depth.ES`` never delivers ``depth.ESZ6``); status and heartbeat topics
    still pass when a prefix selects them. Without ``prefixes`` the subscriber takes every
    topic, or only the exact keys' topics when ``exact_keys`` are given.

    What arrives is also kept per key: :attr:`book` (top of book from ticks), :attr:`books`
    (L2 books from depth; ``books=False`` turns them off, and with them the snapshots a book
    resync asks for, for a caller that only passes the changes on), :attr:`bars`,
    :attr:`greeks` and :attr:`tbt` (the latest of each).

    ``snapshot`` starts from (and resynchronises after a publisher restart with) the last-value
    snapshot at ``snapshot_endpoint``; ``snapshot_timeout`` bounds each attempt. ``curve`` makes
    both sockets CURVE clients. ``heartbeat_interval`` is the publisher's, if known (else
    learnt from its heartbeats). ``on_event`` receives every :data:`~subscribers.events.Event`
    as it happens. Pass ``context`` to share a ZeroMQ context (it is then not terminated by
    :meth:`close`). ``clock`` is for tests.

    On demand (contract 1.1): each of ``requests`` (a config ``[[instruments]]`` table as a
    mapping, or a bare symbol meaning a US stock) is asked for at ``control_endpoint`` before the
    constructor returns (:class:`~subscribers.control.ControlError` if refused), as by
    :meth:`request`; ``client`` names this holder to the publisher (default
    ``host:pid:random``). Leases are renewed from :meth:`recv` (about every lease/3, no
    thread), asked for again after a publisher restart, and released by :meth:`close`. The
    requested instruments' ticks are delivered like ``exact_keys``'; with ``requests`` and
    neither ``prefixes`` nor ``exact_keys``, only they are.
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
        if isinstance(prefixes, str) or isinstance(exact_keys, str) or isinstance(requests, str):
            raise TypeError("prefixes, exact_keys and requests are sequences, not one str")
        if any(not key for key in exact_keys):
            raise ValueError("an exact key cannot be empty")
        self.endpoint = endpoint
        if prefixes is None:  # by default: everything, or only the exact keys when given
            prefixes = () if exact_keys or requests else ("",)
        self._selection = Selection(prefixes, exact_keys, data_prefixes(data))
        self._on_event = on_event or _ignore
        self._clock = clock
        self._watch = HeartbeatWatch(heartbeat_interval)
        self._intake = Intake(self._selection, self._watch, self._on_event)
        self._intake.keep_books = books
        self._ready = self._intake.ready
        self._process = self._intake.process
        self.seq = self._intake.seq
        self.book = self._intake.book
        """Top of book per instrument, from every tick delivered (snapshot ticks included)."""
        self.books = self._intake.books
        """The L2 book per key (:class:`~subscribers.depth.DepthBook`), from ``depth.``
        messages, seeded from snapshots and resynced from one after a gap (see
        :meth:`book_ready`)."""
        self.bars = self._intake.bars
        """The latest 5-second bar per key (:class:`~subscribers.wire.Bar`)."""
        self.greeks = self._intake.greeks
        """The latest option computation per key and field: ``sub.greeks["AAPL_C190"]
        ["model_option"].delta`` (:class:`~subscribers.wire.Greeks`)."""
        self.tbt = self._intake.tbt
        """The latest tick-by-tick event per key and kind: ``sub.tbt["AAPL"]["last"]``."""
        self._next_timer = math.inf
        self._own_context = context is None
        self._context: zmq.Context[Any] = zmq.Context() if context is None else context
        self._socket: zmq.Socket[Any] = self._context.socket(zmq.SUB)
        self._poller = zmq.Poller()
        self._poller.register(self._socket, zmq.POLLIN)
        self._sync = SnapshotSync(
            SnapshotClient(snapshot_endpoint, self._context, curve),
            self._poller,
            self._intake,
            enabled=snapshot,
            timeout=snapshot_timeout,
            clock=clock,
            on_event=self._on_event,
        )
        self._control_check = math.inf
        """When a subscriber reading a continuous stream next looks at its leases (at most
        every :data:`CONTROL_CHECK` s, one float comparison per message); infinity while
        nothing is held or in flight."""
        self._ondemand = OnDemand(
            control_endpoint,
            self._context,
            client or default_client_name(),
            curve=curve,
            timeout=control_timeout,
            on_granted=self._on_granted,
            on_event=self._on_event,
            clock=clock,
        )
        try:
            self._socket.setsockopt(zmq.RCVHWM, rcvhwm)
            self._socket.setsockopt(zmq.LINGER, 0)
            if curve is not None:
                curve.apply(self._socket)
            # Status for sub.states (delivered only if a prefix asks for it). Heartbeats last:
            # once one arrives, every subscription sent before it is active.
            for topic in [*self._selection.subscriptions(), STATUS_PREFIX, HEARTBEAT_PREFIX]:
                self._socket.setsockopt(zmq.SUBSCRIBE, topic.encode())
            self._socket.connect(endpoint)
            for instrument in requests:
                self.request(instrument)
        except BaseException:
            self.close()
            raise

    # -- what callers read -----------------------------------------------------------------

    @property
    def socket(self) -> zmq.Socket[Any]:
        """The SUB socket (to register with a ``zmq.Poller``; only :meth:`recv` should read it)."""
        return self._socket

    def book_ready(self, key: str) -> bool:
        """Whether ``sub.books[key]`` is the publisher's book (seeded from a snapshot, or built
        from its session's first change), not emptied for a resync in flight."""
        return DEPTH_PREFIX + key in self._intake.books_ok

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run."""
        return bool(self._socket.closed)

    @property
    def stats(self) -> SubscriberStats:
        """The counters as they are now."""
        return self._intake.stats()

    @property
    def publishers(self) -> dict[str, PublisherInfo]:
        """Every publisher heard from (by heartbeat), by name: its session, gateway, liveness."""
        return self._watch.info()

    @property
    def states(self) -> Mapping[StateKey, Status]:
        """The latest status per (scope, key), read-only: ``sub.states["instrument", "AAPL"]``,
        ``sub.states["gateway", None]``. From the snapshot's ``states`` (contract 1.1; absent
        from an older publisher's reply) and then from live status messages, newer winning."""
        return self._intake.states.view

    @property
    def last_error(self) -> WireError | None:
        """The most recent malformed message's error (for diagnostics)."""
        return self._intake.last_error

    @property
    def client(self) -> str:
        """This subscriber's holder name at the control socket."""
        return self._ondemand.client

    @property
    def held(self) -> Mapping[str, Held]:
        """The instruments held on demand, by key (their topics, lease, request)."""
        return self._ondemand.held

    def request(
        self,
        instrument: InstrumentLike,
        data: Sequence[str] = DEFAULT_DATA,
        lease: float | None = None,
    ) -> SubscribeReply:
        """Ask the publisher for ``instrument`` (a config ``[[instruments]]`` table as a mapping,
        or a bare symbol meaning a US stock on SMART) and wait for the reply; its topics are
        then subscribed to and its lease renewed by :meth:`recv` until :meth:`release` or
        :meth:`close`. Raises :class:`~subscribers.control.ControlError` when refused (its
        ``error`` is the contract's code; ``candidates`` for ``ambiguous_contract``) or when no
        reply comes within ``control_timeout``; ValueError for a malformed instrument.
        """
        wanted = OnDemand.wanted(instrument, data, lease)
        early = self._subscribe_early(wanted)
        try:
            reply = self._ondemand.request(wanted)
        except BaseException:
            self._take_back(early, ())
            raise
        self._take_back(early, reply.topics)
        self._update_next_timer()
        return reply

    def _subscribe_early(self, wanted: Wanted) -> list[str]:
        """Subscribe to the topics the request will most likely be granted before sending it
        (so that its first messages cannot beat the subscription to the publisher); the
        topics newly subscribed."""
        early = likely_topics(wanted.instrument, wanted.data)
        joined = self._intake.joined(tuple(early))
        for topic in joined:
            if topic not in self._selection.exact_topics:
                self._socket.setsockopt(zmq.SUBSCRIBE, topic.encode())
        return joined

    def _take_back(self, early: Sequence[str], granted: Sequence[str]) -> None:
        """Unsubscribe from the early topics the reply did not grant (a wrong guess, or a
        refusal)."""
        wrong = [topic for topic in early if topic not in granted]
        held = {t for h in self._ondemand.held.values() for t in h.topics}
        for topic in self._selection.drop([t for t in wrong if t not in held]):
            self._socket.setsockopt(zmq.UNSUBSCRIBE, topic.encode())

    def release(self, key: str) -> None:
        """Stop holding ``key`` (unsubscribe at the publisher and here); a key not held is
        ignored. Raises ControlError if the publisher refuses or does not answer."""
        held = self._ondemand.release(key)
        if held is not None:
            self._drop_topics(held)

    def _drop_topics(self, held: Held) -> None:
        """Unsubscribe from a released instrument's topics (those the caller did not ask for
        by ``exact_keys``)."""
        for topic in self._selection.drop(held.topics):
            self._socket.setsockopt(zmq.UNSUBSCRIBE, topic.encode())
        self._update_next_timer()

    @property
    def synchronised(self) -> bool:
        """False while a snapshot is awaited (live messages are then held back)."""
        return self._sync.live

    def recv(self, timeout: float | None = None) -> Message | None:
        """The next message, or None if ``timeout`` seconds pass first (None waits for ever).

        Events (gaps, restarts, silence, snapshots) are passed to ``on_event`` from here, so a
        subscriber learns that a publisher went silent even while nothing arrives.
        """
        deadline = math.inf if timeout is None else self._clock() + timeout
        while True:
            step = self._advance(deadline)
            if not isinstance(step, int):
                return step  # a Message, or None: timed out
            events = dict(self._poller.poll(step))
            self._on_polled(events)

    def _advance(self, deadline: float) -> Message | int | None:
        """Everything :meth:`recv` does short of waiting: the next message, None once
        ``deadline`` passes, or else how many milliseconds to wait on :meth:`_poll_sockets`
        (the one step the asyncio flavour does differently)."""
        clock = self._clock
        ready = self._ready
        recv = self._socket.recv
        take = self._intake.take
        sync = self._sync
        live = SyncState.LIVE
        while True:
            if ready:
                return ready.popleft()
            try:
                head = recv(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                pass
            else:
                # Two recv calls and the frames' own "more" flags cost half what
                # recv_multipart does; a message of other than 2 frames is read whole (ZeroMQ
                # delivers all of a message's frames at once) and refused by the intake.
                if head.more:
                    body = recv(zmq.NOBLOCK, copy=False)
                    if not body.more:
                        # (a Frame has the buffer protocol, but its stub's __getattr__ hides it)
                        msg = take(head.bytes, body) if sync.state is live else None  # type: ignore[arg-type]
                        if msg is not None:  # the common message, already accounted for
                            if self._control_check != math.inf:
                                self._service_leases(clock())
                            return msg
                        frames = [head.bytes, body.bytes]
                    else:
                        frames = [head.bytes, body.bytes, *self._rest()]
                else:
                    frames = [head.bytes]
                now = clock()
                self._on_frames(frames, now)
                if now >= self._control_check:  # a queue that never empties never polls,
                    self._service_leases(now)  # but its leases must not run out for it
                if not self._ready and now >= deadline:
                    return None  # a flood of filtered messages must not outlast the timeout
                continue
            # Timers run only once the queue is empty: a subscriber that fell behind must read
            # the heartbeats already waiting for it before it may call a publisher silent.
            now = clock()
            if now >= self._next_timer:
                self._run_timers(now)
                continue
            if now >= deadline:
                return None
            remaining_ms = (min(deadline, self._next_timer) - now) * 1000  # may be infinite
            self._ondemand.poll_with(self._poller)
            return MAX_POLL_MS if remaining_ms >= MAX_POLL_MS else math.ceil(remaining_ms)

    def _service_leases(self, now: float) -> None:
        if now >= self._control_check:
            self._ondemand.service(now)
            self._update_next_timer()

    def _rest(self) -> list[bytes]:
        """The remaining frames of a message of more than 2."""
        rest: list[bytes] = []
        more = True
        while more:
            frame = self._socket.recv(zmq.NOBLOCK, copy=False)
            rest.append(frame.bytes)
            more = frame.more
        return rest

    def _poll_sockets(self) -> list[tuple[Any, int]]:
        """The sockets to wait on and their flags: the SUB socket, and the snapshot and
        background control sockets while a reply is awaited on them."""
        return list(self._poller.sockets)

    def _on_polled(self, events: Mapping[Any, int]) -> None:
        """Handle the snapshot and control sockets a poll found readable."""
        snapshot = self._sync.on_polled(events)
        if self._ondemand.on_polled(events) or snapshot:
            self._update_next_timer()

    def __iter__(self) -> Iterator[Message]:
        """Messages as they arrive, for ever (until the socket is closed)."""
        while True:
            msg = self.recv(None)
            if msg is not None:
                yield msg

    def close(self) -> None:
        """Release what is held on demand (waiting up to 2 s for the publisher to agree), then
        close the sockets (pending messages are dropped) and any context this object made."""
        if not self._socket.closed:
            self._ondemand.release_all()
        self._ondemand.close()
        self._sync.close()
        self._socket.close(linger=0)
        if self._own_context:
            self._context.term()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- receiving -------------------------------------------------------------------------

    def _on_frames(self, frames: list[bytes], now: float) -> None:
        intake = self._intake
        msg = intake.decode(frames)
        if msg is None:
            return
        if intake.note_session(msg):
            self._restarted(msg.pub)
        if isinstance(msg, Heartbeat):
            intake.note_heartbeat(msg, now)
            self._update_next_timer()
        sync = self._sync
        if sync.live:
            self._process(msg)
            return
        if sync.hold(msg):
            self._update_next_timer()

    def _restarted(self, pub: str) -> None:
        """A publisher began a new session: ask again for what is held (the new session
        knows nothing of it) and, in snapshot mode, resynchronise from a new snapshot."""
        if self._ondemand.held:
            self._ondemand.restarted()
        self._sync.restarted(pub)
        self._update_next_timer()

    def _on_granted(self, held: Held) -> None:
        """Subscribe to the topics of an instrument granted on demand; in snapshot mode, then
        check the first ``seq`` of each against a snapshot of them (Clone pattern: what was
        sent before the subscription took effect is in the snapshot; anything else missed is
        a gap)."""
        for topic in self._intake.joined(held.topics):
            if topic not in self._selection.exact_topics:
                self._socket.setsockopt(zmq.SUBSCRIBE, topic.encode())
        if self._sync.enabled:
            self._sync.sync_topics(held.topics)
        self._update_next_timer()

    # -- timers ----------------------------------------------------------------------------

    def _update_next_timer(self) -> None:
        ondemand = self._ondemand
        self._control_check = self._clock() + CONTROL_CHECK if ondemand.active else math.inf
        silence = self._watch.next_check()
        self._next_timer = min(
            math.inf if silence is None else silence,
            self._sync.deadline,
            ondemand.next_due(),
        )

    def _run_timers(self, now: float) -> None:
        self._ondemand.run_timers(now)
        self._intake.check_silence(now)
        self._sync.run_timers(now)
        self._update_next_timer()
