"""The handshake over real sockets: clients that cannot or do not complete it are closed, with
a log line saying why, instead of being held open in silence.

Closing is observed as the client sees it (end of stream); waits are for conditions with
generous deadlines, and nothing here asserts how long anything took.
"""

import logging

import pytest
from ibapi.client import EClient

from publisher.sim import AsyncGateway, SimulatedGateway
from publisher.sim.protocol import frame
from publisher.sim.server import HANDSHAKE_TIMEOUT
from tests.sim.conftest import GatewayFactory, RawClientFactory
from tests.sim.support import RawClient, RecordingWrapper, decode_frames, ibapi_request
from tests.support.waiting import wait_for

GENEROUS = 30.0
"""How long a test waits for a close it expects: far beyond any timeout it configures."""
SHORT_TIMEOUT = 0.2
"""A handshake timeout short enough for a test to wait out."""
NEVER = 3600.0
"""A handshake timeout no test waits out: a close seen under it is not the timeout's doing."""


@pytest.fixture
def sim_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Capture the simulator's log at INFO, from the gateway's thread too."""
    caplog.set_level(logging.INFO, logger="publisher.sim")
    return caplog


def _logged(caplog: pytest.LogCaptureFixture, *parts: str) -> list[str]:
    """Messages that contain every one of ``parts``."""
    messages = [record.getMessage() for record in list(caplog.records)]
    return [m for m in messages if all(part in m for part in parts)]


def _sessions(gateway: SimulatedGateway) -> int:
    return gateway.call(lambda core: len(core.sessions))


def test_a_pre_v100_client_is_closed_at_once_with_the_reason(
    start_gateway: GatewayFactory, raw_client: RawClientFactory, sim_log: pytest.LogCaptureFixture
) -> None:
    """A client that opens with a bare version (``62\\0``, as the Node package ``ib`` 0.2.9 does)
    and then waits is closed without waiting for more, and the log names what it sent."""
    gateway = start_gateway(rate=0, handshake_timeout=NEVER)
    client = raw_client(gateway)
    client.sock.sendall(b"62\0")
    assert client.read_until_closed(timeout=GENEROUS) == b""  # not a byte of reply
    (line,) = wait_for(
        lambda: _logged(sim_log, "rejecting client", "bare client version 62"),
        "the log line saying why",
        timeout=GENEROUS,
    )
    assert "b'62\\x00'" in line
    wait_for(lambda: _sessions(gateway) == 0, "the session to go", timeout=GENEROUS)


def test_first_bytes_that_cannot_become_the_prefix_are_closed_at_once(
    start_gateway: GatewayFactory, raw_client: RawClientFactory, sim_log: pytest.LogCaptureFixture
) -> None:
    """Anything else that is not ``API\\0`` (here an HTTP request) is refused on sight too."""
    gateway = start_gateway(rate=0, handshake_timeout=NEVER)
    client = raw_client(gateway)
    client.sock.sendall(b"GET / HTTP/1.1\r\n\r\n")
    assert client.read_until_closed(timeout=GENEROUS) == b""
    wait_for(
        lambda: _logged(sim_log, "rejecting client", "missing API\\0 prefix", "GET /"),
        "the log line saying why",
        timeout=GENEROUS,
    )


@pytest.mark.parametrize(
    ("sent", "stage"),
    [
        (b"", "nothing received"),
        (b"AP", "got b'AP' of API\\0"),
        (b"API\0", "no version frame after API\\0"),
        (b"API\0\0\0\0\x09v10", "no version frame after API\\0 (7 bytes of it)"),
    ],
    ids=["nothing", "half-the-prefix", "prefix-only", "half-the-version-frame"],
)
def test_a_handshake_that_never_completes_times_out_with_a_log_line(
    start_gateway: GatewayFactory,
    raw_client: RawClientFactory,
    sim_log: pytest.LogCaptureFixture,
    sent: bytes,
    stage: str,
) -> None:
    """A client that stops part-way through the handshake is closed after the timeout, and the
    log says how far it got."""
    gateway = start_gateway(rate=0, handshake_timeout=SHORT_TIMEOUT)
    client = raw_client(gateway)
    if sent:
        client.sock.sendall(sent)
    assert client.read_until_closed(timeout=GENEROUS) == b""
    wait_for(
        lambda: _logged(sim_log, "handshake timed out", stage),
        f"a timeout log line with {stage!r}",
        timeout=GENEROUS,
    )
    wait_for(lambda: _sessions(gateway) == 0, "the session to go", timeout=GENEROUS)


def test_a_proper_client_outlives_the_handshake_timeout(
    start_gateway: GatewayFactory, raw_client: RawClientFactory, sim_log: pytest.LogCaptureFixture
) -> None:
    """The timeout covers the handshake only: a client that completed it is still served after
    a silent neighbour, connected at the same time, has been timed out."""
    gateway = start_gateway(rate=0, handshake_timeout=SHORT_TIMEOUT)
    client = raw_client(gateway)
    client.handshake()
    client.start_api(7)
    for _ in range(5):  # managedAccounts, nextValidId, three farm messages
        client.next_frame()
    silent = raw_client(gateway)
    assert silent.read_until_closed(timeout=GENEROUS) == b""  # its timer has fired by now
    client.send_payload(ibapi_request(client.version, lambda c: EClient.reqCurrentTime(c)))
    wrapper = RecordingWrapper()
    decode_frames(frame(client.next_frame()), client.version, wrapper)
    assert len(wrapper.named("currentTime")) == 1
    assert _sessions(gateway) == 1
    assert len(_logged(sim_log, "handshake timed out")) == 1


def test_the_handshake_timeout_defaults_to_the_named_constant() -> None:
    """Ten seconds unless configured; a timeout that is not positive is refused."""
    assert HANDSHAKE_TIMEOUT == 10.0
    assert AsyncGateway().handshake_timeout == HANDSHAKE_TIMEOUT
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="handshake_timeout"):
            AsyncGateway(handshake_timeout=bad)


def test_a_partial_prefix_is_held_open_until_the_timeout(
    start_gateway: GatewayFactory, raw_client: RawClientFactory
) -> None:
    """Half the prefix may still become ``API\\0``, so it is not refused on sight; this also
    shows the tests above can fail: on a socket the server keeps open, read_until_closed
    raises instead of returning."""
    gateway = start_gateway(rate=0, handshake_timeout=NEVER)
    client: RawClient = raw_client(gateway)
    client.sock.sendall(b"AP")
    with pytest.raises((AssertionError, TimeoutError)):
        client.read_until_closed(timeout=0.5)
