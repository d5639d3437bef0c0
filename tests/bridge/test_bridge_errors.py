"""``ibpub bridge`` refuses bad input at start with exit 2 naming the setting."""

from pathlib import Path

from tests.bridge.servers import bridge_toml, start_bridge
from tests.support.processes import Processes, free_port


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
