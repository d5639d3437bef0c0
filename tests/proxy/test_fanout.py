"""Fan-out as an operator runs it: ``ibpub sim``, two ``ibpub run`` and ``ibpub proxy`` processes.

Each publisher has its own name, client id, bus port and share of the simulator's instruments;
the subscribers connect only to the proxy.
"""

import json
import signal
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from subscribers.client import Subscriber
from subscribers.wire import Message
from tests.support.config import AAPL, ESZ6, EURUSD, MSFT
from tests.support.processes import BIN, LineReader, Processes, free_port, processes
from tests.support.stack import Publisher, Stack
from tests.support.waiting import DEADLINE, wait_for

ALPHA_KEYS = {"AAPL", "MSFT"}
BETA_KEYS = {"ESZ6", "EUR.USD"}


class Fanout:
    """One simulator, publishers ``alpha`` and ``beta``, and a proxy in front of both."""

    def __init__(self, procs: Processes, stack: Stack) -> None:
        self.procs = procs
        self.stack = stack
        self.configs: dict[str, Publisher] = {
            name: stack.publisher_for(
                name=name,
                client_id=client_id,
                instruments=instruments,
                bus={"heartbeat_interval": 0.5},
                metrics={"listen": f"127.0.0.1:{free_port()}"},
            )
            for name, client_id, instruments in (
                ("alpha", 21, (AAPL, MSFT)),
                ("beta", 22, (ESZ6, EURUSD)),
            )
        }
        self.proxy_endpoint = f"tcp://127.0.0.1:{free_port()}"
        self.proxy_metrics = f"127.0.0.1:{free_port()}"
        self.publishers: dict[str, Any] = {}
        self.proxy: Any = None

    def start(self) -> None:
        self.stack.start_gateway_process(self.procs, 200)
        for name in self.configs:
            self.start_publisher(name)
        self.proxy = self.procs.start(
            [
                str(BIN / "ibpub"),
                "proxy",
                "--upstream",
                *(config.endpoint for config in self.configs.values()),
                "--bind",
                self.proxy_endpoint,
                "--metrics-listen",
                self.proxy_metrics,
            ]
        )

    def start_publisher(self, name: str) -> Any:
        config = self.configs[name].config_file()
        proc = self.procs.start([str(BIN / "ibpub"), "run", "--config", str(config)])
        self.publishers[name] = proc
        return proc

    def subscribe(self, *prefixes: str) -> Subscriber:
        return Subscriber(self.proxy_endpoint, prefixes=prefixes or ("",))


@pytest.fixture(scope="module")
def fanout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fanout]:
    stack = Stack(tmp_path_factory.mktemp("fanout"))
    try:
        with processes() as procs:
            running = Fanout(procs, stack)
            running.start()
            yield running
    finally:
        stack.close()


def _receive_until(sub: Subscriber, done: Any, what: str) -> list[Message]:
    """Messages from ``sub`` until ``done(messages)`` holds; fails after the deadline."""
    seen: list[Message] = []

    def step() -> bool:
        msg = sub.recv(timeout=0.5)
        if msg is not None:
            seen.append(msg)
        return bool(done(seen))

    wait_for(step, what, every=0)
    return seen


def _tick_keys(messages: list[Message], publisher: str) -> set[str]:
    return {m.key for m in messages if m.type == "tick" and m.pub == publisher}


def test_a_subscriber_on_the_proxy_receives_both_publishers(fanout: Fanout) -> None:
    """Ticks and heartbeats of both publishers arrive through the proxy, each under its name."""
    with fanout.subscribe() as sub:
        seen = _receive_until(
            sub,
            lambda got: (
                _tick_keys(got, "alpha") == ALPHA_KEYS
                and _tick_keys(got, "beta") == BETA_KEYS
                and {m.topic for m in got if m.type == "hb"} == {"hb.alpha", "hb.beta"}
            ),
            "every instrument and both heartbeats through the proxy",
        )
    assert {m.pub for m in seen} == {"alpha", "beta"}
    assert {m.topic for m in seen if m.type == "tick"} == {
        f"tick.{key}" for key in ALPHA_KEYS | BETA_KEYS
    }
    assert sub.stats.malformed == 0


def test_a_prefix_subscription_through_the_proxy_gets_only_that_topic(fanout: Fanout) -> None:
    """A subscriber to tick.AAPL on the proxy receives tick.AAPL and nothing else."""
    with fanout.subscribe("tick.AAPL") as sub:
        seen = _receive_until(sub, lambda got: len(got) >= 30, "30 tick.AAPL messages")
    assert {m.topic for m in seen} == {"tick.AAPL"}


def test_a_publisher_restart_behind_the_proxy_is_a_new_sid(fanout: Fanout) -> None:
    """Restarting publisher beta shows its topics under a new sid; alpha's sid is unchanged."""

    def sids(messages: list[Message], topic: str) -> set[int]:
        return {m.sid for m in messages if m.topic == topic}

    # One topic of each publisher, so the new sid is seen on a topic seen before the restart.
    with fanout.subscribe("tick.AAPL", "tick.ESZ6") as sub:
        before = _receive_until(
            sub,
            lambda got: sids(got, "tick.AAPL") and sids(got, "tick.ESZ6"),
            "ticks from both publishers",
        )
        (alpha_sid,) = sids(before, "tick.AAPL")
        (old_beta_sid,) = sids(before, "tick.ESZ6")

        fanout.publishers["beta"].send_signal(signal.SIGTERM)
        assert fanout.publishers["beta"].wait(timeout=DEADLINE) == 0
        fanout.start_publisher("beta")
        after = _receive_until(
            sub,
            lambda got: sids(got, "tick.ESZ6") - {old_beta_sid},
            "a tick.ESZ6 from the restarted publisher",
        )
        assert sub.stats.restarts >= 1
        assert sub.stats.gaps == 0  # a restart is not counted as loss
    assert sids(after, "tick.AAPL") <= {alpha_sid}


def test_the_proxy_reports_its_upstreams_and_traffic(fanout: Fanout) -> None:
    """/readyz is 200 and /metrics shows two upstreams connected and messages forwarded."""
    with fanout.subscribe("hb.") as sub:  # keeps traffic flowing whatever ran before
        _receive_until(sub, lambda got: len(got) >= 2, "heartbeats")

        def metrics() -> dict[str, float]:
            url = f"http://{fanout.proxy_metrics}/metrics"
            with urllib.request.urlopen(url, timeout=5) as response:
                text = response.read().decode()
            return {
                name: float(value)
                for name, _, value in (line.partition(" ") for line in text.splitlines())
                if name.startswith("ibpub_proxy_") and "{" not in name
            }

        got = wait_for(
            lambda: (m := metrics())["ibpub_proxy_upstreams_connected"] == 2 and m,
            "both upstreams connected",
        )
    assert got["ibpub_proxy_upstreams"] == 2
    assert got["ibpub_proxy_messages_forwarded_total"] > 0
    assert got["ibpub_proxy_subscription_messages_total"] > 0
    with urllib.request.urlopen(f"http://{fanout.proxy_metrics}/readyz", timeout=5) as response:
        assert response.status == 200
        assert json.loads(response.read())["ready"] is True


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_proxy_stops_cleanly_on_a_signal(signum: int) -> None:
    """SIGTERM or SIGINT makes ``ibpub proxy`` log its stop and exit 0."""
    metrics = f"127.0.0.1:{free_port()}"
    with processes() as procs:
        proxy = procs.start(
            [
                str(BIN / "ibpub"),
                "proxy",
                "--upstream",
                f"tcp://127.0.0.1:{free_port()}",
                "--bind",
                f"tcp://127.0.0.1:{free_port()}",
                "--metrics-listen",
                metrics,
            ]
        )
        err = LineReader(proxy.stderr)
        err.until(lambda lines: any("proxy started" in line for line in lines))
        proxy.send_signal(signum)
        assert proxy.wait(timeout=DEADLINE) == 0
        assert any("proxy stopped" in line for line in err.rest())


def test_a_bad_upstream_is_a_usage_error() -> None:
    """An endpoint without tcp:// or ipc:// exits 2 with a message naming --upstream."""
    with processes() as procs:
        proxy = procs.start(
            [str(BIN / "ibpub"), "proxy", "--upstream", "10.0.0.1:7700", "--bind", "tcp://*:0"]
        )
        assert proxy.wait(timeout=DEADLINE) == 2
        assert proxy.stderr is not None
        assert b"--upstream" in proxy.stderr.read()
