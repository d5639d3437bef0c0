"""The built-in US equities: the S&P 100 stocks and the main index ETFs, one row each. Data.

Every row is routed SMART in USD and listed on its primary exchange (NASDAQ, NYSE or ARCA, as
IB reports ``primaryExchange``). A conId of ``0`` means IB's real one is not known here: the
builder makes a synthetic one (``9xx_xxx_xxx``) and marks the instrument ``synthetic``. The
non-zero conIds are IB's. Prices are plausible late-2026 levels where the random walk starts;
they are not quotes. The stocks are the S&P 100's members of 2025 (Alphabet's Class A and C
both, ``BRK B`` spelt as IB spells it); membership moves every quarter, so a recent leaver or two
is kept rather than dropped.
"""

from typing import Final

from publisher.sim.catalogue.contracts import Instrument, stock

__all__ = ["EQUITIES", "ETF_SYMBOLS", "SP100_SYMBOLS"]

_Row = tuple[str, str, int, float, str, str]
"""symbol, primary exchange, conId (0: synthetic), start price, long name, industry."""

_SP100: Final[tuple[_Row, ...]] = (
    ("AAPL", "NASDAQ", 265598, 230.0, "APPLE INC", "Technology"),
    ("ABBV", "NYSE", 0, 225.0, "ABBVIE INC", "Consumer, Non-cyclical"),
    ("ABT", "NYSE", 0, 130.0, "ABBOTT LABORATORIES", "Consumer, Non-cyclical"),
    ("ACN", "NYSE", 0, 250.0, "ACCENTURE PLC-CL A", "Technology"),
    ("ADBE", "NASDAQ", 0, 340.0, "ADOBE INC", "Technology"),
    ("AIG", "NYSE", 0, 78.0, "AMERICAN INTERNATIONAL GROUP", "Financial"),
    ("AMD", "NASDAQ", 4391, 215.0, "ADVANCED MICRO DEVICES", "Technology"),
    ("AMGN", "NASDAQ", 0, 330.0, "AMGEN INC", "Consumer, Non-cyclical"),
    ("AMT", "NYSE", 0, 180.0, "AMERICAN TOWER CORP", "Financial"),
    ("AMZN", "NASDAQ", 3691937, 230.0, "AMAZON.COM INC", "Communications"),
    ("AVGO", "NASDAQ", 0, 380.0, "BROADCOM INC", "Technology"),
    ("AXP", "NYSE", 0, 360.0, "AMERICAN EXPRESS CO", "Financial"),
    ("BA", "NYSE", 0, 205.0, "BOEING CO/THE", "Industrial"),
    ("BAC", "NYSE", 0, 52.0, "BANK OF AMERICA CORP", "Financial"),
    ("BK", "NYSE", 0, 110.0, "BANK OF NEW YORK MELLON CORP", "Financial"),
    ("BKNG", "NASDAQ", 0, 5100.0, "BOOKING HOLDINGS INC", "Communications"),
    ("BLK", "NYSE", 0, 1050.0, "BLACKROCK INC", "Financial"),
    ("BMY", "NYSE", 0, 47.0, "BRISTOL-MYERS SQUIBB CO", "Consumer, Non-cyclical"),
    ("BRK B", "NYSE", 0, 500.0, "BERKSHIRE HATHAWAY INC-CL B", "Financial"),
    ("C", "NYSE", 0, 100.0, "CITIGROUP INC", "Financial"),
    ("CAT", "NYSE", 0, 560.0, "CATERPILLAR INC", "Industrial"),
    ("CHTR", "NASDAQ", 0, 220.0, "CHARTER COMMUNICATIONS INC-A", "Communications"),
    ("CL", "NYSE", 0, 78.0, "COLGATE-PALMOLIVE CO", "Consumer, Non-cyclical"),
    ("CMCSA", "NASDAQ", 0, 28.0, "COMCAST CORP-CLASS A", "Communications"),
    ("COF", "NYSE", 0, 220.0, "CAPITAL ONE FINANCIAL CORP", "Financial"),
    ("COP", "NYSE", 0, 90.0, "CONOCOPHILLIPS", "Energy"),
    ("COST", "NASDAQ", 0, 920.0, "COSTCO WHOLESALE CORP", "Consumer, Cyclical"),
    ("CRM", "NYSE", 0, 240.0, "SALESFORCE INC", "Technology"),
    ("CSCO", "NASDAQ", 0, 75.0, "CISCO SYSTEMS INC", "Communications"),
    ("CVS", "NYSE", 0, 78.0, "CVS HEALTH CORP", "Consumer, Non-cyclical"),
    ("CVX", "NYSE", 0, 150.0, "CHEVRON CORP", "Energy"),
    ("DE", "NYSE", 0, 470.0, "DEERE & CO", "Industrial"),
    ("DHR", "NYSE", 0, 215.0, "DANAHER CORP", "Consumer, Non-cyclical"),
    ("DIS", "NYSE", 0, 110.0, "WALT DISNEY CO/THE", "Communications"),
    ("DUK", "NYSE", 0, 122.0, "DUKE ENERGY CORP", "Utilities"),
    ("EMR", "NYSE", 0, 135.0, "EMERSON ELECTRIC CO", "Industrial"),
    ("F", "NYSE", 0, 13.0, "FORD MOTOR CO", "Consumer, Cyclical"),
    ("FDX", "NYSE", 0, 280.0, "FEDEX CORP", "Industrial"),
    ("GD", "NYSE", 0, 340.0, "GENERAL DYNAMICS CORP", "Industrial"),
    ("GE", "NYSE", 0, 300.0, "GENERAL ELECTRIC CO", "Industrial"),
    ("GILD", "NASDAQ", 0, 120.0, "GILEAD SCIENCES INC", "Consumer, Non-cyclical"),
    ("GM", "NYSE", 0, 72.0, "GENERAL MOTORS CO", "Consumer, Cyclical"),
    ("GOOG", "NASDAQ", 208813720, 290.0, "ALPHABET INC-CL C", "Communications"),
    ("GOOGL", "NASDAQ", 208813719, 289.0, "ALPHABET INC-CL A", "Communications"),
    ("GS", "NYSE", 0, 800.0, "GOLDMAN SACHS GROUP INC", "Financial"),
    ("HD", "NYSE", 0, 360.0, "HOME DEPOT INC", "Consumer, Cyclical"),
    ("HON", "NASDAQ", 0, 195.0, "HONEYWELL INTERNATIONAL INC", "Industrial"),
    ("IBM", "NYSE", 0, 300.0, "INTL BUSINESS MACHINES CORP", "Technology"),
    ("INTC", "NASDAQ", 0, 38.0, "INTEL CORP", "Technology"),
    ("INTU", "NASDAQ", 0, 650.0, "INTUIT INC", "Technology"),
    ("ISRG", "NASDAQ", 0, 560.0, "INTUITIVE SURGICAL INC", "Consumer, Non-cyclical"),
    ("JNJ", "NYSE", 0, 200.0, "JOHNSON & JOHNSON", "Consumer, Non-cyclical"),
    ("JPM", "NYSE", 0, 310.0, "JPMORGAN CHASE & CO", "Financial"),
    ("KO", "NYSE", 0, 70.0, "COCA-COLA CO/THE", "Consumer, Non-cyclical"),
    ("LIN", "NASDAQ", 0, 420.0, "LINDE PLC", "Basic Materials"),
    ("LLY", "NYSE", 0, 1000.0, "ELI LILLY & CO", "Consumer, Non-cyclical"),
    ("LMT", "NYSE", 0, 480.0, "LOCKHEED MARTIN CORP", "Industrial"),
    ("LOW", "NYSE", 0, 240.0, "LOWE'S COS INC", "Consumer, Cyclical"),
    ("MA", "NYSE", 0, 560.0, "MASTERCARD INC - A", "Financial"),
    ("MCD", "NYSE", 0, 305.0, "MCDONALD'S CORP", "Consumer, Cyclical"),
    ("MDLZ", "NASDAQ", 0, 58.0, "MONDELEZ INTERNATIONAL INC-A", "Consumer, Non-cyclical"),
    ("MDT", "NYSE", 0, 98.0, "MEDTRONIC PLC", "Consumer, Non-cyclical"),
    ("MET", "NYSE", 0, 80.0, "METLIFE INC", "Financial"),
    ("META", "NASDAQ", 107113386, 640.0, "META PLATFORMS INC-CLASS A", "Communications"),
    ("MMM", "NYSE", 0, 170.0, "3M CO", "Industrial"),
    ("MO", "NYSE", 0, 58.0, "ALTRIA GROUP INC", "Consumer, Non-cyclical"),
    ("MRK", "NYSE", 0, 100.0, "MERCK & CO. INC.", "Consumer, Non-cyclical"),
    ("MS", "NYSE", 0, 165.0, "MORGAN STANLEY", "Financial"),
    ("MSFT", "NASDAQ", 272093, 510.0, "MICROSOFT CORP", "Technology"),
    ("NEE", "NYSE", 0, 85.0, "NEXTERA ENERGY INC", "Utilities"),
    ("NFLX", "NASDAQ", 0, 110.0, "NETFLIX INC", "Communications"),
    ("NKE", "NYSE", 0, 65.0, "NIKE INC -CL B", "Consumer, Cyclical"),
    ("NOW", "NYSE", 0, 850.0, "SERVICENOW INC", "Technology"),
    ("NVDA", "NASDAQ", 4815747, 185.0, "NVIDIA CORP", "Technology"),
    ("ORCL", "NYSE", 0, 220.0, "ORACLE CORP", "Technology"),
    ("PEP", "NASDAQ", 0, 150.0, "PEPSICO INC", "Consumer, Non-cyclical"),
    ("PFE", "NYSE", 0, 25.0, "PFIZER INC", "Consumer, Non-cyclical"),
    ("PG", "NYSE", 0, 150.0, "PROCTER & GAMBLE CO/THE", "Consumer, Non-cyclical"),
    ("PLTR", "NASDAQ", 0, 170.0, "PALANTIR TECHNOLOGIES INC-A", "Technology"),
    ("PM", "NYSE", 0, 155.0, "PHILIP MORRIS INTERNATIONAL", "Consumer, Non-cyclical"),
    ("PYPL", "NASDAQ", 0, 65.0, "PAYPAL HOLDINGS INC", "Financial"),
    ("QCOM", "NASDAQ", 0, 170.0, "QUALCOMM INC", "Technology"),
    ("RTX", "NYSE", 0, 175.0, "RTX CORP", "Industrial"),
    ("SBUX", "NASDAQ", 0, 85.0, "STARBUCKS CORP", "Consumer, Cyclical"),
    ("SCHW", "NYSE", 0, 95.0, "SCHWAB (CHARLES) CORP", "Financial"),
    ("SO", "NYSE", 0, 90.0, "SOUTHERN CO/THE", "Utilities"),
    ("SPG", "NYSE", 0, 180.0, "SIMON PROPERTY GROUP INC", "Financial"),
    ("T", "NYSE", 0, 26.0, "AT&T INC", "Communications"),
    ("TGT", "NYSE", 0, 95.0, "TARGET CORP", "Consumer, Cyclical"),
    ("TMO", "NYSE", 0, 560.0, "THERMO FISHER SCIENTIFIC INC", "Consumer, Non-cyclical"),
    ("TMUS", "NASDAQ", 0, 215.0, "T-MOBILE US INC", "Communications"),
    ("TSLA", "NASDAQ", 76792991, 430.0, "TESLA INC", "Consumer, Cyclical"),
    ("TXN", "NASDAQ", 0, 170.0, "TEXAS INSTRUMENTS INC", "Technology"),
    ("UBER", "NYSE", 0, 90.0, "UBER TECHNOLOGIES INC", "Communications"),
    ("UNH", "NYSE", 0, 330.0, "UNITEDHEALTH GROUP INC", "Consumer, Non-cyclical"),
    ("UNP", "NYSE", 0, 230.0, "UNION PACIFIC CORP", "Industrial"),
    ("UPS", "NYSE", 0, 95.0, "UNITED PARCEL SERVICE-CL B", "Industrial"),
    ("USB", "NYSE", 0, 48.0, "US BANCORP", "Financial"),
    ("V", "NYSE", 0, 340.0, "VISA INC-CLASS A SHARES", "Financial"),
    ("VZ", "NYSE", 0, 41.0, "VERIZON COMMUNICATIONS INC", "Communications"),
    ("WFC", "NYSE", 0, 85.0, "WELLS FARGO & CO", "Financial"),
    ("WMT", "NASDAQ", 0, 105.0, "WALMART INC", "Consumer, Non-cyclical"),
    ("XOM", "NYSE", 0, 115.0, "EXXON MOBIL CORP", "Energy"),
)
"""The S&P 100 stocks. NFLX is priced after its 2025 ten-for-one split."""

_ETFS: Final[tuple[_Row, ...]] = (
    ("SPY", "ARCA", 756733, 680.0, "SPDR S&P 500 ETF TRUST", "Funds"),
    ("QQQ", "NASDAQ", 320227571, 610.0, "INVESCO QQQ TRUST SERIES 1", "Funds"),
    ("IWM", "ARCA", 0, 245.0, "ISHARES RUSSELL 2000 ETF", "Funds"),
    ("DIA", "ARCA", 0, 470.0, "SPDR DJIA TRUST", "Funds"),
    ("VOO", "ARCA", 0, 625.0, "VANGUARD S&P 500 ETF", "Funds"),
    ("VTI", "ARCA", 0, 330.0, "VANGUARD TOTAL STOCK MKT ETF", "Funds"),
    ("XLF", "ARCA", 0, 53.0, "FINANCIAL SELECT SECTOR SPDR", "Funds"),
    ("XLK", "ARCA", 0, 285.0, "TECHNOLOGY SELECT SECT SPDR", "Funds"),
    ("XLE", "ARCA", 0, 90.0, "ENERGY SELECT SECTOR SPDR", "Funds"),
    ("GLD", "ARCA", 0, 385.0, "SPDR GOLD SHARES", "Funds"),
    ("TLT", "NASDAQ", 0, 90.0, "ISHARES 20+ YEAR TREASURY BD", "Funds"),
    ("EEM", "ARCA", 0, 53.0, "ISHARES MSCI EMERGING MARKETS", "Funds"),
)
"""The main index and sector ETFs."""

_DETAILS: Final = {
    # The four contracts the catalogue has carried from the start keep their full details.
    "AAPL": {"isin": "US0378331005", "category": "Computers"},
    "MSFT": {"isin": "US5949181045", "category": "Computers"},
    "SPY": {"isin": "US78462F1030", "trading_class": "SPY", "category": "Equity Fund"},
    "QQQ": {"isin": "US46090E1038", "category": "Equity Fund"},
}

SP100_SYMBOLS: Final = tuple(row[0] for row in _SP100)
ETF_SYMBOLS: Final = tuple(row[0] for row in _ETFS)


def _build(row: _Row, *, etf: bool) -> Instrument:
    symbol, primary, con_id, price, long_name, industry = row
    extra = _DETAILS.get(symbol, {})
    return stock(
        symbol,
        primary,
        con_id,
        price,
        long_name,
        isin=extra.get("isin", ""),
        trading_class=extra.get("trading_class", "NMS"),
        stock_type="ETF" if etf else "COMMON",
        industry=industry,
        category=extra.get("category", "Equity Fund" if etf else industry),
    )


EQUITIES: Final[tuple[Instrument, ...]] = tuple(_build(r, etf=False) for r in _SP100) + tuple(
    _build(r, etf=True) for r in _ETFS
)
"""The S&P 100 stocks, then the ETFs."""
