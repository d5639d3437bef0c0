"""The client side of snapshots (pure decoding, prefixes, merging), key loading and event text."""

import argparse
from pathlib import Path
from typing import Any

import msgpack
import pytest

from publisher.commands.keys import generate_keys
from subscribers.connect import Connection, add_connection_arguments, connection_from_args
from subscribers.curve import ENV_CLIENT_KEY, ENV_SERVER_KEY, CurveKeyError, CurveKeys
from subscribers.events import Gap, PublisherRestart, PublisherSilent, describe
from subscribers.snapshot import (
    Snapshot,
    SnapshotError,
    TopicSnapshot,
    decode_reply,
    encode_request,
    merge,
    request_prefixes,
)
from subscribers.wire import Tick

SID = 99


def payload(seq: int, field: str = "bid", **extra: Any) -> dict[str, Any]:
    return {
        "v": 1,
        "type": "tick",
        "pub": "p",
        "sid": SID,
        "seq": seq,
        "ts": 10,
        "key": "A",
        "conid": 1,
        "field": field,
        "tick_type": 1,
        "price": 1.25,
        "attrib": 0,
        "mdt": 1,
        "ts_recv": 9,
        **extra,
    }


def reply(*topics: dict[str, Any], sid: int = SID) -> bytes:
    return bytes(msgpack.packb({"v": 1, "sid": sid, "ts": 5, "topics": list(topics)}))


def test_request_is_the_contract_map() -> None:
    """A request is ``{"v": 1, "prefix": ...}`` in msgpack."""
    assert msgpack.unpackb(encode_request("tick.A")) == {"v": 1, "prefix": "tick.A"}


def test_reply_decodes_into_validated_ticks() -> None:
    """Each topic keeps its seq and its ticks, decoded as Tick values."""
    snapshot = decode_reply(reply({"topic": "tick.A", "seq": 7, "ticks": [payload(6)]}))
    assert (snapshot.sid, snapshot.ts, snapshot.malformed) == (SID, 5, 0)
    (entry,) = snapshot.topics
    tick = entry.ticks[0]
    assert isinstance(tick, Tick)
    assert (entry.topic, entry.seq, tick.price) == ("tick.A", 7, 1.25)
    assert snapshot.tick_count == 1


def test_bad_ticks_are_dropped_and_counted() -> None:
    """A tick breaking the contract, or of another session, is counted and left out."""
    ticks = [payload(1), payload(2, v=9), payload(3, sid=SID + 1), "junk"]
    snapshot = decode_reply(reply({"topic": "tick.A", "seq": 3, "ticks": ticks}))
    assert [t.seq for t in snapshot.topics[0].ticks] == [1]
    assert snapshot.malformed == 3


def status_payload(seq: int, key: str | None, sid: int = SID, **extra: Any) -> dict[str, Any]:
    scope = "gateway" if key is None else "instrument"
    return {
        "v": 1, "type": "status", "pub": "p", "sid": sid, "seq": seq, "ts": 10, "scope": scope,
        "state": "failed", "key": key, "code": 200, "message": "no such contract", **extra,
    }  # fmt: skip


def test_a_reply_without_states_has_none() -> None:
    """A version 1.0 reply (no ``states`` key) decodes with an empty ``states``."""
    assert decode_reply(reply()).states == ()


def test_states_of_a_1_1_reply_decode_as_status_messages() -> None:
    """Contract 1.1: ``states`` holds whole status payloads; bad ones (or of another session)
    are dropped and counted like bad ticks."""
    states = [
        status_payload(4, "A"),
        status_payload(2, None, state="connected"),
        status_payload(5, "B", sid=SID + 1),
        status_payload(6, "C", code="x"),
    ]
    body = msgpack.packb({"v": 1, "sid": SID, "ts": 5, "topics": [], "states": states})
    snapshot = decode_reply(body)
    assert [(s.scope, s.key, s.state, s.code) for s in snapshot.states] == [
        ("instrument", "A", "failed", 200),
        ("gateway", None, "connected", 200),
    ]
    assert snapshot.malformed == 2


def test_merge_keeps_the_latest_state_of_each_scope_and_key() -> None:
    """Merged replies hold each (scope, key) once: its highest-seq state."""
    older = decode_reply(msgpack.packb(
        {"v": 1, "sid": SID, "ts": 5, "topics": [], "states": [status_payload(3, "A")]}
    ))  # fmt: skip
    newer = decode_reply(msgpack.packb(
        {"v": 1, "sid": SID, "ts": 6, "topics": [],
         "states": [status_payload(7, "A", state="subscribed"), status_payload(1, None)]}
    ))  # fmt: skip
    merged = merge([older, newer])
    assert [(s.key, s.seq) for s in merged.states] == [("A", 7), (None, 1)]


def test_unknown_reply_keys_are_ignored() -> None:
    """Keys a later contract may add to the reply or its topics do not break a snapshot."""
    body = msgpack.packb({
        "v": 1, "sid": SID, "ts": 5, "later": True,
        "topics": [{"topic": "tick.A", "seq": 7, "ticks": [payload(6)], "later_key": {}}],
    })  # fmt: skip
    assert decode_reply(body).tick_count == 1


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"\xc1", "not valid msgpack"),
        (b"\x00\x00", "not valid msgpack"),
        (msgpack.packb([1]), "not a msgpack map"),
        (msgpack.packb({"v": 2}), "unknown schema version"),
        (msgpack.packb({"v": 1, "error": "bad prefix"}), "refused the request: bad prefix"),
        (msgpack.packb({"v": 1, "sid": 1, "ts": 1}), "lacks"),
        (msgpack.packb({"v": 1, "sid": 1, "ts": 1, "topics": [{"topic": 1}]}), "lacks"),
    ],
)
def test_bad_replies_raise_snapshot_error(body: bytes, why: str) -> None:
    """An error reply or a malformed one raises SnapshotError saying why."""
    with pytest.raises(SnapshotError, match=why):
        decode_reply(body)


@pytest.mark.parametrize(
    ("prefixes", "requests"),
    [
        ([""], ["tick.", "tbt.", "depth.", "bar.", "greeks."]),
        (["tick"], ["tick."]),
        (["t"], ["tick.", "tbt."]),
        (["depth.ES", "bar.ES", "status."], ["depth.ES", "bar.ES"]),
        (["status.", "hb."], []),
        (["tick.A", "tick.B"], ["tick.A", "tick.B"]),
        (["tick.ES", "tick.ESZ6"], ["tick.ES"]),
        (["tick.", "tick.A"], ["tick."]),
    ],
)
def test_request_prefixes_cover_only_data_topics(prefixes: list[str], requests: list[str]) -> None:
    """Only data topics are cached, and a prefix inside another needs no request of its own."""
    assert request_prefixes(prefixes) == requests


def test_merge_keeps_each_topic_once() -> None:
    """Replies to overlapping prefixes merge into one snapshot with each topic once."""
    a = Snapshot(SID, 5, (TopicSnapshot("tick.A", 1, ()),))
    b = Snapshot(SID, 4, (TopicSnapshot("tick.A", 1, ()), TopicSnapshot("tick.B", 2, ())))
    merged = merge([a, b])
    assert [t.topic for t in merged.topics] == ["tick.A", "tick.B"]
    assert merged.ts == 4


def test_merge_refuses_two_sessions() -> None:
    """Replies from two sessions mean the publisher restarted in between: an error."""
    with pytest.raises(SnapshotError, match="restarted"):
        merge([Snapshot(1, 1, ()), Snapshot(2, 1, ())])


# -- keys and options ----------------------------------------------------------------------------


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    generate_keys(tmp_path, ["alice"])
    return tmp_path


def test_curve_keys_load_from_ibpub_keys_files(keys: Path) -> None:
    """The server's public key and the client's pair load from the files ibpub keys wrote."""
    curve = CurveKeys.from_files(str(keys / "server.key"), str(keys / "clients/alice.key_secret"))
    assert len(curve.server_public) == len(curve.public) == len(curve.secret) == 40
    assert "secret" not in repr(curve)


def test_client_public_key_file_is_not_enough(keys: Path) -> None:
    """Giving a public key file as the client key says a .key_secret file is needed."""
    with pytest.raises(CurveKeyError, match="key_secret"):
        CurveKeys.from_files(str(keys / "server.key"), str(keys / "authorized/alice.key"))


def test_missing_key_file_names_the_path(keys: Path) -> None:
    """A key path that does not exist is reported with that path."""
    with pytest.raises(CurveKeyError) as caught:
        CurveKeys.from_files(str(keys / "nope"), str(keys / "clients/alice.key_secret"))
    assert caught.value.path == str(keys / "nope")


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_connection_arguments(parser)
    return parser.parse_args(argv)


def test_connection_defaults_to_loopback_without_curve() -> None:
    """With no options and no environment: the default endpoints, no CURVE."""
    assert connection_from_args(parse(), {}) == Connection()


def test_options_beat_the_environment(keys: Path) -> None:
    """A key given by option wins over the environment variable."""
    env = {ENV_SERVER_KEY: str(keys / "missing"), ENV_CLIENT_KEY: str(keys / "missing")}
    args = parse(
        "--curve-server-key",
        str(keys / "server.key"),
        "--curve-client-key",
        str(keys / "clients/alice.key_secret"),
    )
    assert connection_from_args(args, env).curve is not None


def test_environment_alone_gives_the_keys(keys: Path) -> None:
    """Both IBSUB_CURVE_* variables are enough without options."""
    env = {
        ENV_SERVER_KEY: str(keys / "server.key"),
        ENV_CLIENT_KEY: str(keys / "clients/alice.key_secret"),
    }
    assert connection_from_args(parse(), env).curve is not None


def test_one_key_alone_is_an_error(keys: Path) -> None:
    """A server key without a client key is refused, naming the missing option."""
    with pytest.raises(CurveKeyError, match="--curve-client-key"):
        connection_from_args(parse("--curve-server-key", str(keys / "server.key")), {})


# -- event text ---------------------------------------------------------------------------------


def test_events_describe_themselves_in_one_line() -> None:
    """Each event has a one-line description naming what happened."""
    assert describe(Gap("tick.A", 1, 5, 7, "seq")) == (
        "gap on tick.A: 3 lost (seq 5..7, detected by seq)"
    )
    assert "seq 5, detected by heartbeat" in describe(Gap("tick.A", 1, 5, 5, "heartbeat"))
    assert describe(PublisherRestart("p", 1, 2)) == "publisher p restarted: sid 1 -> 2"
    assert "treating it as gone" in describe(PublisherSilent("p", 1, 3.2, 1.0))
