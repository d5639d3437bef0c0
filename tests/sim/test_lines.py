"""The simulator's market-data lines, its subscription count and its ambiguous futures, through
IB's own client (EClient + EWrapper, unmodified) at v200 (classic text) and at the installed
maximum (protobuf), on real sockets."""

from collections.abc import Iterator
from typing import Any

import pytest
from ibapi.contract import Contract

from publisher.sim import MAX_SERVER_VERSION, AsyncGateway, SimulatedGateway
from publisher.sim.server import IB_DEFAULT_LINES
from tests.sim.conftest import GatewayFactory
from tests.sim.support import App, ibapi_contract
from tests.support.waiting import wait_for

MAX_LINES = 2
ENCODINGS = pytest.mark.parametrize("version", [200, MAX_SERVER_VERSION], ids=lambda v: f"v{v}")


@pytest.fixture
def apps() -> Iterator[list[App]]:
    """ibapi applications opened by a test; closed at teardown."""
    opened: list[App] = []
    yield opened
    for app in opened:
        app.close()


def _connect(apps: list[App], gateway: SimulatedGateway) -> App:
    app = App(gateway)
    apps.append(app)
    return app


def _active(gateway: SimulatedGateway) -> int:
    return gateway.call(lambda core: core.active_market_data())


def _ticks_for(app: App, req_id: int) -> list[tuple[Any, ...]]:
    return [t for t in app.wrapper.named("tickPrice") if t[0] == req_id]


def _stock(symbol: str) -> Contract:
    return ibapi_contract(symbol, "STK", "SMART")


@ENCODINGS
def test_request_beyond_the_lines_gets_101_and_no_stream(
    version: int, start_gateway: GatewayFactory, apps: list[App]
) -> None:
    """With 2 lines, the 3rd reqMktData gets error 101 with its reqId and IB's text, and
    nothing else for that reqId: no tickReqParams, no marketDataType, no tick."""
    gateway = start_gateway(rate=400, max_server_version=version, max_lines=MAX_LINES)
    app = _connect(apps, gateway)
    app.client.reqMktData(1, _stock("AAPL"), "", False, False, [])
    app.client.reqMktData(2, _stock("MSFT"), "", False, False, [])
    app.client.reqMktData(3, _stock("NVDA"), "", False, False, [])
    wait_for(lambda: [e for e in app.wrapper.errors() if e[0] == 3], "an error for reqId 3")
    seen = len(app.wrapper.named("tickPrice"))
    # Frames leave in order, so once 20 more ticks arrived nothing for reqId 3 can still come.
    wait_for(lambda: len(app.wrapper.named("tickPrice")) >= seen + 20, "20 more ticks")
    assert [e for e in app.wrapper.errors() if e[0] == 3] == [
        (3, 101, "Max number of tickers has been reached")
    ]
    assert not _ticks_for(app, 3)
    assert 3 not in {args[0] for args in app.wrapper.named("tickReqParams")}
    assert 3 not in {args[0] for args in app.wrapper.named("marketDataType")}
    assert {1, 2} <= {t[0] for t in app.wrapper.named("tickPrice")}
    assert _active(gateway) == MAX_LINES


@ENCODINGS
def test_cancel_frees_a_line(version: int, start_gateway: GatewayFactory, apps: list[App]) -> None:
    """After cancelMktData, the next request streams where it was refused before."""
    gateway = start_gateway(rate=400, max_server_version=version, max_lines=MAX_LINES)
    app = _connect(apps, gateway)
    app.client.reqMktData(1, _stock("AAPL"), "", False, False, [])
    app.client.reqMktData(2, _stock("MSFT"), "", False, False, [])
    app.client.reqMktData(3, _stock("NVDA"), "", False, False, [])
    wait_for(lambda: [e for e in app.wrapper.errors() if e[:2] == (3, 101)], "101 for reqId 3")
    app.client.cancelMktData(1)
    wait_for(lambda: _active(gateway) == 1, "the cancelled line freed")
    app.client.reqMktData(4, _stock("NVDA"), "", False, False, [])
    wait_for(lambda: len(_ticks_for(app, 4)) >= 5, "ticks for the request after the cancel")
    assert _active(gateway) == MAX_LINES
    assert not [e for e in app.wrapper.errors() if e[0] == 4]


def test_lines_are_counted_across_sessions(start_gateway: GatewayFactory, apps: list[App]) -> None:
    """Two clients share the account's lines (as IB counts them): the second's request beyond
    them is refused, and its first client hanging up frees its lines."""
    gateway = start_gateway(rate=400, max_lines=MAX_LINES)
    first, second = _connect(apps, gateway), _connect(apps, gateway)
    first.client.reqMktData(1, _stock("AAPL"), "", False, False, [])
    second.client.reqMktData(1, _stock("AAPL"), "", False, False, [])
    wait_for(lambda: _active(gateway) == 2, "two streams")
    second.client.reqMktData(2, _stock("MSFT"), "", False, False, [])
    wait_for(lambda: [e for e in second.wrapper.errors() if e[:2] == (2, 101)], "101 for reqId 2")
    apps.remove(first)
    first.close()
    wait_for(lambda: _active(gateway) == 1, "the first client's line freed")
    second.client.reqMktData(3, _stock("MSFT"), "", False, False, [])
    wait_for(lambda: len(_ticks_for(second, 3)) >= 5, "ticks once a line is free")


def test_active_market_data_counts_streams_not_snapshots(
    start_gateway: GatewayFactory, apps: list[App]
) -> None:
    """Each live reqMktData is one subscription, whoever holds it; snapshots hold none."""
    gateway = start_gateway(rate=400)
    assert _active(gateway) == 0
    first, second = _connect(apps, gateway), _connect(apps, gateway)
    first.client.reqMktData(1, _stock("AAPL"), "", False, False, [])
    wait_for(lambda: _active(gateway) == 1, "one stream")
    second.client.reqMktData(7, _stock("AAPL"), "", False, False, [])
    second.client.reqMktData(8, _stock("SPY"), "", True, False, [])
    wait_for(lambda: second.wrapper.named("tickSnapshotEnd"), "the snapshot's end")
    wait_for(lambda: _ticks_for(second, 7), "the second stream")
    assert _active(gateway) == 2
    second.client.cancelMktData(7)
    wait_for(lambda: _active(gateway) == 1, "the cancelled stream gone")


def test_no_line_limit_unless_one_is_given() -> None:
    """By default nothing is refused (harnesses stream hundreds); a limit must be >= 1."""
    assert AsyncGateway().max_lines is None
    assert AsyncGateway(max_lines=IB_DEFAULT_LINES).max_lines == 100
    with pytest.raises(ValueError, match="max_lines"):
        AsyncGateway(max_lines=0)


@ENCODINGS
def test_future_without_expiry_has_several_contract_details(
    version: int, start_gateway: GatewayFactory, apps: list[App]
) -> None:
    """ES FUT CME USD without an expiry gets every ES month then contractDetailsEnd, as IB
    answers it; with the expiry, or with the conId alone, it gets one."""
    gateway = start_gateway(rate=0, max_server_version=version)
    app = _connect(apps, gateway)
    app.client.reqContractDetails(1, ibapi_contract("ES", "FUT", "CME"))
    wait_for(lambda: app.wrapper.named("contractDetailsEnd"), "contractDetailsEnd")
    months = [d.contract.localSymbol for _r, d in app.wrapper.named("contractDetails")]
    assert months == ["ESZ6", "ESH7", "ESM7", "ESU7"]
    app.client.reqContractDetails(2, ibapi_contract("ES", "FUT", "CME", "202703"))
    wait_for(lambda: len(app.wrapper.named("contractDetailsEnd")) == 2, "the second end")
    by_expiry = [d.contract for r, d in app.wrapper.named("contractDetails") if r == 2]
    assert [c.localSymbol for c in by_expiry] == ["ESH7"]
    by_con_id = ibapi_contract("", "", "")
    by_con_id.conId = by_expiry[0].conId
    app.client.reqContractDetails(3, by_con_id)
    wait_for(lambda: len(app.wrapper.named("contractDetailsEnd")) == 3, "the third end")
    assert [d.contract.localSymbol for r, d in app.wrapper.named("contractDetails") if r == 3] == [
        "ESH7"
    ]


@ENCODINGS
@pytest.mark.parametrize(
    ("symbol", "sec_type", "exchange", "currency", "local_symbol"),
    [
        ("NVDA", "STK", "SMART", "USD", "NVDA"),
        ("JPM", "STK", "SMART", "USD", "JPM"),
        ("IWM", "STK", "SMART", "USD", "IWM"),
        ("GBP", "CASH", "IDEALPRO", "USD", "GBP.USD"),
        ("USD", "CASH", "IDEALPRO", "JPY", "USD.JPY"),
    ],
)
def test_new_catalogue_entries_qualify_and_stream(
    version: int,
    symbol: str,
    sec_type: str,
    exchange: str,
    currency: str,
    local_symbol: str,
    start_gateway: GatewayFactory,
    apps: list[App],
) -> None:
    """Contracts a demo user asks for qualify to one contract and stream over ibapi."""
    gateway = start_gateway(rate=400, max_server_version=version)
    app = _connect(apps, gateway)
    contract = ibapi_contract(symbol, sec_type, exchange)
    contract.currency = currency
    app.client.reqContractDetails(1, contract)
    wait_for(lambda: app.wrapper.named("contractDetailsEnd"), "contractDetailsEnd")
    ((_req_id, details),) = app.wrapper.named("contractDetails")
    assert details.contract.localSymbol == local_symbol
    app.client.reqMktData(2, contract, "", False, False, [])
    wait_for(lambda: len(_ticks_for(app, 2)) >= 5, f"ticks for {local_symbol}")
