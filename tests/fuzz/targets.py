"""The fuzz targets: one function per parser that faces the network, bytes in, nothing out.

Each target takes any bytes and either returns or raises ``AssertionError`` (a finding). A
parser's own documented refusal (``FramingError``, ``WireError``, ``ConfigError``, a snapshot
``SnapshotRefusal``, a control ``Refusal``) is a correct answer, not a finding; any other
exception escaping a parser is one, since the publisher would have to catch it blindly.

The same functions are driven by atheris (``python -m tests.fuzz.run``, ``make fuzz``) and
replayed over the corpus by ``tests/fuzz/test_corpus.py`` in ``make test``.
"""

import contextlib
import os
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Final

import msgspec
from ibapi.decoder import Decoder

from publisher.bus.snapshot import LastValueCache, RequestError, build_reply, parse_request
from publisher.config import load_settings
from publisher.core.control.requests import Refusal
from publisher.core.control.requests import parse_request as parse_control
from publisher.core.schema import SnapshotRefusal, SnapshotReply
from publisher.errors import ConfigError
from publisher.gateway.adapter import Adapter
from publisher.gateway.framing import (
    HEADER,
    MAX_FRAME,
    FrameBuffer,
    FramingError,
    split_message,
)
from subscribers.messages import WireError
from subscribers.snapshot import SnapshotError, decode_reply
from subscribers.wire import decode, format_line, to_jsonable
from tests.gateway.test_fastpath import (
    CLASSIC,
    PROTOBUF,
    RAW_IDS,
    Call,
    NoEvents,
    Recorder,
    via_fast,
)

Target = Callable[[bytes], None]

VERSIONS: Final = (CLASSIC, RAW_IDS, PROTOBUF)
"""Server versions the fast path target picks from (its first byte): classic text, raw ids,
protobuf; each has its own fast path layout."""


_DECODERS: dict[int, tuple[Recorder, Decoder]] = {}


def via_ibapi(payload: bytes, version: int) -> list[Call] | type[BaseException]:
    """``tests.gateway.test_fastpath.via_ibapi`` with one ibapi Decoder per version, reused:
    building a Decoder inspects every EWrapper method (about 5 ms), which would be most of an
    execution."""
    entry = _DECODERS.get(version)
    if entry is None:
        sink = Recorder()
        entry = _DECODERS[version] = (sink, Decoder(Adapter(NoEvents(), sink), version))
    sink, decoder = entry
    sink.calls = []
    try:
        msg_id, body = split_message(payload, version)
        if msg_id > 200:
            decoder.processProtoBuf(body, msg_id - 200)
        else:
            decoder.interpret(tuple(body.split(b"\0")[:-1]), msg_id)
    except Exception as exc:
        return type(exc)
    return sink.calls


def assert_equivalent(payload: bytes, version: int) -> None:
    """The differential property of ``tests/gateway/test_fastpath.py``: the fast path
    declines the frame (and calls nothing) or makes exactly ibapi's calls."""
    handled, calls = via_fast(payload, version)
    if not handled:
        assert calls == [], "a declined frame must not reach the sink"
        return
    assert via_ibapi(payload, version) == calls, payload


def fastpath(data: bytes) -> None:
    """One gateway frame payload: the fast path declines it or agrees with ibapi exactly."""
    if not data:
        return
    assert_equivalent(data[1:], VERSIONS[data[0] % len(VERSIONS)])


def _reference_frames(stream: bytes) -> tuple[list[bytes], bool]:
    """The frames of ``stream`` read by offset the obvious way, and whether framing broke."""
    frames: list[bytes] = []
    offset = 0
    while len(stream) - offset >= HEADER:
        (length,) = struct.unpack_from(">I", stream, offset)
        if length > MAX_FRAME:
            return frames, True
        stop = offset + HEADER + length
        if stop > len(stream):
            break
        frames.append(stream[offset + HEADER : stop])
        offset = stop
    return frames, False


def framing(data: bytes) -> None:
    """A byte stream fed in chunks (sizes from the first two bytes) into a small FrameBuffer
    yields exactly the frames an offset walk finds, then every frame meets the fast path."""
    if len(data) < 2:
        return
    chunk = 1 + data[0] % 64
    capacity = 1 + data[1] % 32
    stream = data[2:]
    buffer = FrameBuffer(capacity)
    got: list[bytes] = []
    broke = False
    for start in range(0, len(stream), chunk):
        piece = stream[start : start + chunk]
        view = buffer.writable(len(piece))
        view[: len(piece)] = piece
        buffer.commit(len(piece))
        try:
            got.extend(buffer.take())
        except FramingError:
            broke = True
            break
    if not broke:
        try:
            got.extend(buffer.take())
        except FramingError:
            broke = True
    want, want_broke = _reference_frames(stream)
    assert broke == want_broke, (broke, want_broke)
    assert got == want, (got, want)
    if not broke:
        assert buffer.pending == len(stream) - sum(HEADER + len(f) for f in got)
    for payload in got[:8]:
        assert_equivalent(payload, VERSIONS[len(payload) % len(VERSIONS)])


def wire(data: bytes) -> None:
    """A bus message (topic length in the first byte): decoded, or refused with WireError;
    whatever decodes can be shown as JSON and as a line."""
    if not data:
        return
    cut = 1 + data[0] % 40
    topic, payload = data[1:cut], data[cut:]
    for prefix in (b"", b"tick.", b"status.", b"hb."):
        try:
            message = decode(prefix + topic, payload)
        except WireError:
            continue
        to_jsonable(message)
        format_line((prefix + topic).decode(), message)


def snapshot_reply(data: bytes) -> None:
    """A snapshot reply as a subscriber receives it: a Snapshot (bad ticks and states dropped
    and counted) or a SnapshotError, never another exception in the late joiner."""
    try:
        snapshot = decode_reply(data)
    except SnapshotError:
        return
    assert snapshot.malformed >= 0, snapshot


_CACHE: Final = LastValueCache()
_CACHE.record("tick.AAPL", {"field": "bid", "seq": 1, "price": 1.0})


def snapshot_request(data: bytes) -> None:
    """A snapshot request: a reply or a refusal, never an exception out of the server."""
    with contextlib.suppress(RequestError):
        parse_request(data)
    reply = build_reply(data, _CACHE, sid=1, last_seq=lambda topic: 1, states=list)
    assert isinstance(reply, SnapshotReply | SnapshotRefusal), reply


_decode_control: Final = msgspec.msgpack.Decoder().decode


def control_request(data: bytes) -> None:
    """A control request frame, decoded as ControlServer decodes it, then parsed: a request
    or a Refusal the client is answered with, never an exception."""
    try:
        body = _decode_control(data)
    except (msgspec.DecodeError, ValueError):
        return  # ControlServer answers it bad_request (Garbage)
    request = parse_control(body)
    if isinstance(request, Refusal):
        assert request.code and isinstance(request.message, str), request


def config(data: bytes) -> None:
    """A configuration file's bytes: Settings, or a ConfigError naming file, key and problem."""
    path = Path(tempfile.gettempdir()) / f"ibpub-fuzz-{os.getpid()}.toml"  # removed below
    path.write_bytes(data)
    try:
        load_settings(path, env={})
    except ConfigError as exc:
        assert str(path) in str(exc), exc
    finally:
        os.unlink(path)


TARGETS: Final[dict[str, Target]] = {
    "fastpath": fastpath,
    "framing": framing,
    "wire": wire,
    "snapshot_request": snapshot_request,
    "snapshot_reply": snapshot_reply,
    "control_request": control_request,
    "config": config,
}
"""Every fuzz target by name (the corpus folder of each is ``tests/fuzz/corpus/<name>``)."""
