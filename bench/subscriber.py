"""Target 4: the subscriber library's receive path against a raw pyzmq ``recv_multipart`` loop.

The stream is real: the simulator's frames go through the publisher's tick path and bus
(:mod:`bench.stages`) and a SUB socket captures every message they publish (topic and msgpack
payload, as on the wire). A PUB socket in a sender thread then replays the capture over
loopback TCP, once to each consumer, in the same run:

* ``raw``: ``sock.recv_multipart()`` in a loop, counting;
* ``library``: the same loop plus what ``Subscriber`` does with each message once its socket
  gives it up (``subscribers.intake.Intake``: decode with the typed msgspec schema, validate,
  the publisher-session check, the per-topic ``seq`` tracking, the book).

Each rate is messages per second of the consumer thread's CPU time (``time.thread_time``), so
the sender's own cost and the scheduler do not enter it. High-water marks are off: every
message must arrive, and the library must report no gap.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import zmq

from bench.stages import _decode_all, _payloads, _tick_path
from publisher.sim import Catalogue
from publisher.sim.burst import generate
from subscribers.intake import Intake
from subscribers.liveness import HeartbeatWatch
from subscribers.selection import Selection

CAPTURE_IDLE: Final = 2.0
"""The capture ends once no message has arrived for this long."""
TARGET: Final = 0.8
REPEATS: Final = 3
"""Each consumer runs this many times on the stream; its best (least CPU) run counts."""


@dataclass(frozen=True, slots=True)
class Rates:
    """Messages per second of consumer CPU, raw loop and library, on the same stream."""

    messages: int
    raw: float
    library: float
    gaps: int

    @property
    def ratio(self) -> float:
        return self.library / self.raw if self.raw else 0.0

    @property
    def met(self) -> bool:
        return self.ratio >= TARGET and self.gaps == 0


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


def _raw(sock: zmq.Socket[Any], count: int) -> None:
    recv = sock.recv_multipart
    for _ in range(count):
        recv()


def _library(intake: Intake) -> Callable[[zmq.Socket[Any], int], None]:
    def run(sock: zmq.Socket[Any], count: int) -> None:
        recv = sock.recv_multipart
        decode, note, process = intake.decode, intake.note_session, intake.process
        for _ in range(count):
            msg = decode(recv())
            if msg is None:
                continue
            note(msg)
            process(msg)

    return run


def _consume(
    messages: list[list[bytes]], consumer: Callable[[zmq.Socket[Any], int], None]
) -> float:
    """Replay ``messages`` to one consumer; its thread's CPU seconds for all of them."""
    context: zmq.Context[Any] = zmq.Context()
    pub = context.socket(zmq.PUB)
    sub = context.socket(zmq.SUB)
    try:
        pub.setsockopt(zmq.SNDHWM, 0)
        sub.setsockopt(zmq.RCVHWM, 0)
        port = pub.bind_to_random_port("tcp://127.0.0.1")
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(f"tcp://127.0.0.1:{port}")
        while not sub.poll(100):  # the slow joiner: a probe until one arrives
            pub.send_multipart([b"probe", b""])
        while sub.poll(0):
            sub.recv_multipart()
        sender = threading.Thread(target=lambda: [pub.send_multipart(m) for m in messages])
        start = time.thread_time()
        sender.start()
        consumer(sub, len(messages))
        spent = time.thread_time() - start
        sender.join()
        return spent
    finally:
        pub.close(0)
        sub.close(0)
        context.term()


def measure(version: int, frames: int, seed: int = 7, repeats: int = REPEATS) -> Rates:
    """Capture the stream once, then time the raw loop and the library on it, alternately;
    a fresh :class:`Intake` for every library run (a replay would be stale to the last)."""
    messages = capture(version, frames, seed)
    raw: list[float] = []
    library: list[float] = []
    gaps = 0
    for _ in range(repeats):
        raw.append(_consume(messages, _raw))
        intake = Intake(Selection([""], []), HeartbeatWatch(), lambda event: None)
        library.append(_consume(messages, _library(intake)))
        stats = intake.stats()
        gaps += stats.gaps
        if stats.received != len(messages):
            gaps += len(messages) - stats.received
    n = len(messages)
    return Rates(n, n / min(raw), n / min(library), gaps)


def describe(rates: Rates) -> str:
    return (
        f"subscriber library, {rates.messages:,} bus messages: raw recv_multipart "
        f"{rates.raw:,.0f}/s, decode+validate+seq {rates.library:,.0f}/s (CPU of the consumer "
        f"thread, best of {REPEATS}), ratio {rates.ratio:.2f}x, messages lost or out of order "
        f"{rates.gaps}"
    )
