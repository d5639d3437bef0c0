"""The one event loop the publisher and the proxy run on: a poller, a wake-up pair, timers.

Each turn runs every timer, then polls its ZeroMQ sockets, its descriptor sources and the
wake-up socket until the earliest deadline the timers name (or until woken), then hands each
ready socket to its callback. Callbacks must do a bounded amount of work per call (the
gateway client reads at most a few chunks), so timers are never starved by a busy feed.

:meth:`EventLoop.stop` is safe from a signal handler or another thread: it sets a flag and
writes a byte to the wake-up pair, so a loop blocked in ``poll`` returns at once.
"""

import contextlib
import socket
import time
from collections.abc import Callable
from typing import Any, Protocol

import zmq

Clock = Callable[[], float]


class Timer(Protocol):
    """Timed work: :meth:`run` does whatever is due at ``now`` (every turn), :meth:`deadline`
    says when it next needs a turn (asked after every timer has run)."""

    def run(self, now: float) -> None: ...
    def deadline(self) -> float | None: ...


class Source(Protocol):
    """A descriptor whose identity and interest change (the gateway socket: a new one per
    connection, writable interest while connecting)."""

    def interest(self) -> tuple[int, int]:
        """``(fd, mask)``: the descriptor (-1: none) and ``zmq.POLLIN``/``POLLOUT`` bits."""
        ...

    def on_events(self, events: int) -> None: ...


class EventLoop:
    """Runs timers and dispatches ready sockets until :meth:`stop`."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._wake_fd = self._wake_r.fileno()
        self._poller = zmq.Poller()
        self._poller.register(self._wake_fd, zmq.POLLIN)
        self._sockets: list[tuple[zmq.Socket[Any], Callable[[], None]]] = []
        self._sources: list[tuple[Source, list[int]]] = []
        """Each source with the ``[fd, mask]`` it is registered with now."""
        self._timers: list[Timer] = []
        self._stopped = False

    @property
    def stopped(self) -> bool:
        return self._stopped

    def add_socket(self, sock: zmq.Socket[Any], on_readable: Callable[[], None]) -> None:
        """Call ``on_readable`` whenever ``sock`` has a message (bounded work per call)."""
        self._poller.register(sock, zmq.POLLIN)
        self._sockets.append((sock, on_readable))

    def add_source(self, source: Source) -> None:
        """Poll a descriptor source; it is asked for its interest every turn."""
        self._sources.append((source, [-1, 0]))

    def add_timer(self, timer: Timer) -> None:
        """Run ``timer`` every turn, in the order added."""
        self._timers.append(timer)

    def run(self) -> None:
        """Turn until :meth:`stop` (returns at once if it was already called)."""
        while not self._stopped:
            self.turn()

    def turn(self) -> None:
        """One turn: timers, one poll (until the earliest deadline), the ready callbacks."""
        now = self._clock()
        for timer in self._timers:
            timer.run(now)
        deadlines = [d for d in (t.deadline() for t in self._timers) if d is not None]
        timeout = max(0, int((min(deadlines) - now) * 1000)) + 1 if deadlines else None
        polled = [
            (source, self._register(source, registered)) for source, registered in self._sources
        ]
        events = dict(self._poller.poll(timeout))
        if self._wake_fd in events:
            with contextlib.suppress(BlockingIOError):
                self._wake_r.recv(4096)
        for source, fd in polled:
            if fd >= 0 and fd in events:
                source.on_events(events[fd])
        for sock, on_readable in self._sockets:
            if sock in events:
                on_readable()

    def stop(self) -> None:
        """Make :meth:`run` return after the current turn; safe from any thread."""
        self._stopped = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def close(self) -> None:
        """Close the wake-up pair (after :meth:`run` has returned)."""
        self._wake_r.close()
        self._wake_w.close()

    def _register(self, source: Source, registered: list[int]) -> int:
        """(Re-)register a source's descriptor if its interest changed; returns the fd."""
        fd, mask = source.interest()
        if fd < 0:
            mask = 0
        if [fd, mask] != registered:
            if registered[0] >= 0:
                with contextlib.suppress(KeyError):
                    self._poller.unregister(registered[0])
            if fd >= 0:
                self._poller.register(fd, mask)
            registered[:] = [fd, mask]
        return fd


class Periodic:
    """A :class:`Timer` that runs ``action(now)`` every ``interval`` seconds while
    ``enabled()`` holds; the first run is on the first turn it is enabled."""

    def __init__(
        self,
        interval: float,
        action: Callable[[float], None],
        enabled: Callable[[], bool] = lambda: True,
    ) -> None:
        self._interval = interval
        self._action = action
        self._enabled = enabled
        self._next = 0.0

    def run(self, now: float) -> None:
        if now >= self._next and self._enabled():
            self._next = now + self._interval
            self._action(now)

    def deadline(self) -> float | None:
        return self._next if self._enabled() else None
