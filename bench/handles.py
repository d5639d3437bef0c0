"""The benchmark's side of its helper processes: the feeder and the two kinds of receiver.

Each helper is a ``spawn``-started process (a fresh interpreter: nothing of this process's
ZeroMQ context or threads is inherited) driven over a ``multiprocessing`` pipe.
"""

import contextlib
import multiprocessing
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Final

from bench import counter, feeder, stock
from bench.feeder import Burst, Paced, Prepare, Prepared, Sent, SessionInfo, Status, Stop
from bench.receivers import Arrival, Expect, Quit, Wait

SPAWN: Final = multiprocessing.get_context("spawn")
START_TIMEOUT: Final = 60.0
REPLY_MARGIN: Final = 30.0
"""Extra seconds allowed for a helper's reply beyond what it was asked to wait."""


class HelperError(RuntimeError):
    """A helper process died or did not answer in time."""


class _Helper:
    """A spawned process and our end of its pipe."""

    def __init__(self, name: str, target: Callable[..., None], *args: Any) -> None:
        ours, theirs = SPAWN.Pipe()
        self.name = name
        self._conn: Connection = ours
        self._proc: BaseProcess = SPAWN.Process(
            target=target, args=(theirs, *args), name=name, daemon=True
        )
        self._proc.start()
        theirs.close()

    @property
    def pid(self) -> int:
        assert self._proc.pid is not None
        return self._proc.pid

    def ask(self, message: object, timeout: float) -> Any:
        self._conn.send(message)
        return self.reply(timeout)

    def reply(self, timeout: float) -> Any:
        if not self._conn.poll(timeout):
            raise HelperError(f"{self.name} did not answer within {timeout:g} s")
        try:
            return self._conn.recv()
        except EOFError as exc:
            raise HelperError(f"{self.name} exited (code {self._proc.exitcode})") from exc

    def tell(self, message: object) -> None:
        self._conn.send(message)

    def close(self, goodbye: object) -> None:
        """Say goodbye, wait a little, then terminate if needed."""
        if self._proc.is_alive():
            with contextlib.suppress(OSError):
                self._conn.send(goodbye)
            self._proc.join(10.0)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(10.0)
        self._conn.close()


class Feed(_Helper):
    """The feeder process (:mod:`bench.feeder`)."""

    def __init__(self, max_version: int) -> None:
        super().__init__("feeder", feeder.serve, max_version)
        self.port: int = self.reply(START_TIMEOUT)

    def sessions(self) -> list[SessionInfo]:
        result: list[SessionInfo] = self.ask(Status(), START_TIMEOUT)
        return result

    def wait_session(self, ready: Callable[[SessionInfo], bool], timeout: float) -> SessionInfo:
        """The first session for which ``ready`` holds, polling until ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            for session in self.sessions():
                if ready(session):
                    return session
            if time.monotonic() > deadline:
                raise HelperError(f"no ready session after {timeout:g} s: {self.sessions()}")
            time.sleep(0.05)

    def prepare(self, session: int, count: int, seed: int, kind: str = "l1") -> Prepared:
        prepared: Prepared = self.ask(Prepare(session, count, seed, kind), START_TIMEOUT * 5)
        return prepared

    def burst(self, session: int, count: int, timeout: float) -> Sent:
        sent: Sent = self.ask(Burst(session, count), timeout)
        return sent

    def paced(
        self, session: int, rate: float, frames: int, start: int, slice_seconds: float
    ) -> Sent:
        timeout = frames / rate + REPLY_MARGIN
        sent: Sent = self.ask(Paced(session, rate, frames, start, slice_seconds), timeout)
        return sent

    def stop(self) -> None:
        self.close(Stop())


class Receiver(_Helper):
    """A counting receiver: the stock client or the subscriber (:mod:`bench.receivers`)."""

    def expect(self, count: int, *, latency: bool = False) -> None:
        self.ask(Expect(count, latency), START_TIMEOUT)

    def wait(self, seconds: float) -> Arrival:
        arrival: Arrival = self.ask(Wait(seconds), seconds + REPLY_MARGIN)
        return arrival

    def stop(self) -> None:
        self.close(Quit())


def stock_client(port: int) -> Receiver:
    """A fresh stock ibapi client process, connected to the feeder on ``port``."""
    client = Receiver("stock ibapi client", stock.serve, port)
    if not client.reply(START_TIMEOUT):
        client.stop()
        raise HelperError("the stock ibapi client did not get nextValidId")
    return client


def subscriber(endpoint: str, prefix: bytes = b"tick.") -> Receiver:
    """A counting subscriber process on ``endpoint`` (counting messages of topics that start
    with ``prefix``), returned once a heartbeat came through."""
    sub = Receiver("counting subscriber", counter.serve, endpoint, prefix)
    sub.reply(START_TIMEOUT)
    return sub
