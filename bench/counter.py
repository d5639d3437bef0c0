"""The counting subscriber: a separate process on the bus that counts ``tick.`` messages.

It does as little as a subscriber can per message (two ``recv`` calls and a count) so that it is
not what limits the measurement; only when asked for latency does it decode a payload's ``ts``
(of every 8th message) to take publish-to-receipt samples. Its receive queue is unbounded
(``RCVHWM`` 0), so a message is lost only if the publisher dropped it.
"""

import os
import time
from multiprocessing.connection import Connection
from typing import Any, Final

import msgpack
import zmq

from bench.receivers import Arrival, Expect, Quit, Wait

POLL_MS: Final = 50
BATCH: Final = 4096
"""Messages drained per wake-up before the control pipe is looked at again."""
SAMPLE_MASK: Final = 7
"""With latency on, every 8th message is decoded and timed (decoding them all would load the
shared CPUs more than the publisher's own work at high rates)."""


class _Count:
    """The state of one expectation."""

    __slots__ = ("expected", "last_payload", "latencies", "reached_ns", "received", "sample")

    def __init__(self, expected: int = 0, sample: bool = False) -> None:
        self.expected = expected
        self.received = 0
        self.reached_ns = 0
        self.last_payload = b""
        self.sample = sample
        self.latencies: list[int] = []

    def arrival(self) -> Arrival:
        last_ts = 0
        if self.last_payload:
            last_ts = int(msgpack.unpackb(self.last_payload)["ts"])
        times = os.times()
        return Arrival(
            self.expected,
            self.received,
            self.reached_ns,
            last_ts,
            self.latencies,
            times.user + times.system,
        )


def _drain(sock: zmq.Socket[Any], state: _Count, first: int = 116) -> int:
    """Receive what is queued (up to :data:`BATCH` messages); returns how many ticks came."""
    recv = sock.recv
    got = 0
    unpack = msgpack.unpackb
    now = time.time_ns
    latencies = state.latencies
    for _ in range(BATCH):
        try:
            topic = recv(zmq.NOBLOCK)
        except zmq.Again:
            break
        payload = recv()
        if topic[0] != first:  # not b"t"ick (or the prefix's): a heartbeat, only to know we are up
            continue
        got += 1
        if state.sample and not (state.received + got) & SAMPLE_MASK:
            latencies.append(now() - unpack(payload)["ts"])
        if state.received + got == state.expected:
            state.reached_ns = now()
            state.last_payload = payload
    state.received += got
    return got


def serve(control: Connection, endpoint: str, prefix: bytes = b"tick.") -> None:
    """The subscriber process: connect, report the first heartbeat, then count on command."""
    context: zmq.Context[Any] = zmq.Context()
    sock = context.socket(zmq.SUB)
    sock.setsockopt(zmq.RCVHWM, 0)
    sock.setsockopt(zmq.LINGER, 0)
    sock.subscribe(prefix)
    sock.subscribe(b"hb.")
    sock.connect(endpoint)
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    poller.register(control.fileno(), zmq.POLLIN)
    state = _Count()
    waiting_until = 0.0
    try:
        sock.recv_multipart()  # the first heartbeat: the subscription is in place
        control.send(True)
        while True:
            events = dict(poller.poll(POLL_MS))
            if sock in events:
                _drain(sock, state, prefix[0])
            if waiting_until and (state.reached_ns or time.monotonic() >= waiting_until):
                control.send(state.arrival())
                waiting_until = 0.0
            if control.fileno() in events:
                command = control.recv()
                if isinstance(command, Expect):
                    state = _Count(command.count, command.latency)
                    control.send(True)
                elif isinstance(command, Wait):
                    waiting_until = time.monotonic() + command.seconds
                elif isinstance(command, Quit):
                    break
    finally:
        sock.close()
        context.term()
