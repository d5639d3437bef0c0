"""A recorded gateway session as values, read from a tap file or a capture directory.

Three inputs give one :class:`Recording`:

* a tap file (``ibpub tap --out``, :mod:`publisher.tap.fileformat`): one of its sessions (the
  first by default), real chunk timestamps; a frame cut off where the session ended is left
  out (:attr:`Recording.cut_bytes`);
* a directory holding ``request_response.json`` (ib_insync's TwsStub recording: each base64
  client chunk mapped to the server chunks that followed it); no timestamps;
* a directory holding ``server_frames.bin`` and ``handshake_reply*.bin`` (raw length-prefixed
  frames), with ``transcript.txt`` for the order of both directions when present (else
  ``client_frames.bin`` is taken to come first); no timestamps.

Any problem is a :class:`ReplayError` naming the file and what is wrong.
"""

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from publisher.errors import IbpubError
from publisher.tap.fileformat import CLIENT, OPEN, SERVER, TapFormatError, decode, is_tap

API_PREFIX: Final = b"API\0"


class ReplayError(IbpubError):
    """A recording that cannot be replayed: ``path`` and ``problem``."""

    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Frame:
    """One whole frame's payload (no length prefix) and when its last byte was read."""

    ts_ns: int
    from_client: bool
    payload: bytes


@dataclass(frozen=True, slots=True)
class Recording:
    """A session after its handshake: the server's version, its reply, then every frame."""

    source: str
    server_version: int
    connection_time: str
    handshake: bytes
    """The handshake reply's payload (``"<version>\\0<time>\\0"``)."""
    frames: tuple[Frame, ...]
    """Both directions in recorded order; the client's ``API\\0`` and version frame excluded."""
    cut_bytes: int = 0
    """Bytes of a frame still incomplete when a tap session ended (the proxy stopped mid-frame):
    left out, not replayed."""


def _frames(buf: bytes) -> tuple[list[bytes], int]:
    out, offset = [], 0
    while len(buf) - offset >= 4:
        size = int.from_bytes(buf[offset : offset + 4], "big")
        if len(buf) - offset - 4 < size:
            break
        out.append(buf[offset + 4 : offset + 4 + size])
        offset += 4 + size
    return out, len(buf) - offset


class _Assembler:
    """Chunks of both directions in arrival order -> frames, the handshake taken off."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._buf = {True: bytearray(), False: bytearray()}
        self._prefix_seen = False
        self._hello_seen = False
        self.handshake: bytes | None = None
        self.frames: list[Frame] = []

    def feed(self, from_client: bool, ts_ns: int, data: bytes) -> None:
        buf = self._buf[from_client]
        buf += data
        if from_client and not self._prefix_seen:
            if len(buf) < len(API_PREFIX):
                return
            if not buf.startswith(API_PREFIX):
                raise ReplayError(
                    self._path, f"client stream does not start with API\\0: {buf[:8]!r}"
                )
            del buf[: len(API_PREFIX)]
            self._prefix_seen = True
        payloads, left = _frames(bytes(buf))
        del buf[: len(buf) - left]
        for payload in payloads:
            if from_client and not self._hello_seen:
                self._hello_seen = True
                continue
            if not from_client and self.handshake is None:
                self.handshake = payload
                continue
            self.frames.append(Frame(ts_ns, from_client, payload))

    def cut_bytes(self) -> int:
        """Bytes of incomplete frames at the end (a session stopped mid-frame)."""
        return sum(len(buf) for buf in self._buf.values())

    def finish(
        self, handshake: bytes | None = None, *, strict: bool = True
    ) -> tuple[bytes, list[Frame]]:
        for from_client, buf in self._buf.items():
            if buf and strict:
                side = "client" if from_client else "server"
                raise ReplayError(
                    self._path, f"truncated: {len(buf)} bytes of a partial {side} frame at the end"
                )
        reply = self.handshake if handshake is None else handshake
        if reply is None:
            raise ReplayError(self._path, "no handshake reply from the server in the recording")
        return reply, self.frames


def _parse_handshake(path: Path, payload: bytes) -> tuple[int, str]:
    fields = payload.split(b"\0")
    try:
        version = int(fields[0])
        when = fields[1].decode("ascii") if len(fields) > 1 else ""
    except (ValueError, UnicodeDecodeError):
        raise ReplayError(path, f"bad handshake reply {payload[:40]!r}") from None
    return version, when


def _recording(path: Path, reply: bytes, frames: Iterable[Frame], cut: int = 0) -> Recording:
    version, when = _parse_handshake(path, reply)
    return Recording(str(path), version, when, reply, tuple(frames), cut)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ReplayError(path, f"cannot read: {exc.strerror or exc}") from None


def load_tap(path: Path, session: int | None = None) -> Recording:
    """Session ``session`` (default: the first) of a tap file."""
    try:
        records = list(decode(_read(path)))
    except TapFormatError as exc:
        raise ReplayError(path, str(exc)) from None
    numbers = sorted({r.session for r in records if r.kind == OPEN})
    if not numbers:
        raise ReplayError(path, "no session in the tap file")
    chosen = numbers[0] if session is None else session
    if chosen not in numbers:
        raise ReplayError(path, f"no session {chosen} (sessions: {', '.join(map(str, numbers))})")
    assembler = _Assembler(path)
    for record in records:
        if record.session == chosen and record.kind in (CLIENT, SERVER):
            assembler.feed(record.kind == CLIENT, record.ts_ns, record.data)
    # A session the proxy stopped can end inside a frame: that tail is left out, not an error
    # (the file itself is whole: decode() refuses a truncated record).
    reply, frames = assembler.finish(strict=False)
    return _recording(path, reply, frames, assembler.cut_bytes())


def load_request_response(path: Path) -> Recording:
    """ib_insync's ``request_response.json``: {b64 client chunk: [b64 server chunk, ...]}."""
    try:
        mapping = json.loads(_read(path))
        if not isinstance(mapping, dict):
            raise ValueError("not a JSON object")
        chunks = [(True, base64.b64decode(client, validate=True)) for client in mapping]
        order: list[tuple[bool, bytes]] = []
        for (flag, client), answers in zip(chunks, mapping.values(), strict=True):
            order.append((flag, client))
            if not isinstance(answers, list):
                raise ValueError("a value is not a list of server chunks")
            order += [(False, base64.b64decode(a, validate=True)) for a in answers]
    except (ValueError, binascii.Error) as exc:
        raise ReplayError(path, f"not a request/response recording: {exc}") from None
    assembler = _Assembler(path)
    for from_client, data in order:
        assembler.feed(from_client, 0, data)
    reply, frames = assembler.finish()
    return _recording(path, reply, frames)


def _transcript_order(path: Path) -> list[tuple[bool, bytes]]:
    order = []
    for number, line in enumerate(_read(path).decode("utf-8", "replace").splitlines(), 1):
        if not line.startswith("raw "):
            continue
        try:
            _, side, blob = line.split(" ", 2)
            order.append((side == "client", base64.b64decode(blob, validate=True)))
        except (ValueError, binascii.Error):
            raise ReplayError(path, f"line {number}: not 'raw <server|client> <base64>'") from None
    return order


def load_frames_dir(directory: Path) -> Recording:
    """``server_frames.bin`` + ``handshake_reply*.bin`` (+ ``transcript.txt`` for the order)."""
    replies = sorted(directory.glob("handshake_reply*.bin"))
    if not replies:
        raise ReplayError(directory, "no handshake_reply*.bin next to server_frames.bin")
    reply_frames, left = _frames(_read(replies[0]))
    if len(reply_frames) != 1 or left:
        raise ReplayError(replies[0], "not one length-prefixed handshake reply frame")
    server = _read(directory / "server_frames.bin")
    transcript = directory / "transcript.txt"
    if transcript.exists():
        order = _transcript_order(transcript)
        if b"".join(d for c, d in order if not c) != server:
            raise ReplayError(transcript, "its server frames differ from server_frames.bin")
    else:
        client_path = directory / "client_frames.bin"
        client = _read(client_path) if client_path.exists() else b""
        order = [(True, client), (False, server)]
    frames: list[Frame] = []
    for from_client, data in order:
        payloads, left = _frames(data)
        if left:
            raise ReplayError(directory, f"truncated: {left} bytes of a partial frame")
        frames += [Frame(0, from_client, p) for p in payloads]
    return _recording(directory, reply_frames[0], frames)


def load_recording(path: str | Path, session: int | None = None) -> Recording:
    """Read any of the three inputs (see the module docstring)."""
    where = Path(path)
    if where.is_dir():
        if (where / "request_response.json").exists():
            return load_request_response(where / "request_response.json")
        if (where / "server_frames.bin").exists():
            return load_frames_dir(where)
        raise ReplayError(where, "no request_response.json or server_frames.bin in the directory")
    if not where.exists():
        raise ReplayError(where, "no such file or directory")
    head = _read(where)[:16]
    if is_tap(head):
        return load_tap(where, session)
    if where.name.endswith(".json"):
        return load_request_response(where)
    raise ReplayError(where, "not a tap file (no IBPUBTAP header) nor a capture directory")
