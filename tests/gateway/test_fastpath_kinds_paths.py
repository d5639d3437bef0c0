"""The tickByTick and depth fast path on real traffic: the frames a gateway usually sends, the
simulated gateway's own frames, and GatewayClient's read path over a socket."""

import socket
import struct
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from ibapi.decoder import Decoder
from ibapi.protobuf.MarketDepth_pb2 import MarketDepth as MarketDepthProto
from ibapi.protobuf.MarketDepthL2_pb2 import MarketDepthL2 as MarketDepthL2Proto
from ibapi.protobuf.TickByTickData_pb2 import TickByTickData as TickByTickProto

from publisher.gateway.adapter import Adapter
from publisher.gateway.client import GatewayClient, Phase
from publisher.gateway.fastpath import TickFastPath
from publisher.sim.catalogue import Catalogue
from publisher.sim.kinds.book import SimBook
from publisher.sim.kinds.tbt import TbtStream
from publisher.sim.market import Market
from publisher.sim.protocol import Encoder
from publisher.sim.protocol.data_encoding import depth_frame, tbt_frame
from publisher.sim.protocol.data_events import TBT_TYPES as SIM_TBT_TYPES
from tests.gateway.kinds_reference import (
    BEFORE_SMART,
    CLASSIC,
    PROTOBUF,
    RAW_IDS,
    Call,
    Recorder,
    assert_equivalent,
    via_fast,
    via_ibapi,
)
from tests.gateway.test_fastpath import NoEvents
from tests.gateway.test_fastpath import Recorder as TickRecorder
from tests.support.waiting import wait_for


def usual_frames() -> list[tuple[bytes, int]]:
    """(payload, server version) of frames as a gateway usually sends them, every layout."""
    frames = [
        (b"99\x007\x001\x001767268800\x00288.91\x00100\x000\x00NASDAQ\x00\x00", CLASSIC),
        (b"99\x007\x003\x001767268800\x00288.9\x00289\x00300\x00200\x000\x00", CLASSIC),
        (b"99\x007\x004\x001767268800\x00288.95\x00", CLASSIC),
        (b"12\x001\x005\x000\x000\x001\x00288.9\x00300\x00", CLASSIC),
        (b"13\x001\x005\x000\x00NSDQ\x000\x001\x00288.9\x00300\x001\x00", CLASSIC),
        (b"13\x001\x005\x000\x00NSDQ\x000\x001\x00288.9\x00300\x00", BEFORE_SMART),
        (struct.pack(">I", 12) + b"1\x005\x000\x000\x001\x00288.9\x00300\x00", RAW_IDS),
    ]
    last = {"time": 1, "price": 288.91, "size": "100", "exchange": "NASDAQ"}
    quote = {"time": 1, "priceBid": 288.9, "priceAsk": 289.0, "sizeBid": "3", "sizeAsk": "2"}
    depth = {"position": 0, "operation": 0, "side": 1, "price": 288.9, "size": "300"}
    protos = [
        (299, TickByTickProto(reqId=7, tickType=2, historicalTickLast=last)),
        (299, TickByTickProto(reqId=7, tickType=3, historicalTickBidAsk=quote)),
        (299, TickByTickProto(reqId=7, tickType=4, historicalTickMidPoint={"price": 288.95})),
        (212, MarketDepthProto(reqId=5, marketDepthData=depth)),
        (213, MarketDepthL2Proto(reqId=5, marketDepthData={**depth, "marketMaker": "NSDQ"})),
    ]
    for msg_id, proto in protos:
        frames.append((struct.pack(">I", msg_id) + proto.SerializeToString(), PROTOBUF))
    return frames


def test_usual_frames_take_the_fast_path() -> None:
    """The frames a gateway usually sends are handled, in every layout, not left to ibapi."""
    for payload, version in usual_frames():
        assert assert_equivalent(payload, version), payload
        assert via_fast(payload, version)[1], payload  # and it made a call


class FlushingRecorder(Recorder):
    def flush(self) -> None: ...


class RefusingAdapter(Adapter):
    """An Adapter whose tickByTick and depth callbacks fail: ibapi must not decode them."""

    def _refuse(self, *args: Any) -> None:
        raise AssertionError("ibapi decoded a frame the fast path should have")

    tickByTickAllLast = tickByTickBidAsk = tickByTickMidPoint = _refuse  # type: ignore[assignment]  # noqa: N815
    updateMktDepth = updateMktDepthL2 = _refuse  # type: ignore[assignment]  # noqa: N815


def read_through_client(payloads: list[bytes], version: int, sink: FlushingRecorder) -> None:
    """Send the frames over a socket pair to a GatewayClient and read until the sink has as
    many calls as ibapi makes of them."""
    expected = 0
    for payload in payloads:
        reference = via_ibapi(payload, version)
        assert isinstance(reference, list)
        expected += len(reference)
    ours, theirs = socket.socketpair()
    try:
        client = GatewayClient(RefusingAdapter(NoEvents(), sink), ticks=sink)
        ours.setblocking(False)
        client._sock = ours
        client.phase = Phase.OPEN
        client.serverVersion_ = version
        client.decoder = Decoder(client.wrapper, version)
        theirs.sendall(b"".join(struct.pack(">I", len(p)) + p for p in payloads))

        def all_read() -> bool:
            client.on_readable()
            return len(sink.calls) >= expected

        wait_for(all_read, f"{expected} calls at server version {version}", every=0)
    finally:
        ours.close()
        theirs.close()


def test_the_read_path_hands_these_frames_to_the_fast_path() -> None:
    """Over a real socket, GatewayClient decodes tickByTick and depth frames with the fast path:
    the sink gets ibapi's calls, and ibapi's callbacks for them (which fail here) never run."""
    by_version: dict[int, list[bytes]] = {}
    for payload, version in usual_frames():
        by_version.setdefault(version, []).append(payload)
    for version, payloads in by_version.items():
        sink = FlushingRecorder()
        read_through_client(payloads, version, sink)
        expected: list[Call] = []
        for payload in payloads:
            reference = via_ibapi(payload, version)
            assert isinstance(reference, list)
            expected += reference
        assert sink.calls == expected


def test_a_sink_without_the_new_methods_leaves_these_frames_to_ibapi() -> None:
    """An older tick sink (only on_price/on_size/...) gets these frames declined, not lost."""
    frame = b"12\x001\x005\x000\x000\x001\x00288.9\x00300\x00"

    class L1Only:
        def on_price(self, *args: object) -> None: ...
        def on_size(self, *args: object) -> None: ...
        def on_generic(self, *args: object) -> None: ...
        def on_string(self, *args: object) -> None: ...

    assert TickFastPath(L1Only(), CLASSIC).decode(frame) is False  # type: ignore[arg-type]
    assert TickFastPath(TickRecorder(), CLASSIC).decode(frame) is True


SIM_VERSIONS = [176, CLASSIC, RAW_IDS, 207, PROTOBUF]
"""176 and 225-226 as the captured gateways; 205 text behind binary ids; 207 depth in protobuf
and tick-by-tick still text."""


def simulated_frames(seed: int, version: int, steps: int) -> list[bytes]:
    """The simulated gateway's own tickByTick and depth frames (L1 and smart L2 books, every
    tick-by-tick type) over ``steps`` market steps, as it encodes them at ``version``."""
    market = Market(seed, clock=lambda: 1_767_268_800.0)
    (aapl,) = [i for i in Catalogue.builtin() if i.spec.local_symbol == "AAPL"]
    market.subscribe(1, aapl)
    walk = market.feed(aapl)
    encoder = Encoder(version)
    frames: list[bytes] = []
    SimBook(2, 10, walk, lambda c: frames.append(depth_frame(encoder, c)), seed=seed).start()
    SimBook(
        3, 5, walk, lambda c: frames.append(depth_frame(encoder, c)), is_smart=True, seed=seed
    ).start()
    for req_id, tick_type in enumerate(SIM_TBT_TYPES.values(), start=10):
        stream = TbtStream(
            req_id,
            tick_type,
            walk,
            lambda e: frames.append(tbt_frame(encoder, e)),
            clock=lambda: 1_767_268_800.0,
        )
        stream.start()
    for _ in range(steps):
        market.next_ticks(1)
    return frames


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**32), version=st.sampled_from(SIM_VERSIONS))
def test_the_simulated_gateways_frames_take_the_fast_path(seed: int, version: int) -> None:
    """Every tickByTick and depth frame the simulator sends is handled, with ibapi's calls."""
    frames = simulated_frames(seed, version, 80)
    assert len(frames) > 100
    for payload in frames:
        assert assert_equivalent(payload[4:], version), payload
