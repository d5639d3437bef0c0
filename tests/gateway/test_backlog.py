"""Falling behind the gateway: the watch's events and the reader's reports over a real socket."""

import socket
from collections.abc import Iterator

import pytest
from ibapi.decoder import Decoder

from publisher.core.normalise import Size
from publisher.gateway.adapter import Adapter
from publisher.gateway.backlog import BacklogChange, BacklogWatch
from publisher.gateway.client import GatewayClient, Phase
from publisher.sim.protocol import Encoder
from tests.support.sinks import KindsIgnored
from tests.support.waiting import wait_for


def test_reads_that_always_find_data_become_behind_after_the_threshold() -> None:
    """Data at every read for BEHIND_AFTER seconds is reported once, as behind."""
    watch = BacklogWatch(behind_after=1.0)
    assert watch.observe(10.0, True) is None
    assert watch.observe(10.5, True) is None
    change = watch.observe(11.0, True)
    assert change == BacklogChange(True, 1.0)
    assert watch.observe(12.0, True) is None  # said once
    assert watch.behind and watch.behind_seconds(12.5) == 2.5


def test_an_empty_socket_means_caught_up() -> None:
    """The first read that empties the socket ends the run and, if it was behind, says so."""
    watch = BacklogWatch(behind_after=1.0)
    watch.observe(0.0, True)
    watch.observe(2.0, True)
    change = watch.observe(3.0, False)
    assert change is not None and not change.behind and change.seconds == 3.0
    assert watch.behind_seconds(4.0) == 0.0


def test_short_runs_of_data_are_not_reported() -> None:
    """A burst drained within the threshold makes no event at all."""
    watch = BacklogWatch(behind_after=1.0)
    events = [watch.observe(t / 10, t % 5 != 4) for t in range(100)]
    assert events == [None] * 100


def test_messages_say_what_happened() -> None:
    """The status texts name the time and the bytes seen."""
    assert "1.5 s" in BacklogChange(True, 1.5).message(3 << 20)
    assert "3.0 MiB" in BacklogChange(True, 1.5).message(3 << 20)
    assert "again after 2.0 s" in BacklogChange(False, 2.0).message(0)


def test_threshold_must_be_positive() -> None:
    """A zero threshold would report every read."""
    with pytest.raises(ValueError):
        BacklogWatch(behind_after=0)


class Recorder(KindsIgnored):
    """A tick handler that counts what reaches it."""

    def __init__(self) -> None:
        self.sizes = 0
        self.flushes = 0

    def on_price(self, req_id: int, tick_type: int, price: float, mask: int) -> None: ...

    def on_size(self, req_id: int, tick_type: int, size: Size) -> None:
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


def open_client(sock: socket.socket, ticks: Recorder, reports: list[bool]) -> GatewayClient:
    """A client on an already connected socket, past the handshake at server version 200."""
    client = GatewayClient(
        Adapter(object(), ticks),  # type: ignore[arg-type]  # no control messages here
        ticks=ticks,
        on_backlog=reports.append,
    )
    sock.setblocking(False)
    client._sock = sock
    client.phase = Phase.OPEN
    client.serverVersion_ = 200
    client.decoder = Decoder(client.wrapper, 200)
    return client


def test_the_reader_reports_what_each_read_leaves_waiting(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """Full reads leave data waiting; the short read that empties the socket says so, and a
    partial frame stays counted as backlog until the rest of it arrives."""
    ours, theirs = pair
    ticks = Recorder()
    reports: list[bool] = []
    client = open_client(ours, ticks, reports)
    frames = b"".join(Encoder(200).tick_size(1, 0, n) for n in range(40))
    last = Encoder(200).tick_size(1, 0, 12345)
    theirs.sendall(frames + last[:6])  # and the start of one more frame
    while True:
        client.on_readable(max_bytes=128)
        if not client.more_waiting:
            break
    assert ticks.sizes == 40
    assert ticks.flushes == len(reports)  # once per read
    assert reports[0] is True  # a full read: bytes were still waiting
    assert reports[-1] is False  # the read that emptied the socket
    assert client.backlog_bytes() == 6  # the partial frame is all that waits
    theirs.sendall(last[6:])  # the rest of that frame

    def read_the_rest() -> bool:
        if ticks.sizes < 41:
            client.on_readable(max_bytes=128)
        return ticks.sizes >= 41

    wait_for(read_the_rest, "the rest of the frame", every=0)
    assert ticks.sizes == 41 and client.backlog_bytes() == 0
    client.on_readable()  # nothing there: an empty socket counts as caught up
    assert reports[-1] is False and not client.more_waiting
