"""NATS going away under a running bridge: buffered, reported, dropped oldest with a gap."""

import signal
from collections import defaultdict
from pathlib import Path

import msgspec

from tests.bridge.servers import NatsServer, bridge_toml, metric_total, read_stream, start_bridge
from tests.support.processes import Processes
from tests.support.stack import Stack
from tests.support.waiting import wait_for


def test_an_outage_longer_than_the_buffer_stores_the_loss_as_gaps_exactly(
    stack: Stack, tmp_path: Path, procs: Processes
) -> None:
    """While NATS is down the bridge reports itself disconnected and behind, drops the oldest
    past max_buffered, and once NATS is back every hole in a topic is covered by a stored gap
    and nothing stored is a gap (no loss claimed that did not happen)."""
    stack.start_gateway(rate=400.0)
    publisher = stack.start_publisher()
    stack.wait_streaming()
    server = NatsServer(procs, tmp_path / "js").start()
    config = bridge_toml(tmp_path, publisher.endpoint, [server.url], {"max_buffered": 200})
    bridge = start_bridge(procs, config)
    wait_for(lambda: metric_total(config, "ibpub_bridge_acknowledged_total") >= 200, "stored")
    wait_for(lambda: metric_total(config, "ibpub_bridge_nats_connected") == 1, "connected")
    server.kill()
    wait_for(lambda: metric_total(config, "ibpub_bridge_nats_connected") == 0, "disconnected")
    wait_for(lambda: metric_total(config, "ibpub_bridge_dropped_total") >= 100, "drops")
    assert metric_total(config, "ibpub_bridge_behind_messages") >= 150
    server.start()  # same port, same store
    wait_for(lambda: metric_total(config, "ibpub_bridge_nats_connected") == 1, "reconnected")
    acked = metric_total(config, "ibpub_bridge_acknowledged_total")
    wait_for(
        lambda: metric_total(config, "ibpub_bridge_acknowledged_total") >= acked + 300,
        "copying again",
    )
    bridge.send_signal(signal.SIGTERM)  # a stop stores what is queued or in flight first
    assert bridge.wait(60) == 0
    stored = read_stream(server.url)
    ids = [m.msg_id for m in stored]
    assert len(set(ids)) == len(ids)
    seqs: dict[str, set[int]] = defaultdict(set)
    covered: dict[str, set[int]] = defaultdict(set)
    for m in stored:
        body = msgspec.msgpack.decode(m.data)
        if body.get("type") == "gap":
            covered[body["topic"]].update(range(body["from_seq"], body["to_seq"] + 1))
        else:
            seqs[m.subject.removeprefix(f"ibpub.{body['pub']}.")].add(body["seq"])
    for topic, present in seqs.items():
        holes = set(range(min(present), max(present) + 1)) - present
        assert holes == covered[topic] & set(range(min(present), max(present) + 1)), topic
        assert not covered[topic] & present, topic
    assert sum(len(c) for c in covered.values()) >= 100
