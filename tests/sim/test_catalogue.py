"""The built-in contracts, IB-like matching, and loading extra contracts from a file."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from publisher.sim.catalogue import (
    SYNTHETIC_CON_ID_BASE,
    Catalogue,
    CatalogueError,
    load_catalogue,
    load_instruments,
    synthetic_con_id,
)
from publisher.sim.catalogue.futures import REFERENCE_DATE
from publisher.sim.protocol import ContractQuery

CATALOGUE = Catalogue.builtin()


def _local_symbols(query: ContractQuery) -> list[str]:
    return [i.spec.local_symbol for i in CATALOGUE.match(query)]


@pytest.mark.parametrize(
    ("con_id", "local_symbol", "sec_type", "exchange"),
    [
        (265598, "AAPL", "STK", "SMART"),
        (272093, "MSFT", "STK", "SMART"),
        (756733, "SPY", "STK", "SMART"),
        (320227571, "QQQ", "STK", "SMART"),
        (12087792, "EUR.USD", "CASH", "IDEALPRO"),
    ],
)
def test_builtin_has_the_reference_contracts(
    con_id: int, local_symbol: str, sec_type: str, exchange: str
) -> None:
    """The stocks, ETFs and EUR.USD carry IB's real conIds."""
    instrument = CATALOGUE.by_con_id(con_id)
    assert instrument is not None
    spec = instrument.spec
    assert (spec.local_symbol, spec.sec_type, spec.exchange) == (local_symbol, sec_type, exchange)


def test_builtin_futures_expire_after_november_2026() -> None:
    """ES on CME and CL on NYMEX exist with expiries still in the future."""
    futures = {i.spec.local_symbol: i.spec for i in CATALOGUE if i.spec.sec_type == "FUT"}
    assert {"ESZ6", "CLF7"} <= set(futures)
    assert futures["ESZ6"].exchange == "CME" and futures["ESZ6"].last_trade_date == "20261218"
    assert futures["CLF7"].exchange == "NYMEX"
    assert all(spec.last_trade_date > "20261130" for spec in futures.values())


def test_stock_matches_on_symbol_type_currency_and_smart() -> None:
    """Stock('AAPL', 'SMART', 'USD') matches exactly AAPL."""
    query = ContractQuery(symbol="AAPL", sec_type="STK", exchange="SMART", currency="USD")
    assert _local_symbols(query) == ["AAPL"]


def test_match_echoes_a_valid_listing_exchange() -> None:
    """Asking for AAPL on NASDAQ returns AAPL quoted on NASDAQ, as IB does."""
    (found,) = CATALOGUE.match(ContractQuery(symbol="AAPL", sec_type="STK", exchange="NASDAQ"))
    assert (found.con_id, found.spec.exchange) == (265598, "NASDAQ")


def test_con_id_decides_alone() -> None:
    """A non-zero conId matches regardless of the other (even wrong) fields."""
    query = ContractQuery(con_id=272093, symbol="AAPL")
    assert _local_symbols(query) == ["MSFT"]


def test_con_id_with_an_invalid_exchange_matches_nothing() -> None:
    """A conId asked on an exchange where it does not trade is not found."""
    assert CATALOGUE.match(ContractQuery(con_id=649180695, exchange="SMART")) == ()


def test_underspecified_future_matches_every_expiry() -> None:
    """ES without an expiry matches every listed ES month (the client decides)."""
    query = ContractQuery(symbol="ES", sec_type="FUT", exchange="CME")
    assert sorted(_local_symbols(query)) == ["ESH7", "ESM7", "ESU7", "ESZ6"]


@pytest.mark.parametrize("expiry", ["202612", "20261218"])
def test_future_expiry_prefix_selects_one_contract(expiry: str) -> None:
    """A contract month or a full date picks the December 2026 ES."""
    query = ContractQuery(symbol="ES", sec_type="FUT", last_trade_date_or_contract_month=expiry)
    assert _local_symbols(query) == ["ESZ6"]


def test_local_symbol_alone_is_enough() -> None:
    """localSymbol CLF7 finds the January 2027 crude contract."""
    assert _local_symbols(ContractQuery(local_symbol="CLF7", sec_type="FUT")) == ["CLF7"]


def test_future_on_smart_matches_nothing() -> None:
    """ES is not routed through SMART, so asking there finds nothing."""
    assert _local_symbols(ContractQuery(symbol="ES", sec_type="FUT", exchange="SMART")) == []


def test_forex_matches_base_and_quote_currency() -> None:
    """Forex('EURUSD') as ib_async sends it finds EUR.USD."""
    query = ContractQuery(symbol="EUR", sec_type="CASH", exchange="IDEALPRO", currency="USD")
    assert _local_symbols(query) == ["EUR.USD"]


@pytest.mark.parametrize(
    "query",
    [
        ContractQuery(symbol="NOPE", sec_type="STK"),
        ContractQuery(symbol="AAPL", sec_type="STK", currency="EUR"),
        ContractQuery(symbol="ES", sec_type="FUT", multiplier="5"),
        ContractQuery(),
    ],
)
def test_non_matching_queries_find_nothing(query: ContractQuery) -> None:
    """Unknown symbols, contradicting fields and empty requests match nothing."""
    assert CATALOGUE.match(query) == ()


def test_toml_file_adds_contracts_and_keeps_builtins(tmp_path: Path) -> None:
    """A TOML catalogue extends the built-in one, with sensible defaults for omitted fields."""
    path = tmp_path / "extra.toml"
    path.write_text(
        """
[[contracts]]
con_id = 9939
symbol = "MU"
sec_type = "STK"
exchange = "SMART"
primary_exchange = "NASDAQ"
currency = "USD"
price = 160
sec_ids = { ISIN = "US5951121038" }
"""
    )
    catalogue = load_catalogue(path)
    micron = catalogue.by_con_id(9939)
    assert micron is not None and catalogue.by_con_id(265598) is not None
    assert (micron.spec.local_symbol, micron.spec.trading_class, micron.price, micron.lot) == (
        "MU",
        "MU",
        160.0,
        100,
    )
    assert micron.spec.sec_ids == (("ISIN", "US5951121038"),)
    assert len(catalogue) == len(CATALOGUE) + 1


def test_file_entry_replaces_a_builtin_with_the_same_con_id(tmp_path: Path) -> None:
    """Re-declaring conId 265598 overrides the built-in AAPL."""
    path = tmp_path / "aapl.json"
    entry = {
        "con_id": 265598,
        "symbol": "AAPL",
        "sec_type": "STK",
        "exchange": "SMART",
        "currency": "USD",
        "price": 99.5,
    }
    path.write_text(json.dumps({"contracts": [entry]}))
    aapl = load_catalogue(path).by_con_id(265598)
    assert aapl is not None and aapl.price == 99.5


def test_json_file_may_be_a_bare_list(tmp_path: Path) -> None:
    """A JSON catalogue can be a plain list of contracts; CASH gets a BASE.QUOTE local symbol."""
    path = tmp_path / "fx.json"
    entry = {
        "con_id": 12087797,
        "symbol": "USD",
        "sec_type": "CASH",
        "exchange": "IDEALPRO",
        "currency": "JPY",
        "price": 155.0,
        "min_tick": 0.005,
    }
    path.write_text(json.dumps([entry]))
    (usdjpy,) = load_instruments(path)
    assert usdjpy.spec.local_symbol == "USD.JPY"


@pytest.mark.parametrize(
    ("content", "key", "problem"),
    [
        (
            '[[contracts]]\ncon_id = 1\nsymbol = "X"\nsec_type = "STK"\nexchange = "SMART"\n',
            "currency",
            "missing",
        ),
        (
            '[[contracts]]\ncon_id = "1"\nsymbol = "X"\nsec_type = "STK"\nexchange = "SMART"\n'
            'currency = "USD"\nprice = 1.0\n',
            "con_id",
            "integer",
        ),
        (
            '[[contracts]]\ncon_id = 1\nsymbol = "X"\nsec_type = "STK"\nexchange = "SMART"\n'
            'currency = "USD"\nprice = 1.0\ncolour = "red"\n',
            "colour",
            "unknown key",
        ),
        (
            '[[contracts]]\ncon_id = 1\nsymbol = "X"\nsec_type = "STK"\nexchange = "SMART"\n'
            'currency = "USD"\nprice = -1.0\n',
            "contracts[0]",
            "must be > 0",
        ),
        ("contracts = 3\n", "contracts", "list"),
        ("[[contracts]\n", "", "not valid TOML"),
    ],
)
def test_bad_files_name_the_file_the_key_and_the_problem(
    tmp_path: Path, content: str, key: str, problem: str
) -> None:
    """Every catalogue error says which file, which key and what is wrong."""
    path = tmp_path / "bad.toml"
    path.write_text(content)
    with pytest.raises(CatalogueError) as caught:
        load_instruments(path)
    message = str(caught.value)
    assert str(path) in message and key in caught.value.key and problem in message


@pytest.mark.parametrize(
    ("extra", "key", "message"),
    [
        ("sec_ids = { ISIN = 5 }", "sec_ids", "tags and values must be strings"),
        ('sec_ids = [["ISIN", "x", "y"]]', "sec_ids", 'must be a table like {ISIN = "..."}'),
        ('sec_ids = "US0079031078"', "sec_ids", 'must be a table like {ISIN = "..."}'),
        ("lot = 1.5", "lot", "must be an integer, not 1.5"),
        ("min_tick = true", "min_tick", "must be a number, not True"),
        ("long_name = 7", "long_name", "must be a string, not 7"),
        ('long_name = "Caf\u00e9"', "long_name", "must be ASCII (the TWS protocol is ASCII)"),
    ],
)
def test_values_are_typed_strictly(tmp_path: Path, extra: str, key: str, message: str) -> None:
    """A value of the wrong type is refused, never coerced, with the key and the problem."""
    path = tmp_path / "typed.toml"
    path.write_text(
        '[[contracts]]\ncon_id = 1\nsymbol = "X"\nsec_type = "STK"\nexchange = "SMART"\n'
        f'currency = "USD"\nprice = 1.0\n{extra}\n'
    )
    with pytest.raises(CatalogueError) as caught:
        load_instruments(path)
    assert (caught.value.key, caught.value.problem) == (f"contracts[0].{key}", message)


def test_json_whole_number_float_is_not_an_integer(tmp_path: Path) -> None:
    """JSON 1.0 for con_id is refused: a JSON value is typed as strictly as a TOML one."""
    path = tmp_path / "float.json"
    entry = {"con_id": 1.0, "symbol": "X", "sec_type": "STK", "exchange": "SMART"}
    path.write_text(json.dumps([{**entry, "currency": "USD", "price": 1}]))
    with pytest.raises(CatalogueError) as caught:
        load_instruments(path)
    assert str(caught.value) == f"{path}: contracts[0].con_id: must be an integer, not 1.0"


def test_unsupported_extension_and_missing_file_are_errors(tmp_path: Path) -> None:
    """Only .toml and .json are read, and a missing file is reported, not raised raw."""
    (tmp_path / "c.yaml").write_text("contracts: []")
    with pytest.raises(CatalogueError, match="unsupported file type"):
        load_instruments(tmp_path / "c.yaml")
    with pytest.raises(CatalogueError, match="cannot read"):
        load_instruments(tmp_path / "missing.toml")


SP100 = (
    *"""AAPL ABBV ABT ACN ADBE AIG AMD AMGN AMT AMZN AVGO AXP BA BAC BK BKNG BLK BMY C CAT CHTR CL
    CMCSA COF COP COST CRM CSCO CVS CVX DE DHR DIS DUK EMR F FDX GD GE GILD GM GOOG GOOGL GS HD HON
    IBM INTC INTU ISRG JNJ JPM KO LIN LLY LMT LOW MA MCD MDLZ MDT MET META MMM MO MRK MS MSFT NEE
    NFLX NKE NOW NVDA ORCL PEP PFE PG PLTR PM PYPL QCOM RTX SBUX SCHW SO SPG T TGT TMO TMUS TSLA
    TXN UBER UNH UNP UPS USB V VZ WFC WMT XOM""".split(),  # noqa: SIM905  # a readable list
    "BRK B",
)
ETFS = ("SPY", "QQQ", "IWM", "DIA", "VOO", "VTI", "GLD", "TLT")
NASDAQ_LISTED = {"AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "COST", "QQQ", "TLT"}


@pytest.mark.parametrize("symbol", [*SP100, *ETFS])
def test_builtin_has_the_sp100_and_index_etfs(symbol: str) -> None:
    """Stock(symbol, 'SMART', 'USD') qualifies to one contract on its primary exchange."""
    query = ContractQuery(symbol=symbol, sec_type="STK", exchange="SMART", currency="USD")
    (found,) = CATALOGUE.match(query)
    primary = "NASDAQ" if symbol in NASDAQ_LISTED else found.spec.primary_exchange
    assert (found.spec.local_symbol, found.spec.primary_exchange) == (symbol, primary)
    assert found.spec.primary_exchange in {"NASDAQ", "NYSE", "ARCA"}
    assert found.spec.stock_type == ("ETF" if symbol in ETFS else "COMMON")
    assert found.price > 0


@pytest.mark.parametrize(
    ("pair", "con_id"),
    [
        ("EUR.USD", 12087792),
        ("GBP.USD", 12087797),
        ("USD.JPY", 15016059),
        ("USD.CHF", 12087820),
        ("AUD.USD", 14433401),
        ("USD.CAD", 15016062),
        ("NZD.USD", 39453441),
        ("EUR.GBP", 12087807),
        ("EUR.JPY", 14321016),
    ],
)
def test_builtin_has_the_major_fx_pairs(pair: str, con_id: int) -> None:
    """Forex(pair) as ib_async sends it (symbol, currency, IDEALPRO) finds the pair, IB's conId."""
    base, quote = pair.split(".")
    query = ContractQuery(symbol=base, sec_type="CASH", exchange="IDEALPRO", currency=quote)
    (found,) = CATALOGUE.match(query)
    assert (found.spec.local_symbol, found.con_id, found.synthetic) == (pair, con_id, False)


@pytest.mark.parametrize(
    ("symbol", "exchange", "months"),
    [
        ("ES", "CME", ["ESZ6", "ESH7", "ESM7", "ESU7"]),
        ("NQ", "CME", ["NQZ6", "NQH7", "NQM7", "NQU7"]),
        ("CL", "NYMEX", ["CLF7", "CLG7", "CLH7", "CLJ7", "CLK7", "CLM7"]),
        ("GC", "COMEX", ["GCZ6", "GCG7", "GCJ7", "GCM7"]),
    ],
)
def test_builtin_futures_list_several_months(symbol: str, exchange: str, months: list[str]) -> None:
    """A future without an expiry matches every listed month, nearest first; each month alone,
    by its contract month or by its conId, matches one."""
    query = ContractQuery(symbol=symbol, sec_type="FUT", exchange=exchange, currency="USD")
    found = CATALOGUE.match(query)
    assert [i.spec.local_symbol for i in found] == months
    assert [i.spec.last_trade_date for i in found] == sorted(i.spec.last_trade_date for i in found)
    assert all(i.spec.last_trade_date > REFERENCE_DATE and i.synthetic for i in found)
    for instrument in found:
        month = replace(query, last_trade_date_or_contract_month=instrument.spec.contract_month)
        assert CATALOGUE.match(month) == (instrument,)
        assert CATALOGUE.match(ContractQuery(con_id=instrument.con_id)) == (instrument,)


def test_synthetic_con_ids_follow_the_rule_and_real_ones_are_kept() -> None:
    """A synthetic stock or pair has the rule's 9xx,xxx,xxx conId; IB's real ones stay."""
    for instrument in CATALOGUE:
        spec = instrument.spec
        rule = synthetic_con_id(spec.sec_type, spec.local_symbol)
        if instrument.synthetic and spec.sec_type != "FUT":
            assert instrument.con_id == rule >= SYNTHETIC_CON_ID_BASE
        elif not instrument.synthetic:
            assert instrument.con_id < SYNTHETIC_CON_ID_BASE
    real = {"AAPL": 265598, "MSFT": 272093, "NVDA": 4815747, "TSLA": 76792991, "SPY": 756733}
    for symbol, con_id in real.items():
        found = CATALOGUE.by_con_id(con_id)
        assert found is not None and found.spec.symbol == symbol and not found.synthetic
    assert len(CATALOGUE) >= 130
