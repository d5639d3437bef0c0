"""The old home of the shared test helpers, now in :mod:`tests.support` (one implementation).

Only re-exports, for test files owned elsewhere that still import from here; new code imports
from :mod:`tests.support.processes` and :mod:`tests.support.waiting`. Delete this module once
nothing imports it.
"""

from tests.support.processes import BIN, LineReader, Processes, free_port, port_open, processes
from tests.support.waiting import DEADLINE, wait_for

__all__ = [
    "BIN",
    "DEADLINE",
    "LineReader",
    "Processes",
    "free_port",
    "port_open",
    "processes",
    "wait_for",
]
