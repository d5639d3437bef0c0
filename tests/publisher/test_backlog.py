"""Falling behind the gateway: the watch's events and the reader's reports over a real socket."""

import socket
from collections.abc import Iterator
from decimal import Decimal

import pytest
from ibapi.decoder import Decoder

from publisher.gateway.adapter import Adapter
from publisher.gateway.backlog import BacklogChange, BacklogWatch
from publisher.gateway.client import GatewayClient, Phase
from publisher.sim.protocol import Encoder


def test_reads_that_always_find_data_become_behind_after_the_threshold() -> None:
    """Data at every read for BEHIND_AFTER seconds is reported once, as behind."""
    watch = BacklogWatch(behind_after=1.0)
    assert watch.observe(10.0, True, 100) is None
    assert watch.observe(10.5, True, 100) is None
    change = watch.observe(11.0, True, 4096)
    assert change == BacklogChange(True, 1.0, 4096)
    assert watch.observe(12.0, True, 100) is None  # said once
    assert watch.behind and watch.behind_seconds(12.5) == 2.5


def test_an_empty_socket_means_caught_up() -> None:
    """The first read that finds nothing ends the run and, if it was behind, says so."""
    watch = BacklogWatch(behind_after=1.0)
    watch.observe(0.0, True, 0)
    watch.observe(2.0, True, 0)
    change = watch.observe(3.0, False, 0)
    assert change is not None and not change.behind and change.seconds == 3.0
    assert watch.behind_seconds(4.0) == 0.0


def test_short_runs_of_data_are_not_reported() -> None:
    """A burst drained within the threshold makes no event at all."""
    watch = BacklogWatch(behind_after=1.0)
    events = [watch.observe(t / 10, t % 5 != 4, 0) for t in range(100)]
    assert events == [None] * 100


def test_messages_say_what_happened() -> None:
    """The status texts name the time and the bytes seen."""
    assert "1.5 s" in BacklogChange(True, 1.5, 3 << 20).message()
    assert "3.0 MiB" in BacklogChange(True, 1.5, 3 << 20).message()
    assert "again after 2.0 s" in BacklogChange(False, 2.0, 0).message()


def test_threshold_must_be_positive() -> None:
    """A zero threshold would report every read."""
    with pytest.raises(ValueError):
        BacklogWatch(behind_after=0)


class Recorder:
    """A tick handler that counts what reaches it."""

    def __init__(self) -> None:
        self.sizes = 0
        self.flushes = 0

    def on_price(self, req_id: int, tick_type: int, price: float, mask: int) -> None: ...

    def on_size(self, req_id: int, tick_type: int, size: Decimal) -> None:
        self.sizes += 1

    def on_generic(self, req_id: int, tick_type: int, value: float) -> None: ...

    def on_string(self, req_id: int, tick_type: int, value: str) -> None: ...

    def flush(self) -> None:
        self.flushes += 1


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    yield ours, theirs
    ours.close()
    theirs.close()


def open_client(
    sock: socket.socket, ticks: Recorder, reports: list[tuple[bool, int]]
) -> GatewayClient:
    """A client on an already connected socket, past the handshake at server version 200."""
    client = GatewayClient(
        Adapter(object(), ticks),  # type: ignore[arg-type]  # no control messages here
        ticks=ticks,
        on_backlog=lambda found, unread: reports.append((found, unread)),
    )
    sock.setblocking(False)
    client._sock = sock
    client.phase = Phase.OPEN
    client.serverVersion_ = 200
    client.decoder = Decoder(client.wrapper, 200)
    return client


def test_the_reader_reports_data_then_an_empty_socket(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """Each read says whether it found data and what still waits; an empty socket ends it."""
    ours, theirs = pair
    ticks = Recorder()
    reports: list[tuple[bool, int]] = []
    client = open_client(ours, ticks, reports)
    frames = b"".join(Encoder(200).tick_size(1, 0, n) for n in range(40))
    theirs.sendall(frames + frames[:6])  # and the start of one more frame
    while client.on_readable(max_bytes=128):
        pass
    assert ticks.sizes == 40
    assert ticks.flushes == len(reports) - 1  # once per read that found data
    found = [r for r in reports if r[0]]
    assert found[0][1] > 0  # a full read: bytes were still waiting
    assert reports[-1] == (False, 6)  # found empty; the partial frame is all that waits
