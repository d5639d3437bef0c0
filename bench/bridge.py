"""The bridge's benchmark row: sustained copy rate into a single-node JetStream, zero loss.

``python -m bench.bridge [--messages N]`` starts a ``nats-server -js`` on a free loopback port
and, in the same run with the same tick payloads (subjects and ``Nats-Msg-Id`` headers as the
bridge writes them):

1. **nats-py alone**: ``publish_async`` of every message, then every acknowledgement awaited
   (the client's own rate: no bus, no decoding);
2. **the bridge**: an ``ibpub bridge`` process subscribed to a PUB socket this process binds
   (unbounded high-water mark, so nothing is dropped before the bridge), timed from the first
   message sent to the last one acknowledged (``ibpub_bridge_acknowledged_total``).

Each run is checked for zero loss (the stream holds exactly N messages afterwards), and the
row is the bridge's rate as a ratio to nats-py's. It also prints the stored bytes per tick
(JetStream's own accounting: payload, subject, headers and per-message overhead).
"""

import argparse
import asyncio
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import msgspec
import nats
import zmq

from subscribers.schema import TickPayload

DEFAULT_MESSAGES: Final = 50_000
KEYS: Final = ("AAPL", "MSFT", "ESZ6", "EUR.USD")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def payloads(count: int, sid: int) -> list[tuple[str, bytes]]:
    """``count`` realistic tick payloads (topic, msgpack), round-robin over four keys."""
    enc = msgspec.msgpack.Encoder()
    seqs = dict.fromkeys(KEYS, 0)
    out = []
    now = time.time_ns()
    for i in range(count):
        key = KEYS[i % len(KEYS)]
        seqs[key] += 1
        tick = TickPayload(
            v=1, type="tick", pub="bench", sid=sid, seq=seqs[key], ts=now + i, key=key,
            conid=265598 + i % 4, field="bid", tick_type=1, price=187.25 + (i % 100) / 100,
            attrib=1, mdt=1, ts_recv=now + i - 5000,
        )  # fmt: skip
        out.append((f"tick.{key}", enc.encode(tick)))
    return out


async def _stream_count(url: str, stream: str) -> tuple[int, int]:
    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().stream_info(stream)
        return info.state.messages, info.state.bytes
    finally:
        await nc.close()


async def nats_py_rate(url: str, messages: list[tuple[str, bytes]], sid: int) -> float:
    """nats-py's own publish_async rate for the same messages into stream ``RAW``."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream(publish_async_max_pending=4096)
        await js.add_stream(name="RAW", subjects=["raw.>"], duplicate_window=120.0)
        start = time.perf_counter()
        futures = []
        for topic, payload in messages:
            seq = msgspec.msgpack.decode(payload)["seq"]
            headers = {"Nats-Msg-Id": f"bench:{sid}:{topic}:{seq}"}
            futures.append(await js.publish_async(f"raw.bench.{topic}", payload, headers=headers))
        await asyncio.gather(*futures)
        return len(messages) / (time.perf_counter() - start)
    finally:
        await nc.close()


def _acked(listen: str) -> float:
    try:
        with urllib.request.urlopen(f"http://{listen}/metrics", timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return -1.0
    for line in text.splitlines():
        if line.startswith("ibpub_bridge_acknowledged_total{"):
            return float(line.rsplit(" ", 1)[1])
    return -1.0


def bridge_rate(directory: Path, url: str, messages: list[tuple[str, bytes]]) -> float:
    """The bridge's copy rate for ``messages`` sent on a PUB socket it subscribes to."""
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.SNDHWM, 0)
    bus = _free_port()
    pub.bind(f"tcp://127.0.0.1:{bus}")
    listen = f"127.0.0.1:{_free_port()}"
    config = directory / "bridge.toml"
    config.write_text(
        f'[bridge]\nupstream = ["tcp://127.0.0.1:{bus}"]\nmax_buffered = {len(messages) * 2}\n'
        f'[nats]\nservers = ["{url}"]\n[metrics]\nlisten = "{listen}"\n'
    )
    ibpub = str(Path(sys.executable).parent / "ibpub")
    proc = subprocess.Popen([ibpub, "bridge", "--config", str(config), "--log-level", "WARNING"])
    try:
        warm = payloads(1, sid=1)[0]  # until one message arrives, the subscription is not in place
        deadline = time.monotonic() + 60
        while _acked(listen) < 1:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the bridge did not start")
            pub.send_multipart([warm[0].encode(), warm[1]])
            time.sleep(0.1)
        base = _acked(listen)
        start = time.perf_counter()
        for topic, payload in messages:
            pub.send_multipart([topic.encode(), payload])
        while _acked(listen) < base + len(messages):
            if time.perf_counter() - start > 600 or proc.poll() is not None:
                raise RuntimeError("the bridge did not store every message")
            time.sleep(0.02)
        return len(messages) / (time.perf_counter() - start)
    finally:
        proc.terminate()
        proc.wait(30)
        pub.close(0)
        ctx.term()


@dataclass(frozen=True, slots=True)
class BridgeResult:
    """One run of both measurements on the same payloads."""

    messages: int
    nats_py_rate: float
    bridge_rate: float
    stored: int
    bytes_per_tick: float
    zero_loss: bool

    @property
    def ratio(self) -> float:
        return self.bridge_rate / self.nats_py_rate if self.nats_py_rate else 0.0

    def row(self) -> str:
        """The results table's row (as the other rows: what, ibpub, reference, ratio)."""
        loss = "zero loss" if self.zero_loss else "LOSS"
        return (
            f"bridge into JetStream ({self.messages} msgs, {loss}): "
            f"{self.bridge_rate:,.0f} msg/s vs nats-py publish_async {self.nats_py_rate:,.0f} "
            f"msg/s = {self.ratio:.2f}x; {self.bytes_per_tick:.0f} B stored per tick"
        )


def nats_server() -> str | None:
    found = shutil.which("nats-server")
    if found is None and Path("/usr/sbin/nats-server").exists():
        found = "/usr/sbin/nats-server"
    return found


def measure(messages: int) -> BridgeResult:
    """Both measurements against a fresh single-node JetStream on loopback."""
    server = nats_server()
    if server is None:
        raise RuntimeError("nats-server is not installed (make system-deps)")
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        port = _free_port()
        url = f"nats://127.0.0.1:{port}"
        nats_proc = subprocess.Popen(
            [server, "-js", "-sd", str(directory / "js"), "-a", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_listening(port)
            raw = asyncio.run(nats_py_rate(url, payloads(messages, sid=2), sid=2))
            raw_count, _ = asyncio.run(_stream_count(url, "RAW"))
            bridged = bridge_rate(directory, url, payloads(messages, sid=3))
            count, stored_bytes = asyncio.run(_stream_count(url, "IBPUB"))
        finally:
            nats_proc.terminate()
            nats_proc.wait(30)
    return BridgeResult(
        messages=messages,
        nats_py_rate=raw,
        bridge_rate=bridged,
        stored=count,
        bytes_per_tick=stored_bytes / count if count else 0.0,
        zero_loss=raw_count == messages and count >= messages + 1,  # + the warm-up message
    )


def _wait_listening(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("nats-server did not start")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bridge", description=__doc__)
    parser.add_argument("--messages", type=int, default=DEFAULT_MESSAGES)
    args = parser.parse_args(argv)
    result = measure(args.messages)
    print(result.row())
    return 0 if result.zero_loss else 1


if __name__ == "__main__":
    sys.exit(main())
