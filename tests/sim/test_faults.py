"""The simulator's fault switches, seen from a raw TWS client byte by byte, and through their
seam (FaultTarget) on a fake gateway with no server at all."""

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from ibapi.client import EClient

from publisher.sim import MAX_SERVER_VERSION, SimulatedGateway
from publisher.sim.faults import PACING_VIOLATION, Faults
from publisher.sim.scenario import ScenarioError, Step, parse_scenario
from tests.sim.support import RawClient, RecordingWrapper, decode_frames, ibapi_request
from tests.support.processes import port_open
from tests.support.waiting import wait_for


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
    # Exactly one over the limit: the server closes right after the 21st, with nothing of ours
    # left unread (unread bytes would turn its close into a reset that can discard the reply).
    for _ in range(21):
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


# -- the seam: faults act on any FaultTarget, here a fake with no server and no socket ----------


@dataclass
class FakeSession:
    """A FaultSession that records what faults did to it."""

    conn_id: int
    server_version: int | None = MAX_SERVER_VERSION
    silent: bool = False
    raw: list[bytes] = field(default_factory=list)
    errors: list[tuple[int, int, str]] = field(default_factory=list)
    closed: bool = False
    aborted: bool = False

    def send_raw(self, data: bytes) -> None:
        self.raw.append(data)

    def send_error(self, req_id: int, code: int, message: str) -> None:
        self.errors.append((req_id, code, message))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True


@dataclass
class FakeTarget:
    """A FaultTarget whose listener is a flag."""

    sessions: tuple[FakeSession, ...]
    listening: bool = True
    relistens: int = 0
    burst_counts: list[int] = field(default_factory=list)

    def burst(self, count: int) -> int:
        self.burst_counts.append(count)
        return count

    def stop_listening(self) -> bool:
        was, self.listening = self.listening, False
        return was

    async def listen_again(self) -> bool:
        self.listening = True
        self.relistens += 1
        return True


def _faults(*conn_ids: int) -> tuple[Faults, FakeTarget]:
    target = FakeTarget(tuple(FakeSession(conn_id) for conn_id in conn_ids))
    return Faults(target), target


def test_faults_drive_any_fault_target_through_its_public_seam() -> None:
    """Drop, error, garbage and flood reach every session of the target and nothing else."""
    faults, target = _faults(1, 2)
    assert faults.drop_all() == 2
    assert faults.send_error(1100, "lost") == 2
    assert faults.send_garbage() == 2
    assert faults.flood(300) == 300
    for session in target.sessions:
        assert session.aborted
        assert session.errors == [(-1, 1100, "lost")]
        assert len(session.raw) == 3  # three undecodable frames, each length-prefixed
        assert all(int.from_bytes(raw[:4], "big") == len(raw) - 4 for raw in session.raw)
    assert target.burst_counts == [300]


def test_pacing_hook_refuses_the_request_over_the_limit_and_closes() -> None:
    """With a limit of 2 a third request in the window gets error 100 and a close."""
    faults, target = _faults(1)
    faults.pacing_limit = 2
    (session,) = target.sessions
    assert [faults.admit_request(session) for _ in range(3)] == [True, True, False]
    assert [code for _, code, _ in session.errors] == [PACING_VIOLATION]
    assert session.closed


def test_refuse_for_stops_listening_then_listens_again_through_the_seam() -> None:
    """refuse_for closes the listener, drops the sessions and reopens once after the delay; a
    second refuse while refusing does nothing."""
    faults, target = _faults(1)

    async def scenario() -> None:
        faults.refuse_for(0.05)
        assert not target.listening
        assert target.sessions[0].aborted
        faults.refuse_for(0.05)  # already refusing
        deadline = asyncio.get_running_loop().time() + 30.0
        while not target.listening:
            assert asyncio.get_running_loop().time() < deadline, "never listened again"
            await asyncio.sleep(0.01)

    asyncio.run(scenario())
    assert target.relistens == 1
