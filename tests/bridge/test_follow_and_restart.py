"""``ibsub replay --follow`` across the seam, and a bridge killed and restarted mid-stream."""

import json
import signal
from collections import defaultdict
from pathlib import Path

import msgspec

from tests.bridge.servers import (
    NatsServer,
    bridge_toml,
    metric_total,
    read_stream,
    start_bridge,
)
from tests.support.processes import BIN, LineReader, Processes
from tests.support.stack import Stack
from tests.support.waiting import wait_for


def _acked(config: Path) -> float:
    return metric_total(config, "ibpub_bridge_acknowledged_total")


def test_follow_carries_on_live_with_no_gap_and_no_duplicate_at_the_seam(
    stack: Stack, tmp_path: Path, procs: Processes
) -> None:
    """History first, then live on the same consumer: each tick topic's seqs run on by one."""
    stack.start_gateway(rate=400.0)
    publisher = stack.start_publisher()
    stack.wait_streaming()
    server = NatsServer(procs, tmp_path / "js").start()
    config = bridge_toml(tmp_path, publisher.endpoint, [server.url])
    start_bridge(procs, config)
    wait_for(lambda: _acked(config) >= 300, "300 messages stored")
    stored_then = _acked(config)
    args = ["replay", "--nats", server.url, "--since", "-10m", "--follow", "--json", "tick."]
    replay = procs.start([str(BIN / "ibsub"), *args])
    reader = LineReader(replay.stdout)
    # well past what was stored when it started: the seam is behind us
    reader.until(lambda lines: len(lines) >= stored_then + 600, timeout=60)
    replay.kill()
    seqs: dict[str, list[int]] = defaultdict(list)
    for line in reader.lines:
        msg = json.loads(line)
        assert msg["type"] == "tick"
        seqs[msg["topic"]].append(msg["seq"])
    assert seqs
    for topic, run in seqs.items():
        assert run == list(range(run[0], run[0] + len(run))), topic


def test_a_bridge_killed_and_restarted_stores_no_duplicate_and_a_gap_for_the_span(
    stack: Stack, tmp_path: Path, procs: Processes
) -> None:
    """SIGKILL mid-stream, then a new bridge: no Msg-Id twice, and every hole in a topic's
    seqs is covered exactly by a stored gap message."""
    stack.start_gateway(rate=400.0)
    publisher = stack.start_publisher()
    stack.wait_streaming()
    server = NatsServer(procs, tmp_path / "js").start()
    config = bridge_toml(tmp_path, publisher.endpoint, [server.url])
    first = start_bridge(procs, config)
    wait_for(lambda: _acked(config) >= 300, "300 messages stored")
    first.kill()
    first.wait(10)
    second = start_bridge(procs, config)
    wait_for(lambda: _acked(config) >= 300, "300 more messages stored by the second bridge")
    second.send_signal(signal.SIGTERM)
    assert second.wait(30) == 0
    stored = read_stream(server.url)
    ids = [m.msg_id for m in stored]
    assert len(set(ids)) == len(ids)
    seqs: dict[str, list[int]] = defaultdict(list)
    covered: dict[str, set[int]] = defaultdict(set)
    for m in stored:
        body = msgspec.msgpack.decode(m.data)
        if body.get("type") == "gap":
            covered[body["topic"]].update(range(body["from_seq"], body["to_seq"] + 1))
        else:
            seqs[m.subject.removeprefix(f"ibpub.{body['pub']}.")].append(body["seq"])
    for topic, run in seqs.items():
        if not topic.startswith("tick."):
            continue
        assert run == sorted(run), topic
        holes = set(range(run[0], run[-1] + 1)) - set(run)
        assert holes == covered[topic], topic
    assert any(covered.values()), "the span while no bridge ran is stored as a gap"
