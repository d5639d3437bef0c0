"""docs/wire-protocol.md's control client runs as written against a real stack.

The 15-line client (pyzmq and msgpack only) asks a real publisher, fed by a real simulated
gateway, for NVDA on demand, reads ticks on the topic the reply names and gives NVDA back; the
publisher's own ``list`` then shows NVDA waiting out its grace with no holder, still on its
line, as the page says.
"""

import ast
import re
import subprocess
import sys
import tomllib
from typing import Any

import msgpack
import zmq

from tests.support.config import toml
from tests.support.paths import REPO
from tests.support.processes import free_port
from tests.support.stack import Publisher, Stack
from tests.support.waiting import DEADLINE, wait_for

DOC = REPO / "docs" / "wire-protocol.md"


def doc_block(name: str) -> str:
    """The fenced code block that follows ``<!-- test: name -->`` in docs/wire-protocol.md."""
    found = re.search(rf"<!-- test: {name} -->\s*```\w*\n(.*?)```", DOC.read_text(), re.S)
    assert found, f"no block {name!r} in {DOC}"
    return found.group(1)


class ControlledPublisher(Publisher):
    """The harness's publisher with its control socket on a free port of its own (never the
    default 7702 another process may hold), set the way a user sets it: ``[control] listen``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.control_at = f"tcp://127.0.0.1:{free_port()}"

    def config_text(self) -> str:
        document = tomllib.loads(super().config_text())
        instruments = document.pop("instruments", [])
        control = {**document.pop("control", {}), "listen": self.control_at}
        return toml({**document, "control": control}, instruments)


def ask(context: zmq.Context[Any], endpoint: str, request: dict[str, Any]) -> dict[str, Any]:
    """One request on a REQ socket, its reply (fails rather than hangs when none comes)."""
    req = context.socket(zmq.REQ)
    req.setsockopt(zmq.RCVTIMEO, int(DEADLINE * 1000))
    req.setsockopt(zmq.LINGER, 0)
    try:
        req.connect(endpoint)
        req.send(msgpack.packb(request))
        reply: dict[str, Any] = msgpack.unpackb(req.recv())
        return reply
    finally:
        req.close()


def test_documented_control_client_is_15_lines_of_pyzmq_and_msgpack() -> None:
    """The page promises a 15-line client that needs nothing but pyzmq and msgpack."""
    code = doc_block("example-control")
    assert len([line for line in code.splitlines() if line.strip()]) <= 15
    tree = ast.parse(code)
    modules = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert modules == {"sys", "msgpack", "zmq"}
    assert not any(isinstance(node, ast.ImportFrom) for node in ast.walk(tree))


def test_documented_control_client_gets_nvda_on_demand(stack: Stack) -> None:
    """The page's client subscribes NVDA, prints the reply and three NVDA ticks, unsubscribes;
    NVDA then has no holder but keeps its line through the grace period."""
    stack.start_gateway(rate=300)
    publisher = ControlledPublisher(stack.directory, stack.gateway_port)
    stack.publishers.append(publisher)  # stopped by the stack's teardown
    publisher.start()
    stack.wait_streaming()  # the configured instruments stream: the gateway session is up

    args = [sys.executable, "-c", doc_block("example-control")]
    done = subprocess.run(
        [*args, publisher.endpoint, publisher.control_at],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        cwd=REPO,
    )
    assert (done.returncode, done.stderr) == (0, "")
    first, *ticks, last = done.stdout.splitlines()

    reply = ast.literal_eval(first)
    assert (reply["v"], reply["ok"], reply["key"]) == (1, True, "NVDA")
    assert reply["topics"] == ["tick.NVDA"]
    assert isinstance(reply["conid"], int) and reply["conid"] > 0
    assert reply["state"] in ("pending", "subscribed")
    assert reply["lease_expires"] > 10**18  # nanoseconds since the epoch, not seconds
    assert len(ticks) == 3 and all(re.fullmatch(r"tick\.NVDA \w+", t) for t in ticks), ticks
    assert ast.literal_eval(last) == {"v": 1, "ok": True}

    listing = ask(stack.context, publisher.control_at, {"v": 1, "op": "list"})
    assert listing["ok"] is True
    (nvda,) = [entry for entry in listing["instruments"] if entry["key"] == "NVDA"]
    assert (nvda["pinned"], nvda["holders"], nvda["conid"]) == (False, [], reply["conid"])
    configured = [entry for entry in listing["instruments"] if entry["pinned"]]
    assert len(configured) == len(publisher.instruments)
    assert listing["lines_used"] == len(publisher.instruments) + 1  # NVDA, in its grace
    metrics = publisher.metrics
    wait_for(
        lambda: metrics.value("ibpub_lines_used") == listing["lines_used"],
        "ibpub_lines_used to agree with list",
    )

    def counted_ok() -> dict[str, float]:
        return {
            op: metrics.count("ibpub_control_requests_total", op=op, outcome="ok")
            for op in ("subscribe", "unsubscribe")
        }

    wait_for(lambda: counted_ok() == {"subscribe": 1, "unsubscribe": 1}, "both ops counted ok")
