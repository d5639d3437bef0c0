"""The simulator's fault switches seen from a raw TWS client, byte by byte."""

from collections.abc import Iterator

import pytest
from ibapi.client import EClient

from publisher.sim import SimulatedGateway
from publisher.sim.scenario import ScenarioError, Step, parse_scenario
from tests.helpers import port_open, wait_for
from tests.sim.support import RawClient, RecordingWrapper, decode_frames, ibapi_request


@pytest.fixture
def gateway() -> Iterator[SimulatedGateway]:
    with SimulatedGateway(rate=0) as started:
        yield started


@pytest.fixture
def client(gateway: SimulatedGateway) -> Iterator[RawClient]:
    raw = RawClient(gateway.port)
    raw.handshake()
    raw.start_api(3)
    for _ in range(5):  # managedAccounts, nextValidId, three farm messages
        raw.next_frame()
    yield raw
    raw.close()


def test_pacing_violation_gets_error_100_then_a_disconnect(
    gateway: SimulatedGateway, client: RawClient
) -> None:
    """More than the limit of requests in one second is answered by error 100 and a close."""
    gateway.call(lambda core: setattr(core.faults, "pacing_limit", 20))
    request = ibapi_request(client.version, lambda c: EClient.reqCurrentTime(c))
    for _ in range(25):
        client.send_payload(request)
    data = client.read_until_closed()
    wrapper = RecordingWrapper()
    decode_frames(data, client.version, wrapper)
    assert 100 in [code for _, code, _ in wrapper.errors()]


def test_requests_within_the_limit_are_answered(
    gateway: SimulatedGateway, client: RawClient
) -> None:
    """A client under the limit gets every answer and stays connected."""
    gateway.call(lambda core: setattr(core.faults, "pacing_limit", 50))
    request = ibapi_request(client.version, lambda c: EClient.reqCurrentTime(c))
    for _ in range(10):
        client.send_payload(request)
    for _ in range(10):
        client.next_frame()
    assert gateway.call(lambda core: len(core.sessions)) == 1


def test_silent_gateway_answers_nothing_and_keeps_the_socket(
    gateway: SimulatedGateway, client: RawClient
) -> None:
    """While silent, requests go unanswered but the connection stays open."""
    gateway.call(lambda core: core.faults.go_silent())
    client.send_payload(ibapi_request(client.version, lambda c: EClient.reqCurrentTime(c)))
    assert client.nothing_arrives_within(0.5)
    assert gateway.call(lambda core: len(core.sessions)) == 1


def test_refuse_for_closes_the_port_then_listens_again(gateway: SimulatedGateway) -> None:
    """refuse_for stops listening (connections refused) and reopens on the same port."""
    gateway.call(lambda core: core.faults.refuse_for(1.0))
    wait_for(lambda: not port_open(gateway.port), "the port to refuse", timeout=10)
    wait_for(lambda: port_open(gateway.port), "the port to listen again", timeout=10)


def test_scenario_steps_parse() -> None:
    """``AT:FAULT[=ARG]`` steps parse into timed steps; unknown faults are refused."""
    assert parse_scenario("5:drop, 10:refuse=3,12:error=354@AAPL") == [
        Step(5.0, "drop"),
        Step(10.0, "refuse", "3"),
        Step(12.0, "error", "354@AAPL"),
    ]
    with pytest.raises(ScenarioError):
        parse_scenario("5:explode")
    with pytest.raises(ScenarioError):
        parse_scenario("5:refuse")
