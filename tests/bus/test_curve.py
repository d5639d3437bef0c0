"""CURVE on the publisher's PUB and snapshot sockets: who gets in, who does not, and warnings."""

import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq

from publisher.bus.curve import BusSecurity, exposed_endpoints
from publisher.commands.keys import generate_keys
from publisher.config import BusSettings
from publisher.errors import ConfigError
from subscribers.client import Subscriber
from subscribers.curve import ENV_CLIENT_KEY, ENV_SERVER_KEY, CurveKeys
from subscribers.snapshot import SnapshotError, fetch
from subscribers.wire import Tick
from tests.support.processes import BIN
from tests.support.stack import Publisher, live_publisher, start_gateway
from tests.support.waiting import DEADLINE, wait_for

REFUSED_WAIT = 1.0
"""How long a refused client is given to (not) get a snapshot reply, after an accepted one did."""


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("keys")
    generate_keys(directory, ["alice"])
    return directory


@pytest.fixture(scope="module")
def secured(keys: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Publisher]:
    """A CURVE publisher that authorises only alice."""
    gateway = start_gateway(rate=200)
    live = live_publisher(
        tmp_path_factory.mktemp("curve"),
        gateway.port,
        curve=(keys / "server.key_secret", keys / "authorized"),
    ).start()
    yield live
    live.stop()
    gateway.stop()


def alice(keys: Path) -> CurveKeys:
    return CurveKeys.from_files(str(keys / "server.key"), str(keys / "clients/alice.key_secret"))


def stranger(keys: Path) -> CurveKeys:
    """A well-formed key pair the publisher has never been told about."""
    public, secret = zmq.curve_keypair()
    return CurveKeys(alice(keys).server_public, public, secret)


def ticks_received(sub: Subscriber, budget: float) -> int:
    count = 0
    while (msg := sub.recv(timeout=budget)) is not None:
        count += isinstance(msg, Tick)
        budget = 0
    return count


def test_only_the_authorised_client_receives(secured: Publisher, keys: Path) -> None:
    """alice receives ticks; a stranger's key and a client without CURVE receive nothing."""
    context: zmq.Context[Any] = zmq.Context()
    try:
        others = [
            Subscriber(secured.endpoint, prefixes=["tick."], curve=stranger(keys), context=context),
            Subscriber(secured.endpoint, prefixes=["tick."], context=context),
        ]
        with Subscriber(
            secured.endpoint, prefixes=["tick."], curve=alice(keys), context=context
        ) as good:
            received = [0]

            def enough() -> bool:
                received[0] += ticks_received(good, 0.1)
                return received[0] >= 50

            wait_for(enough, "alice to receive 50 ticks")
        assert [ticks_received(sub, 0) for sub in others] == [0, 0]
        for sub in others:
            sub.close()
    finally:
        context.destroy(linger=0)


def test_snapshot_socket_obeys_the_same_rule(secured: Publisher, keys: Path) -> None:
    """alice gets a snapshot; a stranger and a client without CURVE get no reply at all."""
    wait_for(
        lambda: fetch(secured.snapshot_endpoint, curve=alice(keys), timeout=DEADLINE).tick_count,
        "alice's snapshot to hold ticks",
    )
    for curve in (stranger(keys), None):
        with pytest.raises(SnapshotError, match="no snapshot reply"):
            fetch(secured.snapshot_endpoint, curve=curve, timeout=REFUSED_WAIT)


def test_ibsub_takes_its_keys_from_the_environment(secured: Publisher, keys: Path) -> None:
    """``ibsub tail`` with IBSUB_CURVE_SERVER_KEY and IBSUB_CURVE_CLIENT_KEY set receives ticks."""
    env = {
        **os.environ,
        ENV_SERVER_KEY: str(keys / "server.key"),
        ENV_CLIENT_KEY: str(keys / "clients/alice.key_secret"),
    }
    done = subprocess.run(
        [str(BIN / "ibsub"), "tail", "--endpoint", secured.endpoint, "--count", "3", "tick."],
        env=env,
        capture_output=True,
        timeout=DEADLINE,
    )
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.decode().splitlines()) == 3


def test_ibsub_snapshot_takes_key_options(secured: Publisher, keys: Path) -> None:
    """``ibsub snapshot --curve-server-key --curve-client-key`` prints the publisher's state."""
    args = [
        str(BIN / "ibsub"),
        "snapshot",
        "--snapshot-endpoint",
        secured.snapshot_endpoint,
        "--curve-server-key",
        str(keys / "server.key"),
        "--curve-client-key",
        str(keys / "clients/alice.key_secret"),
    ]
    done = subprocess.run(args, capture_output=True, timeout=DEADLINE)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(b"snapshot of sid ")


def test_one_key_option_alone_is_a_usage_error(keys: Path) -> None:
    """A client key without the server key exits 2 and names what is missing."""
    args = [str(BIN / "ibsub"), "snapshot", "--curve-client-key", str(keys / "server.key")]
    done = subprocess.run(args, capture_output=True, timeout=DEADLINE)
    assert done.returncode == 2
    assert b"--curve-server-key" in done.stderr


# -- BusSecurity: configuration errors and warnings ------------------------------------------


def bus(**given: Any) -> BusSettings:
    return BusSettings(**given)


def start(settings: BusSettings) -> BusSecurity:
    context: zmq.Context[Any] = zmq.Context()
    try:
        return BusSecurity.start(settings, context, "test.toml")
    finally:
        context.term()


def test_missing_secret_key_file_is_a_config_error(tmp_path: Path, keys: Path) -> None:
    """A secret key path that is not a file names the setting and says how to make one."""
    settings = bus(
        curve_secret_key=str(tmp_path / "nope"), curve_authorized_keys=str(keys / "authorized")
    )
    with pytest.raises(ConfigError) as caught:
        start(settings)
    assert (caught.value.file, caught.value.key) == ("test.toml", "bus.curve_secret_key")
    assert "ibpub keys" in caught.value.problem


def test_public_key_given_as_secret_is_a_config_error(keys: Path) -> None:
    """Pointing curve_secret_key at the public server.key is refused with a hint."""
    settings = bus(
        curve_secret_key=str(keys / "server.key"), curve_authorized_keys=str(keys / "authorized")
    )
    with pytest.raises(ConfigError, match="key_secret"):
        start(settings)


def test_missing_authorised_directory_is_a_config_error(tmp_path: Path, keys: Path) -> None:
    """curve_authorized_keys must name a directory."""
    settings = bus(
        curve_secret_key=str(keys / "server.key_secret"), curve_authorized_keys=str(tmp_path / "x")
    )
    with pytest.raises(ConfigError) as caught:
        start(settings)
    assert caught.value.key == "bus.curve_authorized_keys"


def test_exposed_endpoint_without_curve_logs_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    """Binding 0.0.0.0 without CURVE is allowed but warned about, naming the endpoint."""
    with caplog.at_level(logging.WARNING, logger="publisher.bus.curve"):
        start(bus(pub=("tcp://0.0.0.0:7700",)))
    (record,) = caplog.records
    assert "without CURVE" in record.getMessage()
    assert record.__dict__["endpoints"] == ["tcp://0.0.0.0:7700"]


def test_loopback_endpoints_without_curve_are_quiet(caplog: pytest.LogCaptureFixture) -> None:
    """The default (loopback) endpoints log nothing."""
    with caplog.at_level(logging.WARNING, logger="publisher.bus.curve"):
        security = start(bus())
    assert caplog.records == []
    assert not security.enabled


@pytest.mark.parametrize(
    ("endpoint", "local"),
    [
        ("tcp://127.0.0.1:7700", True),
        ("tcp://127.3.4.5:1", True),
        ("tcp://localhost:7700", True),
        ("tcp://[::1]:7700", True),
        ("tcp://lo:7700", True),
        ("ipc:///tmp/bus", True),
        ("tcp://0.0.0.0:7700", False),
        ("tcp://*:7700", False),
        ("tcp://10.0.0.5:7700", False),
        ("tcp://eth0:7700", False),
    ],
)
def test_only_endpoints_beyond_the_host_are_exposed(endpoint: str, local: bool) -> None:
    """Loopback tcp and ipc binds are not exposed; any other bind may be reached from elsewhere."""
    settings = bus(pub=(endpoint,), snapshot="ipc:///tmp/ibpub-test-snapshot")
    assert exposed_endpoints(settings) == ([] if local else [endpoint])


def test_security_repr_hides_the_secret(keys: Path) -> None:
    """The key material never shows in repr (logs, tracebacks)."""
    settings = bus(
        curve_secret_key=str(keys / "server.key_secret"),
        curve_authorized_keys=str(keys / "authorized"),
    )
    context: zmq.Context[Any] = zmq.Context()
    security = BusSecurity.start(settings, context, "test.toml")
    try:
        assert repr(security) == "BusSecurity(curve=True)"
    finally:
        security.close()
        context.term()
