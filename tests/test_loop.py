"""The shared event loop: timers every turn, sockets dispatched, stop from any thread."""

import threading
from typing import Any

import zmq

from publisher.loop import EventLoop, Periodic


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Turning:
    """A timer that says the loop has turned and never bounds its poll."""

    def __init__(self, event: threading.Event) -> None:
        self._event = event

    def run(self, now: float) -> None:
        self._event.set()

    def deadline(self) -> float | None:
        return None


def test_a_periodic_timer_runs_at_once_then_every_interval() -> None:
    """Periodic runs on the first turn, then once the interval has passed."""
    clock = Clock()
    runs: list[float] = []
    timer = Periodic(2.0, runs.append)
    for now in (100.0, 101.0, 102.0, 103.9, 104.0):
        clock.now = now
        timer.run(now)
    assert runs == [100.0, 102.0, 104.0]
    assert timer.deadline() == 106.0


def test_a_disabled_periodic_timer_neither_runs_nor_asks_for_a_turn() -> None:
    """While enabled() is false the timer does nothing and names no deadline."""
    runs: list[float] = []
    timer = Periodic(1.0, runs.append, lambda: False)
    timer.run(100.0)
    assert runs == [] and timer.deadline() is None


def test_a_ready_socket_is_handed_to_its_callback() -> None:
    """A message on a registered ZeroMQ socket calls its on_readable in the next turn."""
    context: zmq.Context[Any] = zmq.Context()
    pull, push = context.socket(zmq.PULL), context.socket(zmq.PUSH)
    try:
        pull.bind("inproc://loop-test")
        push.connect("inproc://loop-test")
        loop = EventLoop(Clock())
        got: list[bytes] = []
        loop.add_socket(pull, lambda: got.append(pull.recv()))
        push.send(b"hello")
        loop.add_timer(Periodic(60.0, lambda now: None))  # bounds the poll
        while not got:
            loop.turn()
        assert got == [b"hello"]
        loop.close()
    finally:
        pull.close(linger=0)
        push.close(linger=0)
        context.term()


def test_stop_from_another_thread_wakes_a_blocked_loop() -> None:
    """With no timer the loop blocks in poll; stop() from elsewhere ends run()."""
    loop = EventLoop()
    turning = threading.Event()
    loop.add_timer(Turning(turning))
    thread = threading.Thread(target=loop.run)
    thread.start()
    assert turning.wait(30), "the loop never turned"
    loop.stop()
    thread.join(timeout=30)
    assert not thread.is_alive()
    loop.close()


def test_run_returns_at_once_after_an_early_stop() -> None:
    """A stop before run means run does not turn at all."""
    loop = EventLoop()
    turns: list[float] = []
    loop.add_timer(Periodic(1.0, turns.append))
    loop.stop()
    loop.run()
    assert turns == [] and loop.stopped
    loop.close()
