"""The bridge against a 3-node JetStream cluster on loopback with a replicated (R3) stream."""

import signal
import sys
from collections import defaultdict
from pathlib import Path

import msgspec

from tests.bridge.servers import Cluster, bridge_toml, metric_total, read_stream, start_bridge
from tests.support.processes import LineReader, Processes
from tests.support.stack import Stack
from tests.support.waiting import wait_for

RATE = 6000.0
"""Ticks per second from the simulated gateway: the contract asks for at least 5k messages/s."""


def _acked(config: Path) -> float:
    return metric_total(config, "ibpub_bridge_acknowledged_total")


def test_r3_stream_survives_one_node_killed_and_all_restarted(
    stack: Stack, tmp_path: Path, procs: Processes
) -> None:
    """One node killed while copying: nothing acknowledged is lost or stored twice, copying
    goes on; all three restarted: the bridge recovers and every hole is a stored gap."""
    stack.start_gateway(rate=RATE)
    publisher = stack.start_publisher()
    stack.wait_streaming()
    cluster = Cluster(procs, tmp_path).start()
    assert cluster.nodes is not None
    config = bridge_toml(tmp_path, publisher.endpoint, cluster.urls, replicas=3)
    bridge = start_bridge(procs, config)
    wait_for(lambda: _acked(config) >= 5000, "5000 acknowledged", timeout=90)
    cluster.nodes[1].kill()
    after_kill = _acked(config)
    wait_for(lambda: _acked(config) >= after_kill + 5000, "copying with two nodes", timeout=90)
    for node in cluster.nodes:
        node.kill()
    for node in cluster.nodes:
        node.start()
    after_restart = _acked(config)
    wait_for(lambda: _acked(config) >= after_restart + 5000, "copying after restart", timeout=120)
    received = metric_total(config, "ibpub_bridge_received_total")
    bridge.send_signal(signal.SIGTERM)
    assert bridge.wait(60) == 0, LineReader(bridge.stderr).rest(5)
    stored = read_stream(cluster.urls[0])
    ids = [m.msg_id for m in stored]
    assert len(set(ids)) == len(ids)
    present: dict[str, set[int]] = defaultdict(set)
    covered: dict[str, set[int]] = defaultdict(set)
    for m in stored:
        body = msgspec.msgpack.decode(m.data)
        if body.get("type") == "gap":
            covered[body["topic"]].update(range(body["from_seq"], body["to_seq"] + 1))
        else:
            present[m.subject.removeprefix(f"ibpub.{body['pub']}.")].add(body["seq"])
    lost = 0
    for topic, seqs in present.items():
        span = set(range(min(seqs), max(seqs) + 1))
        assert span - seqs == covered[topic] & span, topic
        assert not covered[topic] & seqs, topic
        lost += len(span - seqs)
    print(
        f"cluster: received {received:.0f}, stored {len(stored)}, gaps cover {lost}",
        file=sys.stderr,
    )
