"""Fixtures shared by the whole suite: a running stack and child processes, always torn down.

Markers: ``unit`` marks the fast tests (pure modules: no subprocess, no simulator, no sockets
beyond one in-process ZeroMQ pair); ``make test-unit`` runs only them.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import Processes, processes
from tests.support.stack import Stack


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """A :class:`Stack` with nothing started yet; everything it starts is stopped afterwards."""
    running = Stack(tmp_path)
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def procs() -> Iterator[Processes]:
    """Start child processes with ``procs.start([...])``; all are killed afterwards."""
    with processes() as group:
        yield group
