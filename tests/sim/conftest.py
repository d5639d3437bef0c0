"""Fixtures: simulated gateways on port 0 and raw clients, all torn down after each test."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from publisher.sim import SimulatedGateway
from tests.sim.support import RawClient

GatewayFactory = Callable[..., SimulatedGateway]
RawClientFactory = Callable[[SimulatedGateway], RawClient]


@pytest.fixture
def start_gateway() -> Iterator[GatewayFactory]:
    """Start a SimulatedGateway on a free port with the given options; stopped at teardown."""
    started: list[SimulatedGateway] = []

    def start(**options: Any) -> SimulatedGateway:
        gateway = SimulatedGateway(**options).start()
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.stop()


@pytest.fixture
def raw_client() -> Iterator[RawClientFactory]:
    """Open raw TWS socket clients to a gateway; closed at teardown."""
    clients: list[RawClient] = []

    def connect(gateway: SimulatedGateway) -> RawClient:
        client = RawClient(gateway.port)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()
