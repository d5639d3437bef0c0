"""The gateway on real sockets, seen byte by byte: handshake, session rules, pacing, lifecycle."""

import contextlib
import re
import socket
import time
from collections.abc import Callable

import pytest
from ibapi.client import EClient
from ibapi.contract import Contract
from ibapi.execution import ExecutionFilter

from publisher.sim import SimulatedGateway
from publisher.sim.protocol import frame
from publisher.sim.server import MAX_CATCH_UP_SECONDS
from tests.sim.conftest import GatewayFactory, RawClientFactory
from tests.sim.support import RawClient, RecordingWrapper, decode_frames, ibapi_request
from tests.support.waiting import DEADLINE, wait_for

MAX = SimulatedGateway().max_server_version


def _aapl() -> Contract:
    contract = Contract()
    contract.symbol, contract.secType, contract.exchange, contract.currency = (
        "AAPL",
        "STK",
        "SMART",
        "USD",
    )
    return contract


def _send(client: RawClient, call: Callable[[EClient], None]) -> None:
    client.send_payload(ibapi_request(client.version, call))


def _frames(client: RawClient, count: int) -> bytes:
    return b"".join(frame(client.next_frame()) for _ in range(count))


def _decoded(client: RawClient, count: int) -> RecordingWrapper:
    wrapper = RecordingWrapper()
    decode_frames(_frames(client, count), client.version, wrapper)
    return wrapper


def _ready(
    raw_client: RawClientFactory, gateway: SimulatedGateway, versions: str, client_id: int = 1
) -> RawClient:
    client = raw_client(gateway)
    client.handshake(versions)
    client.start_api(client_id)
    _frames(client, 5)  # managedAccounts, nextValidId, three farm-status messages
    return client


def _wire_id(payload: bytes, version: int) -> int:
    if version >= 201:
        return int.from_bytes(payload[:4], "big")
    return int(payload.split(b"\0", 1)[0])


@pytest.mark.parametrize(
    ("max_version", "hello", "expected"),
    [(None, "v100..226", MAX), (200, "v100..226", 200), (None, "v157..178", 178)],
)
def test_handshake_negotiates_the_lower_maximum(
    start_gateway: GatewayFactory,
    raw_client: RawClientFactory,
    max_version: int | None,
    hello: str,
    expected: int,
) -> None:
    """The reply carries min(client max, server max) and a TWS-style connection time."""
    client = raw_client(start_gateway(max_server_version=max_version, rate=0))
    version, connection_time = client.handshake(hello)
    assert version == expected
    assert re.fullmatch(r"\d{8} \d\d:\d\d:\d\d UTC", connection_time)


def test_client_entirely_above_our_maximum_is_closed_without_reply(
    start_gateway: GatewayFactory, raw_client: RawClientFactory
) -> None:
    """A client asking only for versions above --max-server-version gets the socket closed."""
    client = raw_client(start_gateway(max_server_version=200, rate=0))
    client.send_hello("v201..226")
    assert client.read_until_closed() == b""


def test_connection_without_api_prefix_is_closed(
    start_gateway: GatewayFactory, raw_client: RawClientFactory
) -> None:
    """Anything but ``API\\0`` first is not a TWS client and is dropped."""
    client = raw_client(start_gateway(rate=0))
    client.sock.sendall(b"GET / HTTP/1.1\r\n\r\n")
    assert client.read_until_closed() == b""


@pytest.mark.parametrize("hello", ["v100..200", "v100..226"])
def test_start_api_is_answered_with_accounts_order_id_and_farm_status(
    start_gateway: GatewayFactory, raw_client: RawClientFactory, hello: str
) -> None:
    """startApi gets managedAccounts, nextValidId, then 2104/2106/2158 with id -1, in order."""
    client = raw_client(start_gateway(rate=0))
    client.handshake(hello)
    client.start_api(3)
    w = _decoded(client, 5)
    assert [name for name, _ in w.calls] == ["managedAccounts", "nextValidId"] + ["error"] * 3
    assert w.named("managedAccounts") == [("DU1234567",)]
    assert [(req_id, code) for req_id, code, _ in w.errors()] == [
        (-1, 2104),
        (-1, 2106),
        (-1, 2158),
    ]


def test_nothing_is_sent_between_handshake_and_start_api(
    start_gateway: GatewayFactory, raw_client: RawClientFactory
) -> None:
    """Requests before startApi are ignored, so the first frame after the reply is the greeting."""
    client = raw_client(start_gateway(rate=0))
    client.handshake("v100..200")
    _send(client, lambda c: c.reqCurrentTime())
    client.start_api(1)
    _send(client, lambda c: c.reqIds(1))
    w = _decoded(client, 6)
    assert [name for name, _ in w.calls] == ["managedAccounts", "nextValidId"] + ["error"] * 3 + [
        "nextValidId"
    ]


def test_client_id_in_use_gets_error_326_and_is_closed(
    start_gateway: GatewayFactory, raw_client: RawClientFactory
) -> None:
    """A second connection with a live client id gets 326 (id -1), then the socket closes."""
    gateway = start_gateway(rate=0)
    first = _ready(raw_client, gateway, "v100..226", client_id=9)
    second = raw_client(gateway)
    second.handshake("v100..226")
    second.start_api(9)
    w = RecordingWrapper()
    decode_frames(second.read_until_closed(), second.version, w)
    assert [(req_id, code) for req_id, code, _ in w.errors()] == [(-1, 326)]
    _send(first, lambda c: c.reqCurrentTime())
    assert _decoded(first, 1).named("currentTime")


def test_client_id_is_free_again_after_its_connection_closes(
    start_gateway: GatewayFactory, raw_client: RawClientFactory
) -> None:
    """Once the holder disconnects, the same client id connects normally."""
    gateway = start_gateway(rate=0)
    _ready(raw_client, gateway, "v100..200", client_id=4).close()
    wait_for(lambda: 4 not in gateway.call(lambda core: core.client_ids), "client id release")
    again = _ready(raw_client, gateway, "v100..200", client_id=4)
    assert again.version == 200


def test_ticks_are_protobuf_on_the_wire_at_the_maximum_version(
    start_gateway: GatewayFactory, raw_client: RawClientFactory
) -> None:
    """At the installed maximum every market data frame, streamed ones included, is protobuf."""
    client = _ready(raw_client, start_gateway(rate=500), f"v100..{MAX}")
    _send(client, lambda c: c.reqMktData(1, _aapl(), "", False, False, []))
    ids = [_wire_id(client.next_frame(), client.version) for _ in range(40)]
    assert ids[:2] == [281, 258]  # tickReqParams, marketDataType
    assert set(ids[2:]) <= {201, 202, 246}  # tickPrice, tickSize, tickString
    assert {201, 202} <= set(ids[11:])  # streaming after the 9-tick initial quote


def test_ticks_are_classic_text_at_200(
    start_gateway: GatewayFactory, raw_client: RawClientFactory
) -> None:
    """At v200 every market data frame starts with its text message id."""
    client = _ready(raw_client, start_gateway(rate=500), "v100..200")
    _send(client, lambda c: c.reqMktData(1, _aapl(), "", False, False, []))
    ids = [_wire_id(client.next_frame(), 200) for _ in range(40)]
    assert ids[:2] == [81, 58] and set(ids[2:]) <= {1, 2, 46}


@pytest.mark.parametrize(
    ("market_data_type", "price_ids"),
    [(2, {1, 2, 4, 6, 7, 9, 14}), (4, {66, 67, 68, 72, 73, 75, 76})],
)
def test_frozen_keeps_live_ids_and_delayed_frozen_uses_delayed_ids(
    start_gateway: GatewayFactory,
    raw_client: RawClientFactory,
    market_data_type: int,
    price_ids: set[int],
) -> None:
    """Type 2 answers marketDataType 2 with live ids; type 4 answers 4 with delayed ids."""
    client = _ready(raw_client, start_gateway(rate=0), "v100..226")
    _send(client, lambda c: c.reqMarketDataType(market_data_type))
    _send(client, lambda c: c.reqMktData(2, _aapl(), "", False, False, []))
    w = _decoded(client, 11)
    assert w.named("marketDataType") == [(2, market_data_type)]
    assert {p[1] for p in w.named("tickPrice")} == price_ids


def test_snapshot_ends_with_tick_snapshot_end_and_leaves_no_stream(
    start_gateway: GatewayFactory, raw_client: RawClientFactory
) -> None:
    """snapshot=1 sends the quote then tickSnapshotEnd, and nothing keeps streaming."""
    gateway = start_gateway(rate=1000)
    client = _ready(raw_client, gateway, "v100..200")
    _send(client, lambda c: c.reqMktData(6, _aapl(), "", True, False, []))
    w = _decoded(client, 12)
    assert w.named("tickSnapshotEnd") == [(6,)]
    assert gateway.call(lambda core: len(core.market)) == 0


def test_duplicate_ticker_id_gets_error_322(
    start_gateway: GatewayFactory, raw_client: RawClientFactory
) -> None:
    """reqMktData with a reqId that is already streaming is refused with 322."""
    client = _ready(raw_client, start_gateway(rate=0), "v100..226")
    _send(client, lambda c: c.reqMktData(5, _aapl(), "", False, False, []))
    _frames(client, 11)
    _send(client, lambda c: c.reqMktData(5, _aapl(), "", False, False, []))
    assert [(r, code) for r, code, _ in _decoded(client, 1).errors()] == [(5, 322)]


def test_cancel_stops_the_stream_and_unknown_cancels_get_300(
    start_gateway: GatewayFactory, raw_client: RawClientFactory
) -> None:
    """cancelMktData ends that stream; cancelling an id that is not streaming gets 300."""
    gateway = start_gateway(rate=200)
    client = _ready(raw_client, gateway, "v100..226")
    _send(client, lambda c: c.reqMktData(5, _aapl(), "", False, False, []))
    wait_for(lambda: gateway.call(lambda core: len(core.market)) == 1, "stream start")
    _send(client, lambda c: c.cancelMktData(5))
    wait_for(lambda: gateway.call(lambda core: len(core.market)) == 0, "stream stop")
    _send(client, lambda c: c.cancelMktData(77))
    while (payload := client.next_frame()) and _wire_id(payload, client.version) != 204:
        pass  # skip ticks sent before the cancel
    w = RecordingWrapper()
    decode_frames(frame(payload), client.version, w)
    assert [(r, code) for r, code, _ in w.errors()] == [(77, 300)]


@pytest.mark.parametrize("hello", ["v157..178", "v100..226"])
def test_startup_requests_get_their_end_markers(
    start_gateway: GatewayFactory, raw_client: RawClientFactory, hello: str
) -> None:
    """Positions, orders, account updates and executions are answered with their end markers."""
    client = _ready(raw_client, start_gateway(rate=0), hello)
    _send(client, lambda c: c.reqPositions())
    _send(client, lambda c: c.reqOpenOrders())
    _send(client, lambda c: c.reqCompletedOrders(False))
    _send(client, lambda c: c.reqAccountUpdates(True, "DU1234567"))
    _send(client, lambda c: c.reqAccountUpdatesMulti(3, "DU1234567", "", False))
    _send(client, lambda c: c.reqExecutions(4, ExecutionFilter()))
    w = _decoded(client, 6)
    assert [name for name, _ in w.calls] == [
        "positionEnd",
        "openOrderEnd",
        "completedOrdersEnd",
        "accountDownloadEnd",
        "accountUpdateMultiEnd",
        "execDetailsEnd",
    ]
    assert w.named("accountUpdateMultiEnd") == [(3,)] and w.named("execDetailsEnd") == [(4,)]


def test_unknown_and_malformed_requests_do_not_end_the_session(
    start_gateway: GatewayFactory, raw_client: RawClientFactory
) -> None:
    """An unmodelled request and a truncated one are skipped; the next request is answered."""
    client = _ready(raw_client, start_gateway(rate=0), "v100..200")
    client.send_payload(b"24\x001\x00")  # reqScannerParameters: not modelled
    client.send_payload(b"1\x0011\x00")  # reqMktData cut short
    _send(client, lambda c: c.reqCurrentTime())
    assert _decoded(client, 1).named("currentTime")


def test_oversized_frame_closes_the_connection(
    start_gateway: GatewayFactory, raw_client: RawClientFactory
) -> None:
    """A frame longer than the TWS limit is a protocol violation."""
    client = _ready(raw_client, start_gateway(rate=0), "v100..200")
    client.sock.sendall((0x1000000).to_bytes(4, "big"))
    assert client.read_until_closed() == b""


def test_rate_is_the_total_tick_rate_across_streams(
    start_gateway: GatewayFactory, raw_client: RawClientFactory
) -> None:
    """Two streams at rate 400 share 400 streamed ticks per second between them: over any
    stretch the gateway sends at most rate x elapsed (plus its bounded catch-up credit). A slow
    machine sends fewer, never more, so only a per-stream rate (800/s here) can fail this."""
    gateway = start_gateway(rate=400)
    client = _ready(raw_client, gateway, "v100..226")
    _send(client, lambda c: c.reqMktData(1, _aapl(), "", False, False, []))
    _send(client, lambda c: c.reqMktData(2, _aapl(), "", False, False, []))

    def sent() -> int:
        count: int = gateway.call(lambda core: core.ticks_sent)
        return count

    started = time.monotonic()
    start_count = sent()
    wait_for(lambda: sent() >= start_count + 800, "800 ticks")
    total = sent() - start_count
    elapsed = time.monotonic() - started
    credit = 400 * MAX_CATCH_UP_SECONDS + 1  # what may have accrued before ``started``
    assert total <= 400 * elapsed + credit


def test_ten_thousand_ticks_per_second_are_streamed(
    start_gateway: GatewayFactory, raw_client: RawClientFactory
) -> None:
    """At rate 10000 the gateway streams its ticks (how many a second this machine manages is
    the benchmark's business, not a test's) and every one reaches the client."""
    gateway = start_gateway(rate=10_000)
    client = _ready(raw_client, gateway, "v100..226")
    _send(client, lambda c: c.reqMktData(1, _aapl(), "", False, False, []))
    received = 0

    def enough() -> bool:
        nonlocal received
        client.sock.settimeout(0.05)  # drain the socket so the gateway never throttles
        with contextlib.suppress(TimeoutError):
            received += len(client.sock.recv(1 << 20))
        return gateway.call(lambda core: core.ticks_sent) >= 10_000

    wait_for(enough, "10,000 ticks sent", every=0)
    sent = gateway.call(lambda core: core.ticks_sent)
    wait_for(lambda: enough() and received > sent * 20, "their bytes", every=0)
    # protobuf ticks are 20+ bytes each


def test_fault_hooks_send_errors_and_drop_connections(
    start_gateway: GatewayFactory, raw_client: RawClientFactory
) -> None:
    """A session can be told to send an error code and to drop its connection."""
    gateway = start_gateway(rate=0)
    client = _ready(raw_client, gateway, "v100..226")
    gateway.call(lambda core: core.sessions[0].send_error(-1, 1100, "Connectivity lost"))
    assert [(r, code) for r, code, _ in _decoded(client, 1).errors()] == [(-1, 1100)]
    gateway.call(lambda core: core.sessions[0].abort())
    client.read_until_closed()
    wait_for(lambda: gateway.call(lambda core: not core.sessions), "session gone")


def test_stop_closes_clients_and_the_listener_and_is_idempotent(
    start_gateway: GatewayFactory, raw_client: RawClientFactory
) -> None:
    """After stop() clients see the end, the port refuses, and a second stop() is a no-op."""
    gateway = start_gateway(rate=100)
    client = _ready(raw_client, gateway, "v100..200")
    gateway.stop()
    with pytest.raises((ConnectionError, AssertionError)):
        while True:
            client.next_frame()  # drains any frames in flight, then sees the end
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", gateway.port), timeout=DEADLINE).close()
    gateway.stop()


def test_start_on_a_busy_port_raises() -> None:
    """Binding failures surface from start() in the caller's thread."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        gateway = SimulatedGateway(port=busy.getsockname()[1], rate=0)
        with pytest.raises(OSError):
            gateway.start()
        gateway.stop()


def test_context_manager_starts_and_stops() -> None:
    """``with SimulatedGateway() as gw`` listens inside the block and not after it."""
    with SimulatedGateway(rate=0) as gateway:
        socket.create_connection(("127.0.0.1", gateway.port), timeout=DEADLINE).close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", gateway.port), timeout=DEADLINE).close()
