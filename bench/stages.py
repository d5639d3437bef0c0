"""Where the time goes: the publisher's read path stage by stage, in this process, on one thread.

Each stage runs the real code on the same pre-generated frames (CPU time of this thread, median
of a few runs, microseconds per frame):

* ``framing``: :meth:`FrameBuffer.take` splitting reads into frames;
* ``ibapi decode``: ibapi's ``Decoder`` + our ``Adapter`` into a sink that does nothing (what
  every frame cost before the fast path, and what non-tick frames still cost);
* ``fast-path decode``: the same frames through :class:`TickFastPath` first (ibapi for the rest);
* ``publish``: everything after decoding (normalise, envelope, msgpack, ZeroMQ hand-off to a
  PUB socket with no subscriber, metrics), per frame;
* ``read path``: all of it, ``GatewayClient.on_readable`` over a socket pair.

No subscriber and no other process take part, so this is the floor of the publisher's own cost;
the end-to-end figures add ZeroMQ's I/O thread, the subscriber and the scheduler.

Compiled vs pure: when this process runs the compiled read path (:mod:`publisher.compiled`),
:func:`measure` also measures every stage in a child process with ``IBPUB_PURE=1``
(``python -m bench.stages VERSION COUNT SEED`` prints the stages as JSON), on the same frames.
"""

import dataclasses
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import zmq
from ibapi.decoder import Decoder
from prometheus_client import CollectorRegistry

from publisher import compiled
from publisher.bus.publish import Bus
from publisher.config import InstrumentSpec
from publisher.core.instruments import SUBSCRIBED, Instrument
from publisher.core.normalise import Size
from publisher.core.tickpath import TickPath
from publisher.gateway.adapter import Adapter
from publisher.gateway.client import GatewayClient, Phase
from publisher.gateway.fastpath import TickFastPath
from publisher.gateway.framing import FrameBuffer, split_message
from publisher.gateway.ticktypes import IBAPI_TICK_NAMES
from publisher.observability.metrics import BuildInfo, PublisherMetrics
from publisher.sim import Catalogue
from publisher.sim.burst import FrameSet, generate

REPEATS: Final = 3
READ: Final = 65536


@dataclass(frozen=True, slots=True)
class Stages:
    """Microseconds of CPU per frame for each stage (see the module docstring)."""

    frames: int
    framing: float
    ibapi_decode: float
    fast_decode: float
    publish: float
    read_path: float
    read_path_kind: str = ""
    """Which read path ran (:func:`publisher.compiled.status`)."""
    pure: "Stages | None" = None
    """The same stages with ``IBPUB_PURE=1`` (None: the compiled path was not in use)."""


class _Nothing:
    """A tick sink and gateway-events stand-in that does nothing."""

    def on_price(self, req_id: int, tick_type: int, price: float, mask: int) -> None: ...
    def on_size(self, req_id: int, tick_type: int, size: Size) -> None: ...
    def on_generic(self, req_id: int, tick_type: int, value: float) -> None: ...
    def on_string(self, req_id: int, tick_type: int, value: str) -> None: ...
    def flush(self) -> None: ...

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args: None


def _cpu_per_frame(run: Callable[[], None], frames: int) -> float:
    samples = []
    for _ in range(REPEATS):
        start = time.thread_time_ns()
        run()
        samples.append((time.thread_time_ns() - start) / frames / 1e3)
    return statistics.median(samples)


def _payloads(frames: FrameSet) -> list[bytes]:
    buffer = FrameBuffer()
    buffer.feed(frames.blob)
    return buffer.take()


def _decode_all(payloads: list[bytes], version: int, sink: Any, fast: bool) -> None:
    decoder = Decoder(Adapter(_Nothing(), sink), version)
    decode = TickFastPath(sink, version).decode if fast else (lambda payload: False)
    for payload in payloads:
        if decode(payload):
            continue
        msg_id, body = split_message(payload, version)
        if msg_id > 200:
            decoder.processProtoBuf(body, msg_id - 200)
        else:
            decoder.interpret(tuple(body.split(b"\0")[:-1]), msg_id)


def _framing(frames: FrameSet) -> None:
    buffer = FrameBuffer()
    view = memoryview(frames.blob)
    for start in range(0, len(view), READ):
        piece = view[start : start + READ]
        buffer.feed(bytes(piece))
        buffer.take()


def _tick_path(context: zmq.Context[Any], req_ids: list[int]) -> tuple[TickPath, Bus]:
    metrics = PublisherMetrics(CollectorRegistry(), BuildInfo("bench", "bench", 1))
    messages = metrics.messages
    bus = Bus(
        name="bench",
        endpoints=["tcp://127.0.0.1:*"],
        send_hwm=100_000,
        context=context,
        on_sent=lambda kind: messages[kind].inc(),
    )
    by_req: dict[int, Instrument] = {}
    path = TickPath(
        bus,
        metrics.tick_latency,
        time.time_ns,
        lambda inst: None,
        by_req=by_req,
        tick_names=IBAPI_TICK_NAMES,
        tick_messages=messages["tick"],
    )
    for req_id, instrument in zip(req_ids, Catalogue.builtin(), strict=False):
        spec = InstrumentSpec(
            key=instrument.spec.local_symbol.replace(" ", ""),
            sec_type=instrument.spec.sec_type,
            symbol=instrument.spec.symbol,
            con_id=instrument.con_id,
        )
        inst = Instrument(spec, metrics.instrument_counter(spec.key))
        inst.con_id, inst.state = instrument.con_id, SUBSCRIBED
        by_req[req_id] = inst
    return path, bus


def _read_path(frames: FrameSet, context: zmq.Context[Any], req_ids: list[int]) -> float:
    path, bus = _tick_path(context, req_ids)
    ours, theirs = socket.socketpair()
    try:
        client = GatewayClient(Adapter(_Nothing(), path), ticks=path)
        ours.setblocking(False)
        # A connected socket past the handshake: only the read path is measured.
        client._sock = ours
        client.phase = Phase.OPEN
        client.serverVersion_ = frames.version
        client.decoder = Decoder(client.wrapper, frames.version)
        view = memoryview(frames.blob)

        def run() -> None:
            for start in range(0, len(view), READ):
                theirs.sendall(view[start : start + READ])
                while client.on_readable():
                    pass

        return _cpu_per_frame(run, frames.count)
    finally:
        ours.close()
        theirs.close()
        bus.close()


def measure(version: int, count: int = 50_000, seed: int = 7, compare: bool = True) -> Stages:
    """Every stage for ``count`` frames at one server version (and with ``compare``, the pure
    modules' stages too, when this process runs the compiled ones)."""
    result = dataclasses.replace(_measure(version, count, seed), read_path_kind=compiled.status())
    if compare and result.read_path_kind.startswith("compiled"):
        result = dataclasses.replace(result, pure=measure_pure(version, count, seed))
    return result


def measure_pure(version: int, count: int, seed: int) -> Stages:
    """The stages in a child process running the pure-Python modules (``IBPUB_PURE=1``)."""
    command = [sys.executable, "-m", "bench.stages", str(version), str(count), str(seed)]
    env = dict(os.environ, **{compiled.PURE_ENV: "1"})
    done = subprocess.run(command, env=env, capture_output=True, check=False, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"bench.stages with IBPUB_PURE=1 failed: {done.stderr[-500:]}")
    fields = json.loads(done.stdout)
    fields.pop("pure", None)
    result = Stages(**fields)
    if not result.read_path_kind.startswith("pure"):
        raise RuntimeError(f"bench.stages with IBPUB_PURE=1 ran {result.read_path_kind!r}")
    return result


def compiled_vs_pure(encoding: str, stages: Stages) -> str:
    """The "compiled vs pure" line of the stage breakdown (CPU us per frame, this machine)."""
    pure = stages.pure
    if pure is None:
        return (
            f"compiled vs pure (us of CPU per frame), {encoding}: not compared, the read path "
            f"ran {stages.read_path_kind or 'pure Python'}"
        )

    def pair(name: str, ours: float, theirs: float) -> str:
        gain = theirs / ours if ours > 0 else float("nan")
        return f"{name} {ours:.2f} vs {theirs:.2f} ({gain:.2f}x)"

    return f"compiled vs pure (us of CPU per frame), {encoding}: " + ", ".join(
        [
            pair("framing", stages.framing, pure.framing),
            pair("decode", stages.fast_decode, pure.fast_decode),
            pair("publish", stages.publish, pure.publish),
            pair("whole read path", stages.read_path, pure.read_path),
        ]
    )


def _measure(version: int, count: int, seed: int) -> Stages:
    instruments = list(Catalogue.builtin())
    req_ids = list(range(1001, 1001 + len(instruments)))
    frames = generate(version, req_ids, instruments, count, seed)
    payloads = _payloads(frames)
    nothing = _Nothing()
    context: zmq.Context[Any] = zmq.Context()
    try:
        framing = _cpu_per_frame(lambda: _framing(frames), count)
        ibapi = _cpu_per_frame(lambda: _decode_all(payloads, version, nothing, False), count)
        fast = _cpu_per_frame(lambda: _decode_all(payloads, version, nothing, True), count)
        path, bus = _tick_path(context, req_ids)
        try:

            def publish_all() -> None:
                _decode_all(payloads, version, path, True)
                path.flush()

            decode_and_publish = _cpu_per_frame(publish_all, count)
        finally:
            bus.close()
        read_path = _read_path(frames, context, req_ids)
    finally:
        context.term()
    return Stages(count, framing, ibapi, fast, decode_and_publish - fast, read_path)


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.stages VERSION COUNT SEED``: the stages of this process, as JSON."""
    version, count, seed = (int(a) for a in (sys.argv[1:] if argv is None else argv))
    print(json.dumps(dataclasses.asdict(measure(version, count, seed, compare=False))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
