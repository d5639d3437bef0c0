"""Depth frames for the benchmark's depth row (:mod:`bench.depth`), built in advance. Pure.

The feeder serves ``updateMktDepth`` frames (classic text at server version 200, protobuf
``MarketDepth`` at the protobuf version, both by the simulator's encoder) for the depth requests
the publisher made, built in advance by :func:`generate` from a seeded random walk over the
books; the stock client is fed the very same frames. The stream is valid for an IB book from
any point of it: each book is filled row by row first, then only updated, inserted into (the
last row falls off) and emptied by one row that the next frame puts back, so a paced run that
starts again at the first frame or wraps round never makes an impossible update.
"""

import random
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Final

from ibapi.protobuf.MarketDepthRequest_pb2 import MarketDepthRequest as MarketDepthRequestProto

from publisher.sim.burst import FrameSet
from publisher.sim.protocol import Encoder
from publisher.sim.protocol.data_encoding import depth_frame
from publisher.sim.protocol.data_events import DepthChange

BOOKS: Final = 10
ROWS: Final = 10
REQ_MKT_DEPTH: Final = 10
PROTOBUF_OFFSET: Final = 200
FIRST_VERSION_WITH_BINARY_IDS: Final = 201
INSERT, UPDATE, DELETE = 0, 1, 2
ASK, BID = 0, 1
TICK: Final = 0.01


def depth_request_id(payload: bytes, version: int) -> int | None:
    """The request id if ``payload`` (a client frame after the handshake) is a reqMktDepth."""
    try:
        if version >= FIRST_VERSION_WITH_BINARY_IDS:
            wire_id = int.from_bytes(payload[:4], "big")
            if wire_id == REQ_MKT_DEPTH + PROTOBUF_OFFSET:
                return int(MarketDepthRequestProto.FromString(payload[4:]).reqId)
            if wire_id == REQ_MKT_DEPTH:
                return int(payload[4:].split(b"\0")[1])  # version, reqId, ...
            return None
        fields = payload.split(b"\0")
        if fields[0] == b"%d" % REQ_MKT_DEPTH:
            return int(fields[2])
    except Exception:  # a frame that does not parse is not ours to answer
        return None
    return None


@dataclass(frozen=True, slots=True)
class Change:
    """One updateMktDepth."""

    req_id: int
    position: int
    operation: int
    side: int
    price: float
    size: int


def changes(req_ids: Sequence[int], count: int, seed: int, rows: int = ROWS) -> list[Change]:
    """``count`` book changes over the books ``req_ids``: each book filled first, then a walk
    of updates (most), inserts and delete-then-refill pairs (see the module docstring)."""
    rnd = random.Random(seed)
    out: list[Change] = []
    mids = {req_id: 100.0 + 10 * i for i, req_id in enumerate(req_ids)}

    def price(req_id: int, side: int, position: int) -> float:
        away = TICK * (position + 1 + rnd.random() / 2)
        return round(mids[req_id] + (away if side == ASK else -away), 4)

    for req_id in req_ids:
        for side in (BID, ASK):
            for position in range(rows):
                size = rnd.randrange(1, 50) * 100
                out.append(
                    Change(req_id, position, INSERT, side, price(req_id, side, position), size)
                )
    while len(out) < count:
        req_id = rnd.choice(req_ids)
        side = rnd.choice((BID, ASK))
        position = min(rnd.randrange(rows), rnd.randrange(rows))  # the top is busiest
        size = rnd.randrange(1, 50) * 100
        draw = rnd.random()
        if draw < 0.8:
            out.append(Change(req_id, position, UPDATE, side, price(req_id, side, position), size))
        elif draw < 0.9:
            out.append(Change(req_id, position, INSERT, side, price(req_id, side, position), size))
        else:
            out.append(Change(req_id, position, DELETE, side, 0.0, 0))
            last = rows - 1
            out.append(Change(req_id, last, INSERT, side, price(req_id, side, last), size))
    # A cut between a delete and its refill is safe too: the frame set starts again by
    # filling every side.
    return out[:count]


def encode(change: Change, encoder: Encoder) -> bytes:
    """One framed updateMktDepth, by the simulator's encoder (text, or protobuf from the version
    its gateway sends depth as protobuf)."""
    return depth_frame(
        encoder,
        DepthChange(
            change.req_id,
            change.position,
            change.operation,
            change.side,
            change.price,
            change.size,
        ),
    )


def generate(version: int, req_ids: Sequence[int], count: int, seed: int) -> FrameSet:
    """``count`` depth frames over the books ``req_ids``; one callback (one message) each."""
    encoder = Encoder(version)
    frames = [encode(c, encoder) for c in changes(req_ids, count, seed)]
    offsets = (0, *accumulate(len(f) for f in frames))
    return FrameSet(version, b"".join(frames), offsets, tuple(range(len(frames) + 1)))
