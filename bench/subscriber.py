"""Target 4: the subscriber library's receive path against a raw pyzmq ``recv_multipart`` loop.

The stream is real: the simulator's frames go through the publisher's tick path and bus
(:mod:`bench.stages`) and a SUB socket captures every message they publish (topic and msgpack
payload, as on the wire). A PUB socket then replays the capture over loopback TCP, once to
each consumer, in the same run; the whole capture is sent (and queued by ZeroMQ, high-water
marks off) before the consumer starts, so it drains a backlog as after a burst, and no sender
thread competes with it for the GIL:

* ``raw``: ``sock.recv_multipart()`` in a loop, counting;
* ``library``: a :class:`~subscribers.client.Subscriber` on the same stream, ``sub.recv()`` in
  a loop: what a user of the library pays per message (receive, decode with the typed msgspec
  schema, validate, the publisher-session check, the per-topic ``seq`` tracking, the book);
* ``record``: ``ibsub record --format parquet``'s own loop
  (:func:`subscribers.record.record_loop`: a Subscriber as ``ibsub record`` opens it, and a
  :class:`~subscribers.recorder.Recorder` writing Parquet into a temporary directory), until
  every message is written and the file closed.

Each rate is messages per second of the consumer thread's CPU time (``time.thread_time``), so
ZeroMQ's I/O thread and the scheduler do not enter it. Every message must arrive, and the
library must report no gap.
"""

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import zmq

from bench.stages import _decode_all, _payloads, _tick_path
from publisher.sim import Catalogue
from publisher.sim.burst import generate
from subscribers.client import Subscriber
from subscribers.record import DATA_NAMES, record_loop
from subscribers.recorder import Recorder
from subscribers.schema import DATA_PREFIXES

CAPTURE_IDLE: Final = 2.0
"""The capture ends once no message has arrived for this long."""
TARGET: Final = 0.8
RECORD_TARGET: Final = 0.5
"""``ibsub record`` writing Parquet: at least this fraction of the raw loop's rate."""
REPEATS: Final = 5
"""Each consumer runs this many times on the stream; its best (least CPU) run counts."""
RECV_TIMEOUT: Final = 10.0
"""A consumer gives up waiting for the next message after this long (a lost message)."""
PROBE: Final = [b"hb.probe", b""]
"""Sent until a consumer's subscription is active (every consumer subscribes to ``hb.``)."""


@dataclass(frozen=True, slots=True)
class Rates:
    """Messages per second of consumer CPU: raw loop, library and ``ibsub record`` (parquet),
    on the same stream; ``gaps`` counts messages the library lost or saw out of order,
    ``record_lost`` those the recording did not write."""

    messages: int
    raw: float
    library: float
    gaps: int
    record: float = 0.0
    record_lost: int = 0

    @property
    def ratio(self) -> float:
        return self.library / self.raw if self.raw else 0.0

    @property
    def met(self) -> bool:
        return self.ratio >= TARGET and self.gaps == 0

    @property
    def record_ratio(self) -> float:
        return self.record / self.raw if self.raw else 0.0

    @property
    def record_met(self) -> bool:
        return self.record_ratio >= RECORD_TARGET and self.record_lost == 0


def capture(version: int, frames: int, seed: int = 7) -> list[list[bytes]]:
    """The bus messages ``frames`` simulator frames make the publisher send, as received."""
    instruments = list(Catalogue.builtin())
    req_ids = list(range(1001, 1001 + len(instruments)))
    payloads = _payloads(generate(version, req_ids, instruments, frames, seed))
    context: zmq.Context[Any] = zmq.Context()
    path, bus = _tick_path(context, req_ids)
    sub = context.socket(zmq.SUB)
    try:
        sub.setsockopt(zmq.RCVHWM, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(bus.socket.getsockopt_string(zmq.LAST_ENDPOINT))
        while not sub.poll(100):  # the slow joiner: heartbeats until the first arrives
            bus.publish_heartbeat("connected")
        while sub.poll(0):
            sub.recv_multipart()
        _decode_all(payloads, version, path, True)
        path.flush()
        messages: list[list[bytes]] = []
        while sub.poll(int(CAPTURE_IDLE * 1000)):
            messages.append(sub.recv_multipart())
        return messages
    finally:
        sub.close(0)
        bus.close()
        context.term()


Consumer = Callable[[zmq.Context[Any], str, int], tuple[zmq.Socket[Any], Callable[[], int]]]
"""Connects to an endpoint; (its SUB socket, a run that reads ``count`` messages and says how
many it got)."""


def _raw(context: zmq.Context[Any], endpoint: str, count: int) -> tuple[Any, Callable[[], int]]:
    sock = context.socket(zmq.SUB)
    sock.setsockopt(zmq.RCVHWM, 0)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.connect(endpoint)

    def run() -> int:
        recv = sock.recv_multipart
        for _ in range(count):
            recv()
        sock.close(0)
        return count

    return sock, run


def _library(context: zmq.Context[Any], endpoint: str, count: int) -> tuple[Any, Callable[[], int]]:
    sub = Subscriber(endpoint, context=context, rcvhwm=0)

    def run() -> int:
        recv = sub.recv
        for _ in range(count):
            if recv(RECV_TIMEOUT) is None:
                break
        stats = sub.stats
        sub.close()
        return stats.received - stats.gaps

    return sub.socket, run


def _record(context: zmq.Context[Any], endpoint: str, count: int) -> tuple[Any, Callable[[], int]]:
    folder = tempfile.TemporaryDirectory(prefix="ibpub-bench-record-")
    recorder = Recorder(Path(folder.name), "parquet")
    sub = Subscriber(  # as ibsub record opens it (subscribers.record.run_record)
        endpoint,
        prefixes=DATA_PREFIXES,
        data=DATA_NAMES,
        books=False,
        context=context,
        rcvhwm=0,
        on_event=lambda event: recorder.event(event, time.time_ns()),
    )
    deadline = [time.monotonic() + RECV_TIMEOUT]

    def stopped() -> bool:
        return recorder.ticks >= count or time.monotonic() > deadline[0]

    def run() -> int:
        deadline[0] = time.monotonic() + RECV_TIMEOUT + count / 1000
        try:
            record_loop(sub, recorder, stopped)
            recorder.close()
            return recorder.ticks - recorder.lost
        finally:
            sub.close()
            folder.cleanup()

    return sub.socket, run


def _consume(messages: list[list[bytes]], consumer: Consumer) -> tuple[float, int]:
    """Replay ``messages`` to one consumer: its thread's CPU seconds for all of them, and how
    many it got."""
    context: zmq.Context[Any] = zmq.Context()
    pub = context.socket(zmq.PUB)
    try:
        pub.setsockopt(zmq.SNDHWM, 0)
        port = pub.bind_to_random_port("tcp://127.0.0.1")
        sock, run = consumer(context, f"tcp://127.0.0.1:{port}", len(messages))
        while not sock.poll(100):  # the slow joiner: a probe until one arrives
            pub.send_multipart(PROBE)
        while sock.poll(0):
            sock.recv_multipart()
        for message in messages:  # queued in ZeroMQ (no high-water mark): a backlog
            pub.send_multipart(message)
        start = time.thread_time()
        got = run()
        return time.thread_time() - start, got
    finally:
        pub.close(0)
        context.term()


def measure(version: int, frames: int, seed: int = 7, repeats: int = REPEATS) -> Rates:
    """Capture the stream once, then time the raw loop, the library and ``ibsub record`` on
    it, in turn; a fresh subscriber for every run (a replay would be stale to the last)."""
    messages = capture(version, frames, seed)
    n = len(messages)
    spent: dict[Consumer, list[float]] = {_raw: [], _library: [], _record: []}
    lost = {_library: 0, _record: 0}
    for _ in range(repeats):
        for consumer, runs in spent.items():
            seconds, got = _consume(messages, consumer)
            runs.append(seconds)
            if consumer in lost:
                lost[consumer] += n - got
    raw, library, record = (n / min(runs) for runs in spent.values())
    return Rates(n, raw, library, lost[_library], record, lost[_record])


def describe(rates: Rates) -> str:
    return (
        f"subscriber library, {rates.messages:,} bus messages: raw recv_multipart "
        f"{rates.raw:,.0f}/s, Subscriber.recv (decode+validate+seq+book) {rates.library:,.0f}/s "
        f"(CPU of the consumer thread, best of {REPEATS}), ratio {rates.ratio:.2f}x, messages "
        f"lost or out of order {rates.gaps}\n"
        f"ibsub record --format parquet, same stream: {rates.record:,.0f}/s, ratio "
        f"{rates.record_ratio:.2f}x raw, messages not written {rates.record_lost}"
    )
