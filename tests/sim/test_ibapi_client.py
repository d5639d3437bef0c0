"""IB's own client, unmodified (EClient + EWrapper + its reader and run threads), against the
simulator at v200 (classic text) and at the installed maximum (protobuf market data)."""

import time
from collections.abc import Iterator

import pytest

from publisher.sim import MAX_SERVER_VERSION, SimulatedGateway
from tests.sim.support import App
from tests.sim.support import ibapi_contract as _contract
from tests.support.waiting import wait_for

DELAYED_IDS = {66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 88}


@pytest.fixture(scope="module", params=[200, MAX_SERVER_VERSION], ids=lambda v: f"v{v}")
def gateway(request: pytest.FixtureRequest) -> Iterator[SimulatedGateway]:
    """One gateway per encoding, shared by the tests of this module."""
    gw = SimulatedGateway(rate=400, max_server_version=request.param).start()
    yield gw
    gw.stop()


@pytest.fixture
def app(gateway: SimulatedGateway) -> Iterator[App]:
    """A connected ibapi application with a fresh client id."""
    application = App(gateway)
    yield application
    application.close()


def test_negotiates_the_gateway_maximum(app: App, gateway: SimulatedGateway) -> None:
    """ibapi (v100..226) ends up at the gateway's maximum version."""
    assert app.client.serverVersion() == gateway.max_server_version


def test_contract_details_for_aapl(app: App) -> None:
    """reqContractDetails for AAPL returns conId 265598 then contractDetailsEnd."""
    app.client.reqContractDetails(1, _contract("AAPL", "STK", "SMART"))
    wait_for(lambda: app.wrapper.named("contractDetailsEnd"), "contractDetailsEnd")
    ((req_id, details),) = app.wrapper.named("contractDetails")
    assert (req_id, details.contract.conId, details.contract.primaryExchange) == (
        1,
        265598,
        "NASDAQ",
    )


def test_contract_details_for_es(app: App) -> None:
    """reqContractDetails for ES December 2026 returns ESZ6 on CME with multiplier 50."""
    app.client.reqContractDetails(2, _contract("ES", "FUT", "CME", "202612"))
    wait_for(lambda: app.wrapper.named("contractDetailsEnd"), "contractDetailsEnd")
    ((_req_id, details),) = app.wrapper.named("contractDetails")
    c = details.contract
    assert (c.localSymbol, c.lastTradeDateOrContractMonth, c.multiplier) == (
        "ESZ6",
        "20261218",
        "50",
    )


def test_ticks_arrive_with_the_request_id(app: App) -> None:
    """reqMktData streams tickPrice and tickSize callbacks carrying its reqId."""
    app.client.reqMktData(11, _contract("AAPL", "STK", "SMART"), "", False, False, [])
    wait_for(lambda: len(app.wrapper.named("tickPrice")) >= 20, "20 tickPrice callbacks")
    prices = app.wrapper.named("tickPrice")
    sizes = app.wrapper.named("tickSize")
    assert {p[0] for p in prices} == {11} and {s[0] for s in sizes} == {11}
    assert {1, 2, 4} <= {p[1] for p in prices} and 8 in {s[1] for s in sizes}


def test_ticks_reach_ibapi_as_protobuf_only_at_the_maximum(app: App) -> None:
    """ibapi's protobuf tick callbacks fire at the installed maximum and never at v200."""
    app.client.reqMktData(12, _contract("MSFT", "STK", "SMART"), "", False, False, [])
    wait_for(lambda: len(app.wrapper.named("tickPrice")) >= 5, "ticks")
    protobuf = bool(app.wrapper.named("tickPriceProtoBuf"))
    assert protobuf is (app.client.serverVersion() >= 206)


def test_delayed_market_data_type_gives_delayed_ids(app: App) -> None:
    """After reqMarketDataType(3), ticks use delayed ids and marketDataType reports 3."""
    app.client.reqMarketDataType(3)
    app.client.reqMktData(13, _contract("ES", "FUT", "CME", "202612"), "", False, False, [])
    wait_for(lambda: len(app.wrapper.named("tickPrice")) >= 10, "delayed ticks")
    assert app.wrapper.named("marketDataType") == [(13, 3)]
    tick_types = {p[1] for p in app.wrapper.named("tickPrice")}
    tick_types |= {s[1] for s in app.wrapper.named("tickSize")}
    assert tick_types <= DELAYED_IDS and {66, 67, 68} <= tick_types


def test_unknown_symbol_gets_error_200(app: App) -> None:
    """Contract details and market data for an unknown symbol fail with 200 and the reqId."""
    app.client.reqContractDetails(14, _contract("NOPE", "STK", "SMART"))
    app.client.reqMktData(15, _contract("NOPE", "STK", "SMART"), "", False, False, [])
    wait_for(lambda: len(app.wrapper.errors()) >= 5, "two errors after the farm status")
    assert [(r, code) for r, code, _ in app.wrapper.errors()[3:]] == [(14, 200), (15, 200)]


def test_current_time_is_answered(app: App) -> None:
    """reqCurrentTime returns the server's epoch seconds."""
    app.client.reqCurrentTime()
    ((server_time,),) = wait_for(lambda: app.wrapper.named("currentTime"), "currentTime")
    assert abs(server_time - time.time()) < 5


def test_snapshot_ends_with_tick_snapshot_end(app: App) -> None:
    """A snapshot request ends with tickSnapshotEnd for its reqId."""
    app.client.reqMktData(16, _contract("SPY", "STK", "SMART"), "", True, False, [])
    assert wait_for(lambda: app.wrapper.named("tickSnapshotEnd"), "snapshot end") == [(16,)]
