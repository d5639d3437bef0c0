"""Child processes that always get cleaned up, their output read line by line, and free ports."""

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from tests.support.waiting import DEADLINE

BIN = Path(sys.executable).parent
"""Where this virtual environment's ``ibpub`` and ``ibsub`` scripts are."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


class Processes:
    """Starts subprocesses in their own process groups and kills every one at teardown."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[bytes]] = []

    def start(
        self, args: Sequence[str], *, env: dict[str, str] | None = None, **kwargs: Any
    ) -> subprocess.Popen[bytes]:
        """Start a process with unbuffered binary pipes (read them with :class:`LineReader`)."""
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        proc = subprocess.Popen(
            list(args),
            stdout=kwargs.pop("stdout", subprocess.PIPE),
            stderr=kwargs.pop("stderr", subprocess.PIPE),
            bufsize=0,
            env=full_env,
            start_new_session=True,
            **kwargs,
        )
        self.started.append(proc)
        return proc

    def cleanup(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                proc.wait(timeout=10)
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()


@contextlib.contextmanager
def processes() -> Iterator[Processes]:
    group = Processes()
    try:
        yield group
    finally:
        group.cleanup()


class LineReader:
    """Reads whole lines from a child's pipe without blocking past a deadline."""

    def __init__(self, stream: IO[bytes] | None) -> None:
        assert stream is not None
        self._fd = stream.fileno()
        os.set_blocking(self._fd, False)
        self._partial = b""
        self.lines: list[str] = []
        self.eof = False

    def _pump(self, wait: float) -> None:
        ready, _, _ = select.select([self._fd], [], [], wait)
        if not ready:
            return
        try:
            chunk = os.read(self._fd, 65536)
        except BlockingIOError:
            return
        if not chunk:
            self.eof = True
            return
        data = self._partial + chunk
        *complete, self._partial = data.split(b"\n")
        self.lines.extend(line.decode("utf-8", "replace") for line in complete)

    def until(self, done: Callable[[list[str]], bool], timeout: float = DEADLINE) -> list[str]:
        """Read until ``done(lines)`` holds or the pipe closes; fails on timeout."""
        deadline = time.monotonic() + timeout
        while not done(self.lines) and not self.eof:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                tail = self.lines[-5:]
                raise AssertionError(f"timed out after {timeout:g} s; last lines: {tail}")
            self._pump(min(remaining, 0.2))
        return self.lines

    def rest(self, timeout: float = DEADLINE) -> list[str]:
        """Everything up to EOF."""
        return self.until(lambda _: False, timeout)
