"""``ibpub sim --replay`` on the wire: a raw TWS client and ibapi's own encoder and decoder
against the replaying simulator, as a process on a real socket (the 225 capture)."""

import subprocess
from pathlib import Path

import pytest

from publisher.sim.replay.requestids import message_id, read_req_id
from tests.sim.support import RawClient, RecordingWrapper, decode_frames, ibapi_contract
from tests.sim.support import ibapi_request as request
from tests.support.paths import CAPTURE_225, CAPTURES
from tests.support.processes import BIN, LineReader, Processes, free_port, port_open
from tests.support.waiting import DEADLINE, wait_for

needs_captures = pytest.mark.skipif(
    not CAPTURES.is_dir(), reason=f"{CAPTURES} (the real gateway recordings) is absent"
)


def replay(procs: Processes, source: Path | str, *args: str) -> tuple[int, LineReader]:
    port = free_port()
    proc = procs.start(
        [str(BIN / "ibpub"), "sim", "--port", str(port), "--replay", str(source), *args]
    )
    out = LineReader(proc.stdout)
    out.until(lambda lines: any("replaying" in line for line in lines))
    wait_for(lambda: port_open(port), "the replay to listen")
    return port, out


def framed(payloads: list[bytes]) -> bytes:
    return b"".join(len(p).to_bytes(4, "big") + p for p in payloads)


@needs_captures
def test_handshake_burst_and_answers_under_the_clients_request_ids(procs: Processes) -> None:
    port, banner = replay(procs, CAPTURE_225, "--speed", "0")
    assert "server version 225" in banner.lines[0]
    client = RawClient(port)
    assert client.handshake() == (225, "20260824 22:28:42 CET")
    client.start_api(3)
    burst = [client.next_frame() for _ in range(10)]
    assert [message_id(p, 225)[0] for p in burst] == [15, 9, 4, 4, 4, 4, 4, 4, 4, 4]
    wrapper = RecordingWrapper()
    decode_frames(framed(burst[:2]), 225, wrapper)
    assert wrapper.named("managedAccounts") == [("DU9000001",)]

    # AAPL under request id 55 (recorded: 1): 12 recorded frames, all rewritten to 55
    aapl = ibapi_contract("AAPL", "STK", "SMART")
    aapl.conId, aapl.currency = 265598, "USD"
    client.send_payload(request(225, lambda c: c.reqMktData(55, aapl, "", False, False, [])))
    answers = [client.next_frame() for _ in range(12)]
    assert {read_req_id(p, 225) for p in answers} == {55}
    wrapper = RecordingWrapper()
    decode_frames(framed(answers), 225, wrapper)
    assert wrapper.named("marketDataType") == [(55, 3)]
    assert [a[:2] for a in wrapper.named("tickPrice")] == [
        (55, t) for t in (72, 73, 75, 68, 76, 66, 67)
    ]
    assert (55, 10167) in [(e[0], e[1]) for e in wrapper.errors()]

    # contract details are not in the recording: the simulator's catalogue answers
    client.send_payload(request(225, lambda c: c.reqContractDetails(56, aapl)))
    details = RecordingWrapper()
    decode_frames(framed([client.next_frame(), client.next_frame()]), 225, details)
    assert [a[0] for a in details.named("contractDetails")] == [56]
    assert details.named("contractDetails")[0][1].contract.conId == 265598
    assert details.named("contractDetailsEnd") == [(56,)]
    client.close()


@needs_captures
def test_a_client_that_cannot_speak_the_recorded_version_is_refused(procs: Processes) -> None:
    port, _ = replay(procs, CAPTURE_225)
    client = RawClient(port)
    client.send_hello("v100..200")
    assert client.read_until_closed() == b""
    client.close()


def test_a_bad_recording_exits_2_naming_the_file(procs: Processes, tmp_path: Path) -> None:
    bad = tmp_path / "not-a-recording.tap"
    bad.write_bytes(b"IBPUBTAP\0\x01\x02\0\0")
    proc = procs.start([str(BIN / "ibpub"), "sim", "--port", "0", "--replay", str(bad)])
    _, err = proc.communicate(timeout=DEADLINE)
    assert proc.returncode == 2
    assert f"cannot replay {bad}: truncated record header at byte 10" in err.decode()
    proc = procs.start(
        [str(BIN / "ibpub"), "sim", "--replay", str(bad), "--speed", "-1"],
        stdout=subprocess.DEVNULL,
    )
    _, err = proc.communicate(timeout=DEADLINE)
    assert proc.returncode == 2 and "--speed" in err.decode()
