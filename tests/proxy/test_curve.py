"""CURVE on both sides of ``ibpub proxy``, as an operator runs it: keys from ``ibpub keys``, a
CURVE publisher, ``ibpub proxy`` processes, subscribers through the proxy.

Key sets (each an ``ibpub keys --out`` directory):

* ``publisher``: the publisher's server pair; client ``proxy`` is the proxy's key toward it;
* ``proxy``: the proxy's own server pair; client ``alice`` is a subscriber it admits;
* ``other``: a server pair and client ``mallory`` nobody authorised (a wrong server key and an
  unauthorised client key).

A refusal is proved against a control that succeeds at the same time: the authorised path
receives, the refused one has then received nothing and the proxy has counted the refusal.
"""

import logging
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import zmq
import zmq.auth

from publisher.cli import build_parser
from publisher.proxy import ProxySettings, settings_from_args
from publisher.proxy.security import ProxySecurity
from subscribers.client import Subscriber
from subscribers.curve import CurveKeys
from tests.deploy.files import SYSTEMD, unit_command, unit_file
from tests.support.metrics import http_get, samples
from tests.support.processes import BIN, Processes, free_port, processes
from tests.support.stack import Publisher, Stack
from tests.support.waiting import DEADLINE, wait_for

ENOUGH = 30
"""Messages the authorised subscriber must receive before the refused ones are checked."""


def make_keys(directory: Path, client: str) -> Path:
    """``ibpub keys --out directory --client client``, as a user runs it."""
    done = subprocess.run(
        [str(BIN / "ibpub"), "keys", "--out", str(directory), "--client", client],
        capture_output=True,
        timeout=DEADLINE,
    )
    assert done.returncode == 0, done.stderr
    return directory


@dataclass(frozen=True, slots=True)
class Keys:
    publisher: Path
    proxy: Path
    other: Path

    def upstream_flags(self) -> list[str]:
        """The right upstream flags: the publisher's server key, the proxy's client pair."""
        return [
            "--upstream-curve-server-key",
            str(self.publisher / "server.key"),
            "--upstream-curve-client-key",
            str(self.publisher / "clients/proxy.key_secret"),
        ]

    def downstream_flags(self) -> list[str]:
        return [
            "--curve-secret-key",
            str(self.proxy / "server.key_secret"),
            "--curve-authorized-keys",
            str(self.proxy / "authorized"),
        ]

    def alice(self) -> CurveKeys:
        return CurveKeys.from_files(
            str(self.proxy / "server.key"), str(self.proxy / "clients/alice.key_secret")
        )


class RunningProxy:
    """An ``ibpub proxy`` process on free loopback ports."""

    def __init__(self, procs: Processes, upstream: str, *flags: str) -> None:
        self.endpoint = f"tcp://127.0.0.1:{free_port()}"
        self.metrics_listen = f"127.0.0.1:{free_port()}"
        self.proc = procs.start(
            [
                str(BIN / "ibpub"),
                "proxy",
                "--upstream",
                upstream,
                "--bind",
                self.endpoint,
                "--metrics-listen",
                self.metrics_listen,
                *flags,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def metric(self, name: str) -> float | None:
        """One unlabelled sample from /metrics, ``None`` while the proxy is not serving."""
        try:
            status, text = http_get(f"http://{self.metrics_listen}/metrics", timeout=5)
        except OSError:
            return None
        assert status == 200
        return samples(text).get((name, frozenset()))


@dataclass
class Setup:
    keys: Keys
    procs: Processes
    publisher: Publisher
    proxy: RunningProxy
    """The proxy with the right keys on both sides."""
    context: zmq.Context[Any]

    def subscriber(self, proxy: RunningProxy, curve: CurveKeys | None) -> Subscriber:
        return Subscriber(proxy.endpoint, prefixes=[""], curve=curve, context=self.context)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("proxy-curve")
    keys = Keys(
        publisher=make_keys(root / "publisher", "proxy"),
        proxy=make_keys(root / "proxy", "alice"),
        other=make_keys(root / "other", "mallory"),
    )
    stack = Stack(root)
    context: zmq.Context[Any] = zmq.Context()
    try:
        stack.start_gateway(rate=200)
        publisher = stack.start_publisher(
            bus={
                "curve_secret_key": str(keys.publisher / "server.key_secret"),
                "curve_authorized_keys": str(keys.publisher / "authorized"),
            }
        )
        with processes() as procs:
            proxy = RunningProxy(
                procs, publisher.endpoint, *keys.upstream_flags(), *keys.downstream_flags()
            )
            yield Setup(keys, procs, publisher, proxy, context)
    finally:
        context.destroy(linger=0)
        stack.close()


def drain(sub: Subscriber, budget: float = 0.0) -> int:
    """Messages waiting on ``sub`` (waiting up to ``budget`` s for the first)."""
    count = 0
    while sub.recv(timeout=budget) is not None:
        count += 1
        budget = 0
    return count


def receive(sub: Subscriber, what: str) -> None:
    """Wait until ``sub`` has received :data:`ENOUGH` messages."""
    got = [0]

    def enough() -> bool:
        got[0] += drain(sub, 0.1)
        return got[0] >= ENOUGH

    wait_for(enough, what, every=0)


def test_an_authorised_subscriber_receives_through_the_proxy_from_a_curve_publisher(
    setup: Setup,
) -> None:
    """alice receives the CURVE publisher's ticks through the CURVE proxy; a key the proxy
    never authorised, one with the publisher's server key, and a plain client get nothing."""
    keys = setup.keys
    alice = keys.alice()
    mallory = CurveKeys.from_files(
        str(keys.proxy / "server.key"), str(keys.other / "clients/mallory.key_secret")
    )
    publisher_server, _ = zmq.auth.load_certificate(keys.publisher / "server.key")
    wrong_server = CurveKeys(publisher_server, alice.public, alice.secret)
    refused = [setup.subscriber(setup.proxy, curve) for curve in (mallory, wrong_server, None)]
    try:
        with setup.subscriber(setup.proxy, alice) as good:
            receive(good, "alice to receive through the proxy")
            assert good.stats.malformed == 0
        assert [drain(sub) for sub in refused] == [0, 0, 0]
    finally:
        for sub in refused:
            sub.close()
    assert setup.proxy.metric("ibpub_proxy_upstreams_connected") == 1
    assert setup.proxy.metric("ibpub_proxy_upstream_refusals_total") == 0


@pytest.mark.parametrize(
    "upstream",
    ["no keys", "a wrong server key", "an unauthorised client key"],
)
def test_a_proxy_without_the_publishers_keys_receives_nothing(setup: Setup, upstream: str) -> None:
    """A proxy whose upstream side has no CURVE, the wrong server key or a client key the
    publisher does not authorise counts its link refused and forwards nothing, while the
    right proxy streams."""
    keys = setup.keys
    flags = {
        "no keys": [],
        "a wrong server key": [
            "--upstream-curve-server-key",
            str(keys.other / "server.key"),
            "--upstream-curve-client-key",
            str(keys.publisher / "clients/proxy.key_secret"),
        ],
        "an unauthorised client key": [
            "--upstream-curve-server-key",
            str(keys.publisher / "server.key"),
            "--upstream-curve-client-key",
            str(keys.other / "clients/mallory.key_secret"),
        ],
    }[upstream]
    bad = RunningProxy(setup.procs, setup.publisher.endpoint, *flags)
    with (
        setup.subscriber(bad, None) as behind_bad,
        setup.subscriber(setup.proxy, keys.alice()) as control,
    ):
        wait_for(
            lambda: (bad.metric("ibpub_proxy_upstream_refusals_total") or 0) >= 1,
            "the bad proxy to be refused",
        )
        receive(control, "the right proxy to stream meanwhile")
        assert drain(behind_bad) == 0
    assert bad.metric("ibpub_proxy_messages_forwarded_total") == 0
    assert bad.metric("ibpub_proxy_upstreams_connected") == 0


def test_a_refused_proxy_streams_once_its_key_is_authorised(
    setup: Setup, stack: Stack, procs: Processes
) -> None:
    """libzmq gives up on a link whose key was refused; the proxy dials it again, so
    authorising its key and restarting the publisher is enough: no proxy restart."""
    keys = setup.keys
    authorized = stack.directory / "authorized"
    authorized.mkdir()
    stack.start_gateway(rate=200)
    publisher = stack.start_publisher(
        bus={
            "curve_secret_key": str(keys.publisher / "server.key_secret"),
            "curve_authorized_keys": str(authorized),
        }
    )
    proxy = RunningProxy(procs, publisher.endpoint, *keys.upstream_flags())
    with setup.subscriber(proxy, None) as sub:
        wait_for(
            lambda: (proxy.metric("ibpub_proxy_upstream_refusals_total") or 0) >= 1,
            "the proxy's key to be refused",
        )
        shutil.copy(keys.publisher / "authorized/proxy.key", authorized / "proxy.key")
        publisher.restart()  # the publisher reads its authorised keys at start
        receive(sub, "messages once the proxy's key is authorised")
    assert proxy.metric("ibpub_proxy_upstreams_connected") == 1


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--curve-secret-key", "{proxy}/server.key_secret"], "--curve-authorized-keys"),
        (["--curve-authorized-keys", "{proxy}/authorized"], "--curve-secret-key"),
        (["--upstream-curve-server-key", "{publisher}/server.key"], "--upstream-curve-client-key"),
        (
            ["--upstream-curve-client-key", "{publisher}/clients/proxy.key_secret"],
            "--upstream-curve-server-key",
        ),
        (  # a public key where the secret pair is needed
            [
                "--curve-secret-key",
                "{proxy}/server.key",
                "--curve-authorized-keys",
                "{proxy}/authorized",
            ],
            "--curve-secret-key",
        ),
        (  # a file where the directory is needed
            [
                "--curve-secret-key",
                "{proxy}/server.key_secret",
                "--curve-authorized-keys",
                "{proxy}/server.key",
            ],
            "--curve-authorized-keys",
        ),
        (
            [
                "--upstream-curve-server-key",
                "{publisher}/missing.key",
                "--upstream-curve-client-key",
                "{publisher}/clients/proxy.key_secret",
            ],
            "--upstream-curve-server-key",
        ),
        (
            [
                "--upstream-curve-server-key",
                "{publisher}/server.key",
                "--upstream-curve-client-key",
                "{publisher}/authorized/proxy.key",
            ],
            "--upstream-curve-client-key",
        ),
        (
            ["--curve-secret-key", "", "--curve-authorized-keys", "{proxy}/authorized"],
            "--curve-secret-key",
        ),
    ],
)
def test_bad_curve_flags_exit_2_naming_the_flag(
    setup: Setup, procs: Processes, flags: list[str], named: str
) -> None:
    """``ibpub proxy`` with half a key pair or a wrong kind of file exits 2 naming the flag,
    before it binds anything."""
    where = {"proxy": str(setup.keys.proxy), "publisher": str(setup.keys.publisher)}
    argv = [flag.format(**where) for flag in flags]
    bind = f"tcp://127.0.0.1:{free_port()}"
    proxy = procs.start(
        [str(BIN / "ibpub"), "proxy", "--upstream", "tcp://127.0.0.1:7700", "--bind", bind, *argv]
    )
    _, err = proxy.communicate(timeout=DEADLINE)
    assert proxy.returncode == 2, err
    message = err.decode()
    assert re.search(rf"error: .*{re.escape(named)}:", message), message


def test_exposed_sides_without_curve_are_warned_about(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    """A bind beyond the host and a remote upstream each warn without CURVE, and not with it."""
    keys = setup.keys
    args = build_parser().parse_args(
        ["proxy", "--upstream", "tcp://10.0.0.11:7700", "--bind", "tcp://0.0.0.0:7700"]
    )
    plain = settings_from_args(args)
    secured = ProxySettings(
        upstreams=plain.upstreams,
        binds=plain.binds,
        curve_secret_key=str(keys.proxy / "server.key_secret"),
        curve_authorized_keys=str(keys.proxy / "authorized"),
        upstream_curve_server_key=str(keys.publisher / "server.key"),
        upstream_curve_client_key=str(keys.publisher / "clients/proxy.key_secret"),
    )
    with caplog.at_level(logging.WARNING, logger="publisher.proxy"):
        ProxySecurity.from_settings(plain).warn_if_exposed(plain.binds, plain.upstreams)
    warned = [record.getMessage() for record in caplog.records]
    assert len(warned) == 2
    assert "--curve-secret-key" in warned[0]
    assert "--upstream-curve-server-key" in warned[1]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="publisher.proxy"):
        ProxySecurity.from_settings(secured).warn_if_exposed(secured.binds, secured.upstreams)
    assert caplog.records == []


def test_the_unit_with_the_example_curve_lines_passes_the_keys() -> None:
    """The commented CURVE lines of proxy.env.example, uncommented, reach `ibpub proxy` as the
    four CURVE flags (and the unit still parses without them: tests/deploy)."""
    unit = unit_file(SYSTEMD / "ibpub-proxy.service")
    (command,) = unit["Service"]["ExecStart"]
    env: dict[str, str] = {}
    for line in (SYSTEMD / "proxy.env.example").read_text().splitlines():
        found = re.fullmatch(r"#? ?([A-Z_][A-Z0-9_]*)=(.*)", line)
        if found:
            env[found[1]] = found[2]
    args = build_parser().parse_args(unit_command(command, env)[1:])
    settings = settings_from_args(args)
    assert settings.curve and settings.upstream_curve
    assert settings.curve_secret_key == "/etc/ibpub/keys/proxy/server.key_secret"
    assert settings.curve_authorized_keys == "/etc/ibpub/keys/proxy/authorized"
    assert settings.upstream_curve_server_key == "/etc/ibpub/keys/publisher/server.key"
    assert settings.upstream_curve_client_key == (
        "/etc/ibpub/keys/publisher/clients/proxy.key_secret"
    )
