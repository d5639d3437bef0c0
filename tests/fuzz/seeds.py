"""Write the starting corpus of every fuzz target: ``python -m tests.fuzz.seeds``.

Valid inputs of each parser, built with the project's own encoders (the simulated gateway's
frames, the bus's payloads, the clients' requests, the example configuration), so the fuzzer
starts from the shapes it must mutate. Files are named by content hash; rerunning adds nothing.
"""

import hashlib

import msgspec

from publisher.sim.catalogue import Catalogue
from publisher.sim.market import Market
from publisher.sim.protocol import Encoder, PriceTick, SizeTick
from tests.fuzz.run import CORPUS
from tests.fuzz.targets import VERSIONS
from tests.support.paths import DEPLOY

_pack = msgspec.msgpack.encode


def _write(target: str, data: bytes) -> None:
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)


def _frames(version: int) -> list[bytes]:
    market = Market(7, clock=lambda: 1.0)
    for req_id, instrument in enumerate(Catalogue.builtin(), start=1000):
        market.subscribe(req_id, instrument)
    encoder = Encoder(version)
    frames = [encoder.error(-1, 2104, "Market data farm connection is OK:usfarm")]
    for _, event in market.next_ticks(6):
        if isinstance(event, PriceTick | SizeTick):
            frames.append(encoder.tick(event, delayed=False))
    return frames


def main() -> None:
    for index, version in enumerate(VERSIONS):
        frames = _frames(version)
        for frame in frames:
            _write("fastpath", bytes([index]) + frame[4:])
        _write("framing", bytes([3, 7]) + b"".join(frames[:4]))
    tick = {
        "v": 1, "type": "tick", "pub": "ibpub", "sid": 5, "seq": 1, "ts": 1, "key": "AAPL",
        "conid": 265598, "field": "bid", "tick_type": 1, "price": 1.5, "attrib": 1, "mdt": 1,
        "ts_recv": 1,
    }  # fmt: skip
    status = {
        "v": 1, "type": "status", "pub": "ibpub", "sid": 5, "seq": 2, "ts": 1,
        "scope": "gateway", "state": "connected", "key": None, "code": None, "message": "",
    }  # fmt: skip
    beat = {
        "v": 1, "type": "hb", "pub": "ibpub", "sid": 5, "seq": 3, "ts": 1,
        "gateway": "connected", "seqs": {"tick.AAPL": 1},
    }  # fmt: skip
    for topic, payload in ((b"AAPL", tick), (b"ibpub", status), (b"ibpub", beat)):
        # the target tries the topic under each prefix: its first byte gives its length
        _write("wire", bytes([len(topic) - 1]) + topic + _pack(payload))
    topics = [{"topic": "tick.AAPL", "seq": 1, "ticks": [tick]}]
    reply = {"v": 1, "sid": 5, "ts": 1, "topics": topics}
    _write("snapshot_reply", _pack(reply))
    _write("snapshot_reply", _pack({**reply, "states": [status]}))
    _write("snapshot_reply", _pack({"v": 1, "error": "request is not valid msgpack"}))
    for prefix in ("", "tick.AAPL", "tick."):
        _write("snapshot_request", _pack({"v": 1, "prefix": prefix}))
    aapl = {"symbol": "AAPL", "sec_type": "STK", "exchange": "SMART", "currency": "USD"}
    for request in (
        {"v": 1, "op": "list"},
        {"v": 1, "op": "subscribe", "client": "a", "instrument": aapl, "data": ["l1"]},
        {"v": 1, "op": "subscribe", "client": "a", "instrument": aapl, "lease": 5.0},
        {"v": 1, "op": "renew", "client": "a", "keys": ["AAPL"]},
        {"v": 1, "op": "unsubscribe", "client": "a", "keys": ["AAPL"]},
    ):
        _write("control_request", _pack(request))
    for example in sorted((DEPLOY / "examples").glob("*.toml")):
        _write("config", example.read_bytes())


if __name__ == "__main__":
    main()
