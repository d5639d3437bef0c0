"""The publisher's startup log line says which read path runs (compiled or pure, and why)."""

import logging

import pytest

from publisher import compiled
from tests.support.stack import Stack


def test_the_publisher_started_line_names_the_read_path(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="publisher.service.root"):
        stack.start_publisher()  # no gateway needed: the line comes once the sockets are bound
    [started] = [r for r in caplog.records if r.getMessage() == "publisher started"]
    read_path = started.__dict__["read_path"]  # the line's extra field
    assert read_path == compiled.status()
    assert read_path.startswith(("compiled (mypyc): ", "pure Python: "))
