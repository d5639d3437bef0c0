"""Real ``nats-server`` processes with JetStream for the bridge tests, and stream readers."""

import asyncio
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest
from nats.js.api import DeliverPolicy

from tests.support.metrics import http_get, samples
from tests.support.processes import BIN, Processes, free_port, port_open
from tests.support.waiting import wait_for


def nats_server_binary() -> str:
    found = shutil.which("nats-server") or (
        "/usr/sbin/nats-server" if Path("/usr/sbin/nats-server").exists() else None
    )
    if found is None:
        pytest.fail("nats-server is not installed: run `make system-deps`")
    return found


@dataclass
class NatsServer:
    """One nats-server with JetStream in ``store``, on a free client port."""

    procs: Processes
    store: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    extra: Sequence[str] = ()

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> "NatsServer":
        if not self.port:
            self.port = free_port()
        args = [nats_server_binary(), "-js", "-sd", str(self.store), "-a", "127.0.0.1"]
        args += ["-p", str(self.port), *self.extra]
        self.proc = self.procs.start(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: port_open(self.port), f"nats-server on {self.port}")
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def _toml_value(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def bridge_toml(
    directory: Path,
    upstream: str,
    servers: Sequence[str],
    bridge: dict[str, object] | None = None,
    **nats_keys: object,
) -> Path:
    """A bridge configuration file on a free metrics port; ``bridge`` adds [bridge] keys."""
    lines = ["[bridge]", f'upstream = ["{upstream}"]']
    lines += [f"{k} = {_toml_value(v)}" for k, v in (bridge or {}).items()]
    lines += ["[nats]", "servers = [" + ", ".join(f'"{s}"' for s in servers) + "]"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in nats_keys.items()]
    lines += ["[metrics]", f'listen = "127.0.0.1:{free_port()}"']
    path = directory / "bridge.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def start_bridge(procs: Processes, config: Path) -> subprocess.Popen[bytes]:
    return procs.start([str(BIN / "ibpub"), "bridge", "--config", str(config)])


@dataclass(frozen=True)
class StoredMsg:
    subject: str
    data: bytes
    msg_id: str
    stream_seq: int


def read_stream(url: str, stream: str = "IBPUB") -> list[StoredMsg]:
    """Every message in the stream, in stream order (an ordered consumer from the start)."""

    async def main() -> list[StoredMsg]:
        nc = await nats.connect(url)
        try:
            js = nc.jetstream()
            info = await js.stream_info(stream)
            last = info.state.last_seq
            out: list[StoredMsg] = []
            if info.state.messages == 0:
                return out
            sub = await js.subscribe(
                "ibpub.>", stream=stream, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
            )
            while not out or out[-1].stream_seq < last:
                msg = await sub.next_msg(timeout=10)
                headers = msg.headers or {}
                out.append(
                    StoredMsg(
                        msg.subject,
                        msg.data,
                        headers.get("Nats-Msg-Id", ""),
                        msg.metadata.sequence.stream,
                    )
                )
            await sub.unsubscribe()
            return out
        finally:
            await nc.close()

    return asyncio.run(main())


def metrics_listen(config: Path) -> str:
    """The ``[metrics] listen`` address written by :func:`bridge_toml`."""
    line = next(ln for ln in config.read_text().splitlines() if ln.startswith("listen"))
    return line.split("=", 1)[1].strip().strip('"')


def metric_total(config: Path, name: str) -> float:
    """The sum of a bridge metric's samples, 0 while its HTTP server is not up yet."""
    try:
        status, text = http_get(f"http://{metrics_listen(config)}/metrics")
    except OSError:
        return 0.0
    found = samples(text) if status == 200 else {}
    return sum(v for (metric, _), v in found.items() if metric == name)


@dataclass
class Cluster:
    """Three nats-servers with JetStream clustered on loopback (routes between all of them)."""

    procs: Processes
    directory: Path
    nodes: list[NatsServer] | None = None

    def start(self) -> "Cluster":
        routes = [free_port() for _ in range(3)]
        route_urls = ",".join(f"nats://127.0.0.1:{p}" for p in routes)
        self.nodes = []
        for index, route in enumerate(routes):
            extra = [
                "-n",
                f"n{index}",
                "--cluster_name",
                "ibpub",
                "--cluster",
                f"nats://127.0.0.1:{route}",
                "--routes",
                route_urls,
            ]
            node = NatsServer(self.procs, self.directory / f"n{index}", extra=extra)
            self.nodes.append(node.start())
        wait_for(lambda: jetstream_ready(self.urls), "a JetStream meta leader", timeout=60)
        return self

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes or []]


def jetstream_ready(urls: Sequence[str]) -> bool:
    """True once JetStream answers an account request through one of ``urls``."""

    async def main() -> bool:
        try:
            nc = await nats.connect(list(urls), max_reconnect_attempts=1, connect_timeout=2)
        except Exception:  # not up yet: any failure means "not ready"
            return False
        try:
            await nc.jetstream().account_info()
            return True
        except Exception:
            return False
        finally:
            await nc.close()

    return asyncio.run(main())
