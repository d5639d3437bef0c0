"""SIGINT and SIGTERM for the long-running ``ibpub`` commands (run, demo, proxy).

A module of its own so that a command (:mod:`publisher.commands.demo`) and the CLI that
dispatches to it (:mod:`publisher.cli`) can both install the handlers without importing each
other.
"""

import signal
from collections.abc import Callable
from types import FrameType


class StopHandler:
    """Signal handler that asks a running service to stop (once, then lets a second ^C kill)."""

    def __init__(self, stop_fn: Callable[[], None]) -> None:
        self._stop_fn = stop_fn
        self.signalled = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.signalled and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signalled = True
        self._stop_fn()


def install_stop_handlers(stop_fn: Callable[[], None]) -> StopHandler:
    """Route SIGINT and SIGTERM to ``stop_fn``; returns the handler (it records the signal)."""
    handler = StopHandler(stop_fn)
    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return handler
