"""The one way tests wait: poll a condition until it holds, with a generous deadline.

A test on a shared 2-core machine (or one core with a CPU hog) runs many times slower than on a
quiet laptop, so nothing here sleeps for a fixed time "to let things settle" and nothing
asserts how long something took: a wait fails only when its condition never came true.
"""

import time
from collections.abc import Callable
from typing import Any

DEADLINE = 60.0
"""Seconds a condition is given; far beyond what any condition needs on a loaded machine."""


def wait_for(
    condition: Callable[[], Any], what: str, timeout: float = DEADLINE, every: float = 0.05
) -> Any:
    """Poll ``condition`` until it returns something truthy (and return that); fail naming
    ``what`` when ``timeout`` seconds pass first. ``every`` is the pause between polls."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)
