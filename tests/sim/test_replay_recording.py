"""Reading recordings (tap files and the two real captures) and attributing their answers."""

from pathlib import Path

import pytest

from publisher.sim.protocol import (
    CancelMktData,
    ReqContractDetails,
    ReqCurrentTime,
    ReqMktData,
    frame,
)
from publisher.sim.protocol.contracts import ContractQuery
from publisher.sim.replay import ReplayError, build_script, load_recording, load_script
from publisher.sim.replay.requestids import message_id, read_req_id
from publisher.tap.fileformat import CLIENT, OPEN, SERVER, Record, TapWriter
from tests.support.paths import CAPTURE_176, CAPTURE_225, CAPTURES

needs_captures = pytest.mark.skipif(
    not CAPTURES.is_dir(), reason=f"{CAPTURES} (the real gateway recordings) is absent"
)


@needs_captures
def test_capture_225_requests_and_answers() -> None:
    script = load_script(str(CAPTURE_225))
    assert script.server_version == 225
    assert script.recording.connection_time == "20260824 22:28:42 CET"
    assert len(script.recording.frames) == 43  # 37 server + 6 client frames
    kinds = [type(r.request).__name__ for r in script.requests]
    assert kinds == [
        "ReqMarketDataType",
        "ReqMktData",
        "ReqMktData",
        "CancelMktData",
        "CancelMktData",
        "ReqCurrentTime",
    ]
    aapl, eurusd = script.requests[1], script.requests[2]
    assert isinstance(aapl.request, ReqMktData) and aapl.request.contract.con_id == 265598
    assert isinstance(eurusd.request, ReqMktData) and eurusd.request.contract.symbol == "EUR"
    # 81, 58, 10167 and 9 ticks for AAPL; EUR.USD keeps the ticks in flight after its cancel
    assert len(aapl.answers) == 12 and len(eurusd.answers) == 14
    assert {read_req_id(a.payload, 225) for a in aapl.answers} == {1}
    assert {read_req_id(a.payload, 225) for a in eurusd.answers} == {2}
    assert [message_id(a.payload, 225)[0] for a in script.requests[5].answers] == [49]
    # startup: accounts, next id, six farm messages; then the two cashfarm messages
    ids = [message_id(u.payload, 225)[0] for u in script.unsolicited]
    assert ids == [15, 9, 4, 4, 4, 4, 4, 4, 4, 4]
    assert script.dropped == 0 and script.unparsed == 0


@needs_captures
def test_capture_176_has_the_startup_burst_and_no_market_data() -> None:
    script = load_script(str(CAPTURE_176))
    assert script.server_version == 176
    assert script.recording.handshake.startswith(b"176\0")
    ids = [message_id(u.payload, 176)[0] for u in script.unsolicited]
    assert ids[:2] == [15, 9]
    assert ids.count(4) >= 11  # the farm messages
    assert not [r for r in script.requests if isinstance(r.request, ReqMktData)]
    # the json file itself is accepted too
    assert load_recording(CAPTURE_176 / "request_response.json").server_version == 176


@needs_captures
def test_claim_matches_by_content_then_by_contract_once_each() -> None:
    script = load_script(str(CAPTURE_225))
    taken: set[int] = set()
    recorded = script.requests[1].request
    assert isinstance(recorded, ReqMktData)
    # the same content under another request id
    same = ReqMktData(77, recorded.contract, recorded.generic_ticks)
    assert script.claim(same, taken) is script.requests[1]
    assert script.claim(same, taken) is None  # answered once per connection
    # what ibpub sends for EUR.USD once qualified: conId and more fields, symbol/type/ccy equal
    qualified = ContractQuery(
        con_id=12087792, symbol="EUR", sec_type="CASH", exchange="IDEALPRO", currency="USD"
    )
    assert script.claim(ReqMktData(78, qualified, "233"), taken) is script.requests[2]
    assert script.claim(ReqCurrentTime(), taken) is script.requests[5]
    # no recorded answer: the simulator's catalogue answers (claim says so with None)
    assert script.claim(ReqContractDetails(79, ContractQuery(symbol="AAPL")), taken) is None
    assert script.claim(CancelMktData(77), taken) is None


def write_tap(path: Path, records: list[Record]) -> Path:
    with path.open("wb") as out:
        writer = TapWriter(out)
        for record in records:
            writer.write(record)
    return path


def test_a_tap_file_in_chunks_that_split_frames(tmp_path: Path) -> None:
    """Chunks are socket reads: frames are rebuilt across them; sessions are told apart."""
    hello = b"API\0" + frame(b"v100..176")
    reply = frame(b"176\x0020260101 00:00:00 UTC\0")
    time_req = frame(b"49\x001\0")
    time_ans = frame(b"49\x001\x001700000000\0")
    server = reply + time_ans
    records = [
        Record(OPEN, 1, 0, b"a"),
        Record(OPEN, 2, 0, b"b"),
        Record(CLIENT, 1, 1, hello[:3]),
        Record(CLIENT, 2, 1, hello),
        Record(CLIENT, 1, 2, hello[3:] + time_req[:2]),
        Record(SERVER, 1, 3, server[:7]),
        Record(CLIENT, 1, 4, time_req[2:]),
        Record(SERVER, 1, 5_000_000, server[7:]),
        Record(SERVER, 2, 6, reply),
    ]
    path = write_tap(tmp_path / "s.tap", records)
    recording = load_recording(path)
    assert recording.server_version == 176
    assert [(f.from_client, f.ts_ns) for f in recording.frames] == [(True, 4), (False, 5_000_000)]
    script = build_script(recording)
    assert isinstance(script.requests[0].request, ReqCurrentTime)
    assert script.requests[0].answers[0].offset_ns == 5_000_000 - 4
    second = load_recording(path, session=2)
    assert second.frames == () and second.cut_bytes == 0
    # a session stopped inside a frame: the partial frame is left out and counted
    cut = write_tap(tmp_path / "cut.tap", [*records[:-1], Record(SERVER, 1, 6, time_ans[:5])])
    assert load_recording(cut).cut_bytes == 5
    assert len(load_recording(cut).frames) == 2
    with pytest.raises(ReplayError, match="no session 3 \\(sessions: 1, 2\\)"):
        load_recording(path, session=3)
    with pytest.raises(ReplayError, match="no frames after the handshake"):
        load_script(str(path), 2)


def test_bad_inputs_name_the_file_and_the_problem(tmp_path: Path) -> None:
    cases: list[tuple[Path, str]] = [
        (tmp_path / "missing.tap", "no such file or directory"),
        (tmp_path, "no request_response.json or server_frames.bin"),
    ]
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"hello")
    cases.append((junk, "not a tap file"))
    cut = write_tap(
        tmp_path / "cut.tap",
        [Record(OPEN, 1, 0, b""), Record(SERVER, 1, 0, frame(b"176\0x\0")[:-2])],
    )
    cases.append((cut, "no handshake reply from the server"))
    whole = write_tap(tmp_path / "whole.tap", [Record(OPEN, 1, 0, b"")])
    cases.append((tmp_path / "half.tap", "truncated record"))
    (tmp_path / "half.tap").write_bytes(whole.read_bytes() + b"\x02\0\0")
    empty = write_tap(tmp_path / "empty.tap", [])
    cases.append((empty, "no session in the tap file"))
    frames_dir = tmp_path / "frames"
    frames_dir.mkdir()
    (frames_dir / "handshake_reply.bin").write_bytes(frame(b"225\0t\0"))
    (frames_dir / "server_frames.bin").write_bytes(frame(b"\0\0\0\xd1\x08\x01")[:-1])
    cases.append((frames_dir, "truncated: 9 bytes of a partial frame"))
    (tmp_path / "json").mkdir()
    bad_json = tmp_path / "json" / "request_response.json"
    bad_json.write_text('{"not base64!": []}')
    cases.append((bad_json, "not a request/response recording"))
    for path, problem in cases:
        with pytest.raises(ReplayError) as caught:
            load_script(str(path))
        assert problem in caught.value.problem, (path, caught.value)
        assert str(path) in str(caught.value)
