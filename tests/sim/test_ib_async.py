"""ib_async, an independent TWS client, against the simulator: it negotiates v178 (text) and
needs startup requests answered, contract qualification, and ticks in its own field layout."""

import asyncio
import itertools
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from ib_async import IB, Stock

from publisher.sim import SimulatedGateway

_client_ids = itertools.count(200)
DEADLINE = 30.0
"""ib_async's per-stage timeout and the polls' deadline: generous, a slow machine is no error."""


@pytest.fixture(scope="module")
def gateway() -> Iterator[SimulatedGateway]:
    """One gateway for the module; every test connects with its own client id."""
    gw = SimulatedGateway(rate=200).start()
    yield gw
    gw.stop()


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A private event loop in the test thread for ib_async, closed cleanly afterwards."""
    event_loop = asyncio.new_event_loop()
    asyncio.set_event_loop(event_loop)
    yield event_loop
    pending = [t for t in asyncio.all_tasks(event_loop) if not t.done()]
    for task in pending:
        task.cancel()
    event_loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    event_loop.run_until_complete(event_loop.shutdown_asyncgens())
    asyncio.set_event_loop(None)
    event_loop.close()


@pytest.fixture
def ib(gateway: SimulatedGateway, loop: asyncio.AbstractEventLoop) -> Iterator[IB]:
    """A connected ib_async IB; disconnected at teardown."""
    client = IB()
    client.connect("127.0.0.1", gateway.port, clientId=next(_client_ids), timeout=DEADLINE)
    yield client
    client.disconnect()
    loop.run_until_complete(asyncio.sleep(0))  # let the transport finish closing


def _poll(ib: IB, condition: Callable[[], Any], what: str) -> None:
    """Run ib_async's loop until ``condition`` holds; fail after the deadline."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        ib.sleep(0.02)


def test_connect_completes_because_startup_requests_are_answered(
    gateway: SimulatedGateway, loop: asyncio.AbstractEventLoop
) -> None:
    """IB.connect gets an answer to every startup request (with ``raiseSyncErrors`` one left
    unanswered until the timeout fails the connect), at server version 178."""
    client = IB()
    client.connect(
        "127.0.0.1",
        gateway.port,
        clientId=next(_client_ids),
        timeout=DEADLINE,
        raiseSyncErrors=True,
    )
    try:
        assert client.client.serverVersion() == 178
        assert client.managedAccounts() == ["DU1234567"]
    finally:
        client.disconnect()
        loop.run_until_complete(asyncio.sleep(0))


def test_qualify_contracts_fills_in_the_contract(ib: IB) -> None:
    """qualifyContracts(Stock('AAPL', 'SMART', 'USD')) sets IB's conId and listing details."""
    (contract,) = ib.qualifyContracts(Stock("AAPL", "SMART", "USD"))
    assert (contract.conId, contract.primaryExchange, contract.tradingClass) == (
        265598,
        "NASDAQ",
        "NMS",
    )


def test_req_mkt_data_populates_bid_ask_and_last(ib: IB) -> None:
    """A ticker for a qualified stock gets bid, ask and last with sizes."""
    (contract,) = ib.qualifyContracts(Stock("AAPL", "SMART", "USD"))
    ticker = ib.reqMktData(contract)
    _poll(ib, lambda: not math.isnan(ticker.last), "bid, ask and last")
    assert 0 < ticker.bid < ticker.ask
    assert ticker.bidSize > 0 and ticker.askSize > 0 and ticker.lastSize > 0
    assert ticker.minTick == 0.01 and ticker.marketDataType == 1
    ib.cancelMktData(contract)


def test_unknown_symbol_gets_error_200(ib: IB) -> None:
    """An unknown stock cannot be qualified and ib_async's errorEvent sees code 200."""
    errors: list[tuple[int, int]] = []
    ib.errorEvent += lambda req_id, code, _text, _contract: errors.append((req_id, code))
    assert ib.qualifyContracts(Stock("NOPE", "SMART", "USD")) == [None]
    assert [code for _, code in errors] == [200]
