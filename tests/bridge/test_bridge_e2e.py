"""``ibpub bridge`` between a real publisher and a real nats-server with JetStream."""

import json
import signal
from collections import defaultdict
from pathlib import Path

import msgspec

from tests.bridge.servers import NatsServer, bridge_toml, read_stream, start_bridge
from tests.support.metrics import http_get, samples
from tests.support.processes import BIN, LineReader, Processes
from tests.support.stack import Stack
from tests.support.waiting import wait_for


def _acked(listen: str) -> float:
    try:
        status, text = http_get(f"http://{listen}/metrics")
    except OSError:
        return 0.0
    found = samples(text) if status == 200 else {}
    return sum(v for (name, _), v in found.items() if name == "ibpub_bridge_acknowledged_total")


def _listen_of(config: Path) -> str:
    line = next(ln for ln in config.read_text().splitlines() if ln.startswith("listen"))
    return line.split('"')[1]


def test_bridge_stores_every_bus_message_once_with_its_msg_id(
    stack: Stack, tmp_path: Path, procs: Processes
) -> None:
    """Every message the bridge received is stored once, on ibpub.<pub>.<topic>, with the
    contract's Nats-Msg-Id, and each topic's seqs run without a hole or a repeat."""
    stack.start_gateway(rate=400.0)
    publisher = stack.start_publisher()
    stack.wait_streaming()
    server = NatsServer(procs, tmp_path / "js").start()
    config = bridge_toml(tmp_path, publisher.endpoint, [server.url])
    bridge = start_bridge(procs, config)
    listen = _listen_of(config)
    live = stack.listen()  # a live subscriber beside the bridge
    wait_for(lambda: _acked(listen) >= 500, "500 messages acknowledged", timeout=60)
    live.until(lambda msgs: len(msgs) >= 300, "300 live messages")
    bridge.send_signal(signal.SIGTERM)
    assert bridge.wait(30) == 0, LineReader(bridge.stderr).rest(5)
    stored = read_stream(server.url)
    assert len(stored) >= 500
    ids = [m.msg_id for m in stored]
    assert len(set(ids)) == len(ids)
    seqs: dict[str, list[int]] = defaultdict(list)
    for m in stored:
        head = msgspec.msgpack.decode(m.data)
        topic = m.subject.removeprefix(f"ibpub.{head['pub']}.")
        assert m.msg_id == f"{head['pub']}:{head['sid']}:{topic}:{head['seq']}"
        seqs[topic].append(head["seq"])
    assert any(t.startswith("tick.") for t in seqs)
    for topic, run in seqs.items():
        assert run == list(range(run[0], run[0] + len(run))), topic

    replay = procs.start(
        [str(BIN / "ibsub"), "replay", "--nats", server.url, "--since", "-10m", "--json", "tick."]
    )
    out, errors = replay.communicate(timeout=60)
    assert replay.returncode == 0, errors
    lines = [json.loads(line) for line in out.decode().splitlines()]
    replayed = [(m["topic"], m["seq"]) for m in lines]
    expected = [(t, s) for t, run in seqs.items() if t.startswith("tick.") for s in run]
    assert sorted(replayed) == sorted(expected)
    assert all(m["type"] == "tick" for m in lines)
    # what the live subscriber saw while the bridge ran is exactly what replay returns there
    live.pump(0.2)
    seen: dict[str, set[int]] = defaultdict(set)
    for msg in live.ticks():
        seen[msg["topic"]].add(msg["seq"])
    compared = 0
    for topic, run in seqs.items():
        if not topic.startswith("tick.") or topic not in seen:
            continue
        low, high = max(run[0], min(seen[topic])), min(run[-1], max(seen[topic]))
        window = set(range(low, high + 1))
        assert seen[topic] & window == {s for t, s in replayed if t == topic} & window, topic
        compared += len(window)
    assert compared >= 100
