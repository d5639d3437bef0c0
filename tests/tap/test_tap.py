"""``ibpub tap`` as a user runs it: flags, and the round trip through a recording.

Round trip: ``ibpub sim`` -> ``ibpub tap`` -> ``ibpub run`` records a session; then ``ibpub sim
--replay FILE`` -> ``ibpub run`` gives the same bus output apart from ``ts``, ``ts_recv`` and
``sid``: per topic, the same messages in the same order, for everything published before the
first publisher stopped.
"""

import signal
import subprocess
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from publisher.sim.protocol import StartApi, parse_request
from publisher.sim.replay import load_recording
from publisher.tap.fileformat import CLOSE, OPEN, decode
from tests.sim.support import RawClient
from tests.support.config import THREE, THREE_KEYS
from tests.support.listener import Listener, Message, status_seen
from tests.support.processes import BIN, LineReader, Processes, free_port, port_open
from tests.support.stack import Publisher, Stack
from tests.support.waiting import DEADLINE, wait_for

VOLATILE = ("ts", "ts_recv", "sid")
TICKS_EACH = 40


def tap(procs: Processes, *args: str) -> subprocess.Popen[bytes]:
    return procs.start([str(BIN / "ibpub"), "tap", *args])


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--listen", "nowhere", "--gateway", "127.0.0.1:1", "--out", "x"], "expected host:port"),
        (["--listen", "127.0.0.1:0", "--gateway", "127.0.0.1:0", "--out", "x"], "not 0"),
        (["--listen", "127.0.0.1:0", "--gateway", "127.0.0.1:99999", "--out", "x"], "0..65535"),
        (["--listen", "127.0.0.1:0", "--gateway", "127.0.0.1:4002"], "--out"),
        (
            [
                "--listen",
                "[::1]:0",
                "--gateway",
                "127.0.0.1:1",
                "--out",
                "x",
                "--progress-every",
                "0",
            ],
            "must be > 0",
        ),
        (
            ["--listen", "127.0.0.1:0", "--gateway", "127.0.0.1:1", "--out", "/no/such/d/f"],
            "cannot write",
        ),
    ],
)
def test_bad_flags_exit_2_saying_why(procs: Processes, args: list[str], problem: str) -> None:
    proc = tap(procs, *args)
    _, err = proc.communicate(timeout=DEADLINE)
    assert proc.returncode == 2
    assert problem in err.decode()


def bus_view(messages: list[Message]) -> dict[str, list[dict[str, Any]]]:
    """Per topic, every message without the keys that differ between runs. Heartbeats and the
    publisher and gateway statuses are left out: they tell of this process and its dialling
    (the sid, connection retries before the gateway was up), not of the recorded session; they
    share the status topic with the instrument statuses, whose ``seq`` they therefore shift.
    Instrument statuses are compared per instrument: answers to different requests may
    interleave differently (their recorded offsets are kept per request)."""
    view: dict[str, list[dict[str, Any]]] = {}
    for m in messages:
        if m["type"] == "hb" or (m["type"] == "status" and m["scope"] != "instrument"):
            continue
        status = m["type"] == "status"
        drop = (*VOLATILE, "seq") if status else VOLATILE
        stream = f"{m['topic']} {m['key']}" if status else m["topic"]
        view.setdefault(stream, []).append({k: v for k, v in m.items() if k not in drop})
    return view


def enough_ticks(listener: Listener) -> bool:
    return all(len(listener.ticks(k)) >= TICKS_EACH for k in THREE_KEYS)


def run_publisher(procs: Processes, publisher: Publisher) -> subprocess.Popen[bytes]:
    return procs.start([str(BIN / "ibpub"), "run", "--config", str(publisher.config_file())])


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=DEADLINE) == 0


def test_record_through_the_tap_then_replay_gives_the_same_bus_output(
    stack: Stack, procs: Processes, tmp_path: Path
) -> None:
    out = tmp_path / "session.tap"
    publisher = stack.publisher_for(name="tapped", client_id=9, instruments=THREE)
    # 1. record: the publisher dials the tap (on the stack's gateway port), the tap the sim
    live_run = run_publisher(procs, publisher)
    live = stack.listen()
    sim_port = free_port()
    procs.start([str(BIN / "ibpub"), "sim", "--port", str(sim_port), "--rate", "90", "--seed", "3"])
    wait_for(lambda: port_open(sim_port), "the simulator to listen")
    recorder = tap(
        procs,
        "--listen",
        f"127.0.0.1:{stack.gateway_port}",
        "--gateway",
        f"127.0.0.1:{sim_port}",
        "--out",
        str(out),
        "--progress-every",
        "0.5",
    )
    progress = LineReader(recorder.stderr)
    live.until(lambda _: enough_ticks(live), f"{TICKS_EACH} ticks of each instrument")
    progress.until(lambda lines: any("gateway->client" in line for line in lines))
    stop(live_run)
    live.until(status_seen("publisher", "stopping"), "the publisher to stop")
    live.pump(0.5)
    stop(recorder)  # SIGTERM: the file is flushed and closed
    lines = progress.rest()
    assert any("stopped: 1 sessions" in line for line in lines), lines[-3:]
    records = list(decode(out.read_bytes()))
    assert records[0].kind == OPEN and records[-1].kind == CLOSE
    assert load_recording(out).server_version >= 201  # the sim's newest, protobuf

    # 2. replay into a fresh publisher with the same configuration
    replay_run = run_publisher(procs, publisher)
    replayed = stack.listen()
    procs.start(
        [str(BIN / "ibpub"), "sim", "--port", str(stack.gateway_port), "--replay", str(out)]
    )
    wait_for(lambda: port_open(stack.gateway_port), "the replay to listen")
    replayed.until(lambda _: enough_ticks(replayed), f"{TICKS_EACH} replayed ticks of each")

    stopping = next(
        i
        for i, m in enumerate(live.messages)
        if m["type"] == "status" and m["scope"] == "publisher" and m["state"] == "stopping"
    )
    want = bus_view(live.messages[:stopping])
    assert sum(len(v) for k, v in want.items() if k.startswith("tick.")) >= 3 * TICKS_EACH
    replayed.until(
        lambda m: all(len(bus_view(m).get(t, [])) >= len(v) for t, v in want.items()),
        "the recorded span replayed",
    )
    got = bus_view(replayed.messages)
    for topic, messages in want.items():
        assert got[topic][: len(messages)] == messages, topic
    assert replay_run.poll() is None


def session_closed(prefix: str, lines: list[str]) -> bool:
    return any(prefix in line and "closed by client" in line for line in lines)


def test_each_connection_is_a_session_and_a_dead_gateway_closes_only_the_client(
    stack: Stack, procs: Processes, tmp_path: Path
) -> None:
    out = tmp_path / "two.tap"
    stack.start_gateway(rate=0)
    listen = free_port()
    recorder = tap(
        procs,
        "--listen",
        f"127.0.0.1:{listen}",
        "--gateway",
        f"127.0.0.1:{stack.gateway_port}",
        "--out",
        str(out),
    )
    progress = LineReader(recorder.stderr)
    progress.until(lambda lines: any("listening on" in line for line in lines))
    for client_id in (1, 2):
        client = RawClient(listen)
        client.handshake()
        client.start_api(client_id)
        client.next_frame()  # managed accounts: the gateway answered through the tap
        client.close()
        progress.until(partial(session_closed, f"session {client_id} "))
    stack.gateway.stop()
    refused = RawClient(listen)
    assert refused.read_until_closed() == b""
    refused.close()
    progress.until(lambda lines: any("refused" in line for line in lines))
    assert recorder.poll() is None
    stop(recorder)
    assert any("stopped: 2 sessions" in line for line in progress.rest())
    sessions = {r.session for r in decode(out.read_bytes())}
    assert sessions == {1, 2}
    for number in sessions:
        recording = load_recording(out, session=number)
        first = next(f for f in recording.frames if f.from_client)
        assert parse_request(first.payload, recording.server_version) == StartApi(number)
