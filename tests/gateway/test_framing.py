"""Framing the gateway byte stream by offset."""

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from publisher.gateway.framing import MAX_FRAME, FrameBuffer, FramingError, split_message


def frame(payload: bytes) -> bytes:
    return struct.pack("!I", len(payload)) + payload


def feed_in_chunks(buf: FrameBuffer, data: bytes, chunk: int) -> list[bytes]:
    out: list[bytes] = []
    for i in range(0, len(data), chunk):
        piece = data[i : i + chunk]
        view = buf.writable(len(piece))
        view[: len(piece)] = piece
        buf.commit(len(piece))
        out.extend(buf.frames())
    return out


@given(
    st.lists(st.binary(min_size=0, max_size=300), max_size=40),
    st.integers(min_value=1, max_value=97),
)
def test_frames_survive_any_chunking(payloads: list[bytes], chunk: int) -> None:
    """Whatever the read sizes, every frame comes out whole and in order."""
    buf = FrameBuffer(capacity=64)
    data = b"".join(frame(p) for p in payloads)
    assert feed_in_chunks(buf, data, chunk) == payloads
    assert buf.pending == 0


def test_frame_larger_than_buffer_is_assembled() -> None:
    """A frame bigger than the initial buffer grows it instead of failing."""
    buf = FrameBuffer(capacity=16)
    big = bytes(range(256)) * 40
    assert feed_in_chunks(buf, frame(big) + frame(b"x"), 1000) == [big, b"x"]


def test_partial_frame_waits_for_more() -> None:
    """An incomplete frame yields nothing and stays pending."""
    buf = FrameBuffer(capacity=64)
    buf.feed(frame(b"hello")[:6])
    assert list(buf.frames()) == []
    assert buf.pending == 6


def test_impossible_length_is_a_framing_error() -> None:
    """A length prefix over ibapi's 16 MiB limit means the stream cannot be trusted."""
    buf = FrameBuffer(capacity=64)
    buf.feed(struct.pack("!I", MAX_FRAME + 1) + b"junk")
    with pytest.raises(FramingError):
        list(buf.frames())


def test_split_message_text_and_binary_ids() -> None:
    """Message ids are text below server version 201 and 4-byte integers from 201."""
    assert split_message(b"1\x006\x001\x00", 200) == (1, b"6\x001\x00")
    assert split_message(b"\x00\x00\x00\xc9proto", 206) == (201, b"proto")


def test_frames_before_an_impossible_length_are_returned_first() -> None:
    """Complete frames read before a corrupt length prefix are handed on, then it raises
    (found by the framing fuzz target: they used to be dropped with the error)."""
    buf = FrameBuffer(capacity=1)
    buf.feed(struct.pack("!I", 0) + struct.pack("!I", 2) + b"ok" + struct.pack("!I", 0x08CE0019))
    assert buf.take() == [b"", b"ok"]
    with pytest.raises(FramingError):
        buf.raise_if_broken()
    with pytest.raises(FramingError):
        buf.take()
