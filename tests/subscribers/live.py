"""A live publisher for subscriber tests: a PublisherService thread fed by the simulated gateway.

Everything runs in-process on free ports on 127.0.0.1, the publisher with its own ZeroMQ
context; :meth:`LivePublisher.stop` joins its thread and closes every socket, so tests can
start, restart and stop publishers at will. Nothing in the pipeline is mocked.

The publisher keeps retrying its gateway, so a test can start it first, connect subscribers,
and only then start the simulator (:func:`start_gateway`) to have them see every tick from
``seq`` 1.
"""

import threading
from pathlib import Path
from typing import Any

import zmq
from prometheus_client import CollectorRegistry

from publisher.config import load_settings
from publisher.service.root import PublisherService
from publisher.sim import SimulatedGateway
from tests.helpers import free_port

KEYS = ("AAPL", "MSFT", "ESZ6", "EUR.USD")

CONFIG = """\
[publisher]
name = "{name}"

[gateway]
host = "127.0.0.1"
port = {gw_port}
client_id = {client_id}
connect_timeout = 5.0

[bus]
pub = ["{pub}"]
snapshot = "tcp://{host}:{snap_port}"
heartbeat_interval = {heartbeat}
send_hwm = {send_hwm}
{curve}
[metrics]
listen = "127.0.0.1:0"

[[instruments]]
symbol = "AAPL"
sec_type = "STK"
primary_exchange = "NASDAQ"

[[instruments]]
symbol = "MSFT"
sec_type = "STK"

[[instruments]]
key = "ESZ6"
symbol = "ES"
sec_type = "FUT"
exchange = "CME"
last_trade_date = "202612"

[[instruments]]
symbol = "EUR"
sec_type = "CASH"
exchange = "IDEALPRO"
currency = "USD"
"""


def start_gateway(port: int = 0, rate: float = 300.0) -> SimulatedGateway:
    """A simulated gateway listening on ``port`` (0: any free one); stop it when done."""
    return SimulatedGateway(port=port, rate=rate, seed=7).start()


class LivePublisher:
    """One PublisherService thread on fixed free ports, fed by the gateway on ``gateway_port``."""

    def __init__(
        self,
        directory: Path,
        gateway_port: int,
        *,
        name: str = "live",
        heartbeat: float = 0.2,
        send_hwm: int = 100_000,
        curve: tuple[Path, Path] | None = None,
        host: str = "127.0.0.1",
        pub_endpoint: str | None = None,
    ) -> None:
        self.directory = directory
        self.gateway_port = gateway_port
        self.name = name
        self.heartbeat = heartbeat
        self.bus_port = free_port()
        self.snap_port = free_port()
        self._pub = pub_endpoint or f"tcp://{host}:{self.bus_port}"
        self.endpoint = pub_endpoint or f"tcp://127.0.0.1:{self.bus_port}"
        self.snapshot_endpoint = f"tcp://127.0.0.1:{self.snap_port}"
        self._send_hwm = send_hwm
        self._curve = curve
        self._host = host
        self._starts = 0
        self.service: PublisherService | None = None
        self._thread: threading.Thread | None = None
        self._context: zmq.Context[Any] | None = None

    def config_text(self) -> str:
        curve = ""
        if self._curve is not None:
            secret, authorized = self._curve
            curve = f'curve_secret_key = "{secret}"\ncurve_authorized_keys = "{authorized}"\n'
        return CONFIG.format(
            name=self.name,
            gw_port=self.gateway_port,
            client_id=20 + self._starts,  # a restart must not wait for the old id to be freed
            host=self._host,
            pub=self._pub,
            snap_port=self.snap_port,
            heartbeat=self.heartbeat,
            send_hwm=self._send_hwm,
            curve=curve,
        )

    def start(self) -> "LivePublisher":
        """Bind the sockets and run the service thread (a new session, a new sid)."""
        assert self.service is None, "already running"
        self._starts += 1
        path = self.directory / f"{self.name}-{self._starts}.toml"
        path.write_text(self.config_text())
        self._context = zmq.Context()
        self.service = PublisherService(
            load_settings(path),
            context=self._context,
            registry=CollectorRegistry(),
            serve_metrics=False,
        )
        self.service.start()
        self._thread = threading.Thread(target=self.service.run, name="live-publisher")
        self._thread.start()
        return self

    @property
    def sid(self) -> int:
        assert self.service is not None and self.service.bus is not None
        return self.service.bus.sid

    def stop(self) -> None:
        """Stop the service, join its thread and close its context (idempotent)."""
        if self.service is None:
            return
        self.service.stop()
        assert self._thread is not None
        self._thread.join(timeout=30)
        assert not self._thread.is_alive(), "the publisher thread did not stop"
        assert self._context is not None
        self._context.destroy(linger=0)
        self.service = self._thread = self._context = None
