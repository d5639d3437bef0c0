"""Fixtures shared by the whole suite (a running stack, child processes: always torn down) and
the ``unit`` marker.

``unit`` marks the fast tests: those of pure modules, in this process, with no child process,
no simulated gateway and no socket beyond an in-process pair. ``make test-unit`` runs only them
(well under a minute); ``make test`` runs everything. The marker goes by file, listed in
:data:`UNIT`: a new file of pure tests is added there.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import Processes, processes
from tests.support.stack import Stack

TESTS = Path(__file__).parent
UNIT = frozenset(
    {
        # folders: every file in them
        "core",
        "gateway",
        "config",
        # files
        "test_endpoints.py",
        "test_errors.py",
        "test_loop.py",
        "bridge/test_copier.py",
        "bridge/test_settings.py",
        "bus/test_publish.py",
        "compiled/test_in_use.py",
        "fuzz/test_corpus.py",
        "bus/test_snapshot_cache.py",
        "bus/test_snapshot_server.py",
        "observability/test_histogram.py",
        "observability/test_httpd.py",
        "observability/test_metrics.py",
        "observability/test_per_instrument_setting.py",
        "proxy/test_links.py",
        "service/test_status.py",
        "sim/test_catalogue.py",
        "sim/test_kinds_pure.py",
        "sim/test_kinds_wire.py",
        "sim/test_market.py",
        "sim/test_protocol.py",
        "sim/test_replay_recording.py",
        "sim/test_replay_requestids.py",
        "tap/test_fileformat.py",
        "subscribers/test_client.py",
        "subscribers/test_control.py",
        "subscribers/test_data_kinds.py",
        "subscribers/test_depth.py",
        "subscribers/test_intake_fast.py",
        "subscribers/test_kinds.py",
        "subscribers/test_recorder.py",
        "subscribers/test_snapshot_client.py",
        "subscribers/test_tracking.py",
        "subscribers/test_wire.py",
    }
)
"""Test files (and folders) under ``tests/`` whose tests are ``unit``."""


def pytest_configure(config: pytest.Config) -> None:
    missing = sorted(entry for entry in UNIT if not (TESTS / entry).exists())
    if missing:  # a renamed file must not drop out of make test-unit unnoticed
        raise pytest.UsageError(f"tests/conftest.py UNIT names missing files: {missing}")
    config.addinivalue_line(
        "markers", "unit: a fast test of pure code (no subprocess, no simulator): make test-unit"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        relative = item.path.relative_to(TESTS)
        if relative.as_posix() in UNIT or relative.parts[0] in UNIT:
            item.add_marker(pytest.mark.unit)


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
