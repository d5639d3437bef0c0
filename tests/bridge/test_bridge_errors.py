"""``ibpub bridge`` refuses bad input at start with exit 2 naming the setting."""

import asyncio
import subprocess
from pathlib import Path

import nats

from tests.bridge.servers import NatsServer, bridge_toml, start_bridge
from tests.support.processes import BIN, Processes, free_port


def test_an_unreachable_nats_url_at_start_is_exit_2_naming_nats_servers(
    tmp_path: Path, procs: Processes
) -> None:
    """Nothing listens at the URL: the bridge exits 2 and says nats.servers, password masked."""
    url = f"nats://user:hunter2@127.0.0.1:{free_port()}"
    bridge = start_bridge(procs, bridge_toml(tmp_path, "tcp://127.0.0.1:1", [url]))
    _, err = bridge.communicate(timeout=60)
    assert bridge.returncode == 2
    assert b"nats.servers" in err
    assert b"hunter2" not in err


def test_a_stream_with_other_subjects_is_exit_2_naming_nats_stream(
    tmp_path: Path, procs: Processes
) -> None:
    """A stream called IBPUB that stores other subjects is not taken over: exit 2, nats.stream."""
    server = NatsServer(procs, tmp_path / "js").start()

    async def make() -> None:
        nc = await nats.connect(server.url)
        await nc.jetstream().add_stream(name="IBPUB", subjects=["other.>"])
        await nc.close()

    asyncio.run(make())
    bridge = start_bridge(procs, bridge_toml(tmp_path, "tcp://127.0.0.1:1", [server.url]))
    _, err = bridge.communicate(timeout=60)
    assert bridge.returncode == 2
    assert b"nats.stream" in err and b"other.>" in err


def test_refused_credentials_are_exit_2_and_the_password_is_never_shown(
    tmp_path: Path, procs: Processes
) -> None:
    """A server that wants a user and password refuses a wrong one: exit 2, no secret shown."""
    server = NatsServer(
        procs, tmp_path / "js", extra=["--user", "ibpub", "--pass", "right-pass"]
    ).start()
    url = f"nats://ibpub:wrong-pass@127.0.0.1:{server.port}"
    bridge = start_bridge(procs, bridge_toml(tmp_path, "tcp://127.0.0.1:1", [url]))
    _, err = bridge.communicate(timeout=60)
    assert bridge.returncode == 2
    assert b"nats.servers" in err and b"refused the credentials" in err
    assert b"wrong-pass" not in err and b"right-pass" not in err


def test_a_malformed_url_is_exit_2_from_check_config(tmp_path: Path) -> None:
    """check-config names nats.servers for a URL that is not nats://HOST:PORT."""
    config = bridge_toml(tmp_path, "tcp://127.0.0.1:1", ["http://127.0.0.1:4222"])
    result = subprocess.run(
        [str(BIN / "ibpub"), "check-config", str(config)], capture_output=True, timeout=60
    )
    assert result.returncode == 2
    assert b"nats.servers" in result.stderr
