"""The subscriber library: decoded, in-order bus messages, with loss, restarts and silence reported.

::

    with Subscriber("tcp://127.0.0.1:7700", exact_keys=["AAPL"], snapshot=True) as sub:
        for msg in sub:
            print(msg.topic, msg.seq, sub.book.quotes["AAPL"].bid, sub.stats.lost)

Subscriptions are ZeroMQ byte prefixes (``tick.ES`` also receives ``tick.ESZ6``); exact keys
subscribe to ``tick.<key>`` and drop longer tick topics locally. The subscriber also subscribes
to every publisher's heartbeats (``hb.``; delivered only if a prefix asks for them) to learn
which publishers are alive and what each topic's last ``seq`` is.

What it reports, each through ``on_event`` (see :mod:`subscribers.events`) and in :attr:`stats`:

* **gaps**: a topic's ``seq`` skipped ahead, or a heartbeat showed ``seq`` numbers that never
  arrived (a lost tail). Every lost message is counted once.
* **restarts**: a publisher's ``sid`` changed. With ``snapshot=True`` the subscriber fetches a
  new snapshot and resynchronises.
* **silence**: no heartbeat from a publisher for 3 intervals (and its return).
* malformed messages (wrong frame count, bad msgpack, unknown schema version): counted, skipped;
  messages of a type it does not know (a later contract's data kinds): counted apart, skipped.

With ``snapshot=True`` the subscriber follows ZeroMQ's Clone pattern: it subscribes, waits for
a heartbeat (proof that its subscriptions are active at the publisher), asks the snapshot
endpoint for the latest ticks, delivers them, then delivers the live messages that are newer
than the snapshot and drops the older ones, so nothing is missed or repeated. After a snapshot
every message of that session is accounted for from ``seq`` 1, even on topics that appear later.

On demand (contract 1.1), ``requests=[...]`` and :meth:`Subscriber.request` ask the publisher's
control socket for instruments; :mod:`subscribers.ondemand` renews the leases from inside
``recv`` (no thread), asks again after a publisher restart and releases on close, with the books
kept by the pure :mod:`subscribers.leases`. ``sub.states`` is the latest status per (scope, key),
from the snapshot's ``states`` and then live status messages (:mod:`subscribers.states`).

Only :class:`Subscriber` touches sockets; :class:`SeqTracker` is pure. The asyncio flavour,
:class:`~subscribers.aio.AsyncSubscriber`, drives this class through :meth:`Subscriber._advance`
and awaits only the waits.
"""

import enum
import math
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType, TracebackType
from typing import Any, Final, Self

import zmq

from subscribers.book import Book
from subscribers.control import (
    DEFAULT_CONTROL_ENDPOINT,
    DEFAULT_CONTROL_TIMEOUT,
    InstrumentLike,
    default_client_name,
)
from subscribers.curve import CurveKeys
from subscribers.events import (
    Event,
    Gap,
    PublisherAlive,
    PublisherRestart,
    PublisherSilent,
    SnapshotApplied,
    SnapshotFailed,
)
from subscribers.leases import Held
from subscribers.liveness import HeartbeatWatch, PublisherInfo
from subscribers.ondemand import OnDemand
from subscribers.schema import DEFAULT_DATA, SubscribeReply
from subscribers.snapshot import (
    DEFAULT_TIMEOUT,
    Snapshot,
    SnapshotClient,
    SnapshotError,
    request_prefixes,
)
from subscribers.states import StateKey, StateTable
from subscribers.tracking import SeqStatus, SeqTracker
from subscribers.wire import (
    HEARTBEAT_PREFIX,
    STATUS_PREFIX,
    TICK_PREFIX,
    Heartbeat,
    Message,
    Status,
    Tick,
    UnknownTypeError,
    WireError,
)
from subscribers.wire import decode as decode_message

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


@dataclass(frozen=True, slots=True)
class SubscriberStats:
    """Counters of one :class:`Subscriber` at one moment."""

    received: int = 0
    """Live messages delivered to the caller."""
    malformed: int = 0
    """Messages that broke the contract (wrong frame count, failed decode); skipped."""
    unknown: int = 0
    """Messages of a type this library does not know (a later contract's data kind, such as
    ``bar.``); skipped without complaint, as contract 1.1 asks of every subscriber."""
    filtered: int = 0
    """Tick topics dropped by exact-key filtering (``tick.ESZ6`` when only ``ES`` is wanted)."""
    stale: int = 0
    """Duplicates and messages older than what was delivered (or than a snapshot); skipped."""
    gaps: int = 0
    """Gap events across all topics."""
    lost: int = 0
    """Messages lost in those gaps."""
    restarts: int = 0
    """Topics seen changing ``sid`` (publisher restarts)."""
    publisher_restarts: int = 0
    """Publishers seen starting a new session."""
    silences: int = 0
    """Times a publisher went 3 heartbeat intervals without a heartbeat."""
    snapshots: int = 0
    """Snapshots applied."""
    snapshot_ticks: int = 0
    """Ticks delivered from snapshots (not counted in ``received``)."""
    snapshot_failures: int = 0
    """Snapshot requests that failed (no reply in time, or a bad one)."""


class _Sync(enum.Enum):
    LIVE = "live"
    """Messages are processed and delivered as they arrive."""
    AWAIT_HEARTBEAT = "await-heartbeat"
    """Snapshot mode, starting: holding messages until a heartbeat proves we are subscribed."""
    AWAIT_SNAPSHOT = "await-snapshot"
    """Snapshot requested: holding live messages until it is applied (or fails)."""


def _ignore(event: Event) -> None:
    """The default ``on_event``: events are still counted in :attr:`Subscriber.stats`."""


class Subscriber:
    """A connected SUB socket delivering decoded, validated, in-order bus messages.

    ``prefixes`` are ZeroMQ byte-prefix subscriptions (``""`` is everything). ``exact_keys`` adds
    a subscription to ``tick.<key>`` for each key and, once any are given, restricts tick topics
    to exactly those keys; status and heartbeat topics still pass when a prefix selects them.
    Without ``prefixes`` the subscriber takes every topic, or only the exact keys' ticks when
    ``exact_keys`` are given.

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
        self.seq = SeqTracker()
        self.book = Book()
        """Top of book per instrument, from every tick delivered (snapshot ticks included)."""
        self.last_error: WireError | None = None
        """The most recent malformed message's error (for diagnostics)."""
        if prefixes is None:  # by default: everything, or only the exact keys when given
            prefixes = () if exact_keys or requests else ("",)
        self._prefixes = tuple(dict.fromkeys(prefixes))
        self._exact_topics = frozenset(TICK_PREFIX + key for key in exact_keys)
        self._only_exact = bool(exact_keys)
        """Tick topics are restricted to the exact keys (and the requested instruments)."""
        self._requested: set[str] = set()
        """Topics of instruments held on demand."""
        self._exact_bytes = {t.encode() for t in self._exact_topics}
        """Tick topics always delivered: the exact keys' and the requested instruments'."""
        self._prefix_passes: dict[bytes, bool] = {}
        self._states = StateTable()
        self._on_event = on_event or _ignore
        self._clock = clock
        self._watch = HeartbeatWatch(heartbeat_interval)
        self._sids: dict[str, int] = {}
        self._wanted: dict[str, bool] = {}
        self._ready: deque[Message] = deque()
        self._held: list[Message] = []
        self._counts = dict.fromkeys(SubscriberStats.__slots__, 0)
        self._next_timer = math.inf
        self._snapshot_mode = snapshot
        self._snapshot_timeout = snapshot_timeout
        self._snapshot_deadline = math.inf
        self._snapshot_pubs: frozenset[str] = frozenset()
        """Publishers whose ticks the last snapshot held: a restart of one of them resyncs."""
        self._polled_snapshot: zmq.Socket[Any] | None = None
        self._sync = _Sync.AWAIT_HEARTBEAT if snapshot else _Sync.LIVE
        self._own_context = context is None
        self._context: zmq.Context[Any] = zmq.Context() if context is None else context
        self._socket: zmq.Socket[Any] = self._context.socket(zmq.SUB)
        self._snapshots = SnapshotClient(snapshot_endpoint, self._context, curve)
        self._poller = zmq.Poller()
        self._poller.register(self._socket, zmq.POLLIN)
        self._polled_control: zmq.Socket[Any] | None = None
        self._control_check = math.inf
        """When a subscriber reading a continuous stream next looks at its leases (see
        :meth:`_service_control`); infinity while nothing is held or in flight."""
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
            subscriptions = [
                *self._prefixes,
                *sorted(self._exact_topics),
                STATUS_PREFIX,
                HEARTBEAT_PREFIX,
            ]
            for topic in subscriptions:
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

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run."""
        return bool(self._socket.closed)

    @property
    def stats(self) -> SubscriberStats:
        """The counters as they are now."""
        counts = self._counts
        tracker = self.seq
        counts.update(
            stale=tracker.stale, gaps=tracker.gaps, lost=tracker.lost, restarts=tracker.restarts
        )
        return SubscriberStats(**counts)

    @property
    def publishers(self) -> dict[str, PublisherInfo]:
        """Every publisher heard from (by heartbeat), by name: its session, gateway, liveness."""
        return self._watch.info()

    @property
    def states(self) -> Mapping[StateKey, Status]:
        """The latest status per (scope, key), read-only: ``sub.states["instrument", "AAPL"]``,
        ``sub.states["gateway", None]``. From the snapshot's ``states`` (contract 1.1; absent
        from an older publisher's reply) and then from live status messages, newer winning."""
        return self._states.view

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
        reply = self._ondemand.request(OnDemand.wanted(instrument, data, lease))
        self._update_next_timer()
        return reply

    def release(self, key: str) -> None:
        """Stop holding ``key`` (unsubscribe at the publisher and here); a key not held is
        ignored. Raises ControlError if the publisher refuses or does not answer."""
        held = self._ondemand.release(key)
        if held is not None:
            self._drop_topics(held)

    def _drop_topics(self, held: Held) -> None:
        """Unsubscribe from a released instrument's topics (those the caller did not ask for
        by ``exact_keys``)."""
        for topic in held.topics:
            self._requested.discard(topic)
            if topic not in self._exact_topics:
                self._exact_bytes.discard(topic.encode())
                self._socket.setsockopt(zmq.UNSUBSCRIBE, topic.encode())
        self._wanted.clear()
        self._update_next_timer()

    @property
    def synchronised(self) -> bool:
        """False while a snapshot is awaited (live messages are then held back)."""
        return self._sync is _Sync.LIVE

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
        sock = self._socket
        while True:
            if self._ready:
                return self._ready.popleft()
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                pass
            else:
                now = clock()
                self._on_frames(frames, now)
                if now >= self._control_check:
                    self._service_control(now)
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
            self._poll_control()
            return MAX_POLL_MS if remaining_ms >= MAX_POLL_MS else math.ceil(remaining_ms)

    def _poll_sockets(self) -> list[tuple[Any, int]]:
        """The sockets to wait on and their flags: the SUB socket, and the snapshot and
        background control sockets while a reply is awaited on them."""
        return list(self._poller.sockets)

    def _on_polled(self, events: Mapping[Any, int]) -> None:
        """Handle the snapshot and control sockets a poll found readable."""
        if self._polled_snapshot is not None and self._polled_snapshot in events:
            self._on_snapshot_reply()
        if self._polled_control is not None and self._polled_control in events:
            self._ondemand.on_readable()
            self._update_next_timer()

    def _service_control(self, now: float) -> None:
        """Renew and read control replies while messages keep arriving: a subscriber whose
        queue never empties never polls, but must not let its leases run out for it. Checked
        at most every :data:`CONTROL_CHECK` seconds, one float comparison per message."""
        ondemand = self._ondemand
        if ondemand.background.busy:
            ondemand.on_readable()
        if now >= ondemand.next_due():
            ondemand.run_timers(now)
        self._update_next_timer()

    def _poll_control(self) -> None:
        """Poll the background control socket while a request is in flight on it (the socket
        is replaced after a timeout, so the registration follows it)."""
        background = self._ondemand.background
        current = background.socket if background.busy else None
        if current is self._polled_control:
            return
        if self._polled_control is not None:
            self._poller.unregister(self._polled_control)
        if current is not None:
            self._poller.register(current, zmq.POLLIN)
        self._polled_control = current

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
        self._snapshots.close()
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
        msg = self._decode(frames)
        if msg is None:
            return
        self._note_session(msg)
        if isinstance(msg, Heartbeat):
            self._note_heartbeat(msg, now)
        if self._sync is _Sync.LIVE:
            self._process(msg)
            return
        self._held.append(msg)
        if self._sync is _Sync.AWAIT_HEARTBEAT and isinstance(msg, Heartbeat):
            self._request_snapshot()

    def _decode(self, frames: list[bytes]) -> Message | None:
        """Decode one message; None (and counted) if it is filtered out or malformed."""
        if len(frames) != 2:
            name = frames[0].decode("utf-8", "backslashreplace") if frames else ""
            self._count_malformed(WireError(f"{len(frames)} frames, not 2", name))
            return None
        topic, payload = frames
        if (
            self._exact_bytes
            and topic.startswith(b"tick.")
            and topic not in self._exact_bytes
            and not self._passes_prefix(topic)
        ):
            self._counts["filtered"] += 1
            return None
        try:
            return decode_message(topic, payload)
        except UnknownTypeError:
            self._counts["unknown"] += 1
            return None
        except WireError as exc:
            self._count_malformed(exc)
            return None

    def _passes_prefix(self, topic: bytes) -> bool:
        """Whether a tick topic outside the exact and requested ones is still wanted: only
        when no exact keys restrict ticks and one of the caller's prefixes matches it."""
        passes = self._prefix_passes.get(topic)
        if passes is None:
            passes = not self._only_exact and any(
                topic.startswith(p.encode()) for p in self._prefixes
            )
            self._prefix_passes[topic] = passes
        return passes

    def _count_malformed(self, error: WireError) -> None:
        self._counts["malformed"] += 1
        self.last_error = error

    def _note_session(self, msg: Message) -> None:
        """Spot a publisher's new session; in snapshot mode, resynchronise from a snapshot."""
        known = self._sids.get(msg.pub)
        if known == msg.sid:
            return
        self._sids[msg.pub] = msg.sid
        if known is None:
            return
        self._counts["publisher_restarts"] += 1
        self._on_event(PublisherRestart(msg.pub, known, msg.sid))
        if self._ondemand.held:  # the new session knows nothing of our holds: ask again
            self._ondemand.restarted()
            self._update_next_timer()
        if not self._snapshot_mode or self._sync is _Sync.AWAIT_HEARTBEAT:
            return
        # Through a proxy other publishers' restarts reach us too; only the snapshot's own
        # publisher (or any, if the snapshot was empty and named none) calls for a new one.
        if not self._snapshot_pubs or msg.pub in self._snapshot_pubs:
            self._request_snapshot()

    def _on_granted(self, held: Held) -> None:
        """Subscribe to the topics of an instrument granted on demand."""
        for topic in held.topics:
            if topic in self._requested:
                continue
            self._requested.add(topic)
            self._exact_bytes.add(topic.encode())
            self.seq.joined(topic)
            if topic not in self._exact_topics:
                self._socket.setsockopt(zmq.SUBSCRIBE, topic.encode())
        self._wanted.clear()

    def _note_heartbeat(self, hb: Heartbeat, now: float) -> None:
        first = hb.pub not in self._watch
        if self._watch.beat(hb.pub, hb.sid, hb.seq, hb.ts, hb.gateway, now):
            self._on_event(PublisherAlive(hb.pub, hb.sid, returned=not first))
        self._update_next_timer()

    def _process(self, msg: Message) -> None:
        """Sequence-check one message in delivery order and queue it for the caller."""
        topic = msg.topic
        if isinstance(msg, Status):
            self._states.apply(msg)
            if not self._tracks(topic):  # read for sub.states only
                return
        result = self.seq.observe(topic, msg.sid, msg.seq)
        if result.status is SeqStatus.GAP:
            self._on_event(Gap(topic, msg.sid, msg.seq - result.missing, msg.seq - 1, "seq"))
        elif not result.fresh:
            return
        if isinstance(msg, Tick):
            self.book.apply_tick(msg)
        elif isinstance(msg, Heartbeat):
            self._check_tail(msg)
        if self._tracks(topic):  # not a heartbeat read only for the subscriber's own use
            self._counts["received"] += 1
            self._ready.append(msg)

    def _check_tail(self, hb: Heartbeat) -> None:
        """Count the tick messages the heartbeat says were sent but never arrived."""
        for topic, seq in hb.seqs.items():
            if self._tracks(topic):
                missing = self.seq.observe_tail(topic, hb.sid, seq)
                if missing:
                    self._on_event(Gap(topic, hb.sid, seq - missing + 1, seq, "heartbeat"))

    def _tracks(self, topic: str) -> bool:
        """Whether the caller's subscriptions (not the subscriber's own ``hb.``) ask for
        ``topic``: the topics it delivers and accounts for."""
        wanted = self._wanted.get(topic)
        if wanted is None:
            if topic in self._requested or topic in self._exact_topics:
                wanted = True
            elif self._only_exact and topic.startswith(TICK_PREFIX):
                wanted = False
            else:
                wanted = any(topic.startswith(p) for p in self._prefixes)
            self._wanted[topic] = wanted
        return wanted

    # -- snapshots -------------------------------------------------------------------------

    def _request_snapshot(self) -> None:
        self._end_request()
        prefixes = request_prefixes([*self._prefixes, *self._exact_topics, *self._requested])
        if not prefixes:  # nothing subscribed is cached (status or hb only)
            self._release(_Sync.LIVE)
            return
        try:
            self._snapshots.request(prefixes)
        except zmq.ZMQError as exc:
            self._snapshot_failed(f"cannot ask {self._snapshots.endpoint}: {exc.strerror}")
            return
        self._polled_snapshot = self._snapshots.socket
        self._poller.register(self._polled_snapshot, zmq.POLLIN)
        self._sync = _Sync.AWAIT_SNAPSHOT
        self._snapshot_deadline = self._clock() + self._snapshot_timeout
        self._update_next_timer()

    def _on_snapshot_reply(self) -> None:
        try:
            snapshot = self._snapshots.on_readable()
        except SnapshotError as exc:
            self._snapshot_failed(exc.reason)
            return
        if snapshot is not None:
            self._apply_snapshot(snapshot)

    def _apply_snapshot(self, snapshot: Snapshot) -> None:
        self._end_request()
        seqs: dict[str, int] = {}
        pubs: set[str] = set()
        ticks = 0
        for entry in snapshot.topics:
            if not self._tracks(entry.topic):
                continue
            seqs[entry.topic] = entry.seq
            pubs.update(tick.pub for tick in entry.ticks)
            self.seq.reset(entry.topic, snapshot.sid, entry.seq)
            for tick in entry.ticks:
                self.book.apply_tick(tick)
                self._ready.append(tick)
                ticks += 1
        self.seq.complete_sid = snapshot.sid
        self._states.apply_all(snapshot.states)
        self._snapshot_pubs = frozenset(pubs)
        self._counts["malformed"] += snapshot.malformed
        self._counts["snapshots"] += 1
        self._counts["snapshot_ticks"] += ticks
        self._on_event(SnapshotApplied(snapshot.sid, MappingProxyType(seqs), ticks))
        self._release(_Sync.LIVE)

    def _snapshot_failed(self, reason: str) -> None:
        self._end_request()
        self._counts["snapshot_failures"] += 1
        self._on_event(SnapshotFailed(reason))
        self._release(_Sync.LIVE)

    def _end_request(self) -> None:
        """Stop polling for a snapshot reply and forget any still outstanding."""
        if self._polled_snapshot is not None:
            self._poller.unregister(self._polled_snapshot)
            self._polled_snapshot = None
        if self._snapshots.pending:
            self._snapshots.cancel()
        self._snapshot_deadline = math.inf
        self._update_next_timer()

    def _release(self, state: _Sync) -> None:
        """Process the held messages, dropping those of a session since replaced."""
        self._sync = state
        held, self._held = self._held, []
        for msg in held:
            if self._sids.get(msg.pub) == msg.sid:
                self._process(msg)

    # -- timers ----------------------------------------------------------------------------

    def _update_next_timer(self) -> None:
        ondemand = self._ondemand
        active = ondemand.background.busy or bool(ondemand.holdings)
        self._control_check = self._clock() + CONTROL_CHECK if active else math.inf
        silence = self._watch.next_check()
        self._next_timer = min(
            math.inf if silence is None else silence,
            self._snapshot_deadline,
            self._ondemand.next_due(),
        )

    def _run_timers(self, now: float) -> None:
        self._ondemand.run_timers(now)
        for silence in self._watch.overdue(now):
            self._counts["silences"] += 1
            self._on_event(
                PublisherSilent(silence.pub, silence.sid, silence.silent_for, silence.interval)
            )
        if now >= self._snapshot_deadline:
            self._snapshot_failed(
                f"no snapshot reply from {self._snapshots.endpoint} "
                f"within {self._snapshot_timeout:g} s"
            )
        self._update_next_timer()
