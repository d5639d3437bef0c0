"""The Node.js example subscriber decodes the bus: the wire format needs no Python.

Runs ``subscribers/examples/node/subscriber.mjs`` (ZeroMQ's ``zeromq`` and ``@msgpack/msgpack``
from npm) against a real publisher. Its npm dependencies are installed here when missing; the
test is skipped only when the ``node`` binary itself is absent.
"""

import json
import shutil
import subprocess
from collections import defaultdict

import pytest

from tests.support.config import FOUR_KEYS, LIVE
from tests.support.paths import REPO
from tests.support.stack import Stack
from tests.support.waiting import DEADLINE

EXAMPLE = REPO / "subscribers" / "examples" / "node"
NPM_TIMEOUT = 600.0


@pytest.fixture(scope="module")
def node() -> str:
    """The node binary, with the example's npm dependencies installed."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("the node binary is not installed, so the Node.js example cannot run")
    installed = all((EXAMPLE / "node_modules" / p).is_dir() for p in ("zeromq", "@msgpack/msgpack"))
    if not installed:
        npm = shutil.which("npm")
        assert npm is not None, "node is installed but npm is not: cannot install the example"
        # npm ci installs exactly the versions in package-lock.json, from the registry.
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=EXAMPLE, check=True, timeout=NPM_TIMEOUT
        )
    return node


def test_node_subscriber_receives_and_decodes_ticks(node: str, stack: Stack) -> None:
    """The Node subscriber prints 40 contract-v1 ticks with exact 64-bit sids and in-order seqs."""
    stack.start_gateway(rate=300)
    live = stack.start_publisher(**LIVE)
    done = subprocess.run(
        [node, "subscriber.mjs", live.endpoint, "40"],
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )
    sid = live.sid
    live.stop()
    assert done.returncode == 0, done.stderr
    messages = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(messages) == 40
    seqs: dict[str, list[int]] = defaultdict(list)
    for msg in messages:
        assert (msg["v"], msg["type"], msg["pub"]) == (1, "tick", live.name)
        assert int(msg["sid"]) == sid  # a BigInt: above 2**53 and not rounded
        assert msg["key"] in FOUR_KEYS and msg["topic"] == f"tick.{msg['key']}"
        assert sum(k in msg for k in ("price", "size", "value")) == 1
        assert int(msg["ts"]) >= int(msg["ts_recv"])
        seqs[msg["topic"]].append(msg["seq"])
    for topic, got in seqs.items():
        assert got == list(range(got[0], got[0] + len(got))), topic
