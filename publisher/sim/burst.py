"""Pre-generated tick frames: a burst as a gateway replaying a backlog sends it, built in advance.

A burst must leave as fast as the socket takes it, so its frames cannot be generated on the
sending path: a single-threaded gateway that spends seconds encoding answers nothing meanwhile
(not even the client's ``reqCurrentTime`` liveness probe). :func:`generate` builds them up front
from the simulator's own seeded market and encoder, so a burst is exactly what ``ibpub sim``
would send, only faster; :func:`chunks` cuts a span of them at frame boundaries so that request
replies can be slipped in between. Used by the benchmark's feeder and by the backpressure test.
Pure: values in, values out.
"""

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Final

from publisher.sim.catalogue import Instrument
from publisher.sim.market import Market
from publisher.sim.protocol import MAX_SERVER_VERSION, Encoder, PriceTick, TickEvent

CLASSIC_VERSION: Final = 200
"""The newest server version that still sends ticks as classic text fields."""
PROTOBUF_VERSION: Final = MAX_SERVER_VERSION
"""What a current gateway negotiates with the installed ibapi: ticks go out as protobuf (>= 206)."""
ENCODINGS: Final = {"classic": CLASSIC_VERSION, "protobuf": PROTOBUF_VERSION}
CHUNK_BYTES: Final = 65536
""":func:`chunks` cuts a span into whole-frame pieces of about this size."""

_PRICE_WITH_SIZE: Final = frozenset({1, 2, 4, 66, 67, 68})
"""Bid, ask, last (and their delayed twins): ibapi raises a tickSize after each such tickPrice."""


def callbacks_of(event: TickEvent) -> int:
    """How many ibapi tick callbacks one frame raises (and so how many bus messages it makes)."""
    if isinstance(event, PriceTick) and event.tick_type in _PRICE_WITH_SIZE:
        return 2
    return 1


@dataclass(frozen=True, slots=True)
class FrameSet:
    """``count`` frames concatenated in ``blob``; frame ``i`` is ``blob[offsets[i]:offsets[i+1]]``.

    ``callbacks[i]`` is the number of callbacks raised by frames ``0 .. i-1`` (so
    ``callbacks[j] - callbacks[i]`` is what frames ``i .. j-1`` raise).
    """

    version: int
    blob: bytes
    offsets: tuple[int, ...]
    callbacks: tuple[int, ...]

    @property
    def count(self) -> int:
        return len(self.offsets) - 1

    def span(self, start: int, stop: int) -> memoryview:
        """Frames ``start .. stop-1`` as one view (no copy)."""
        return memoryview(self.blob)[self.offsets[start] : self.offsets[stop]]

    def callbacks_between(self, start: int, stop: int) -> int:
        return self.callbacks[stop] - self.callbacks[start]


def generate(
    version: int, req_ids: Sequence[int], instruments: Sequence[Instrument], count: int, seed: int
) -> FrameSet:
    """``count`` streaming tick frames over the given subscriptions, at one server version."""
    market = Market(seed, clock=lambda: 1_767_268_800.0)  # a fixed clock: identical frames
    for req_id, instrument in zip(req_ids, instruments, strict=True):
        market.subscribe(req_id, instrument)
    encoder = Encoder(version)
    events = [event for _, event in market.next_ticks(count)]
    frames = [encoder.tick(event) for event in events]
    offsets = (0, *accumulate(len(f) for f in frames))
    callbacks = (0, *accumulate(callbacks_of(e) for e in events))
    return FrameSet(version, b"".join(frames), offsets, callbacks)


def callbacks_in(callbacks: Sequence[int], start: int, count: int) -> int:
    """Callbacks raised by ``count`` frames from ``start``, cycling through the frame set
    (``callbacks`` is a :attr:`FrameSet.callbacks` prefix sum)."""
    frames = len(callbacks) - 1
    laps, rest = divmod(count, frames)
    start %= frames
    total = laps * callbacks[-1]
    stop = start + rest
    if stop <= frames:
        return total + callbacks[stop] - callbacks[start]
    return total + callbacks[-1] - callbacks[start] + callbacks[stop - frames]


def chunks(frames: FrameSet, start: int, stop: int) -> list[memoryview]:
    """Frames ``start .. stop-1`` as views of whole frames of about :data:`CHUNK_BYTES` each."""
    views: list[memoryview] = []
    offsets = frames.offsets
    i = start
    while i < stop:
        j = min(stop, max(i + 1, bisect_right(offsets, offsets[i] + CHUNK_BYTES) - 1))
        views.append(frames.span(i, j))
        i = j
    return views
