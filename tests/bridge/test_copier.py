"""The bridge's pure parts: subjects, Nats-Msg-Id, gaps and the bounded outage buffer."""

import msgspec

from publisher.bridge.copier import Copier, OutageBuffer

_ENC = msgspec.msgpack.Encoder()


def _msg(seq: int, sid: int = 5, topic: str = "tick.AAPL") -> tuple[bytes, bytes]:
    return topic.encode(), _ENC.encode({"v": 1, "type": "tick", "pub": "p", "sid": sid, "seq": seq})


def test_a_message_is_stored_unchanged_with_the_contract_subject_and_id() -> None:
    """Payload bytes unchanged, subject ibpub.<pub>.<topic>, id <pub>:<sid>:<topic>:<seq>."""
    topic, payload = _msg(1)
    [stored] = Copier().copy(topic, payload)
    assert (stored.subject, stored.payload, stored.msg_id) == (
        "ibpub.p.tick.AAPL",
        payload,
        "p:5:tick.AAPL:1",
    )


def test_a_seq_that_skips_ahead_stores_a_gap_first() -> None:
    """Seqs 1 then 4: a gap message for 2..3 precedes message 4."""
    copier = Copier()
    copier.copy(*_msg(1))
    gap, msg = copier.copy(*_msg(4))
    body = msgspec.msgpack.decode(gap.payload)
    assert gap.subject == "ibpub.p.gap.tick.AAPL"
    assert (body["type"], body["from_seq"], body["to_seq"], body["reason"]) == ("gap", 2, 3, "seq")
    assert msg.msg_id == "p:5:tick.AAPL:4"
    assert (copier.gaps, copier.lost) == (1, 2)


def test_a_full_buffer_drops_the_oldest_and_stores_one_gap_for_them() -> None:
    """Past its limit the buffer drops the oldest, counts them, and hands out their gap first."""
    copier, buffer = Copier(), OutageBuffer(limit=3)
    for seq in range(1, 6):
        for item in copier.copy(*_msg(seq)):
            buffer.put(item)
    assert buffer.dropped == 2
    out = buffer.take(10)
    body = msgspec.msgpack.decode(out[0].payload)
    assert (body["from_seq"], body["to_seq"], body["reason"]) == (1, 2, "bridge_buffer_full")
    assert [item.seq for item in out[1:]] == [3, 4, 5]


def test_a_payload_without_sid_and_seq_is_counted_not_stored() -> None:
    """A message the bridge cannot identify is not stored (it would have no id) but counted."""
    copier = Copier()
    assert copier.copy(b"tick.X", b"\xc1") == []
    assert copier.malformed == 1


def test_messages_put_back_after_an_unacknowledged_publish_are_never_dropped() -> None:
    """They may have been stored, so no gap may claim them lost: new messages are dropped."""
    copier, buffer = Copier(), OutageBuffer(limit=2)
    for seq in (1, 2):
        buffer.put(copier.copy(*_msg(seq))[0])
    buffer.put_back(buffer.take(2))
    buffer.put(copier.copy(*_msg(3))[0])
    assert buffer.dropped == 1
    out = buffer.take(10)
    assert [item.seq for item in out] == [1, 2, 0]
    assert msgspec.msgpack.decode(out[2].payload)["from_seq"] == 3
