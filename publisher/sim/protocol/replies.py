"""The fixed codes and texts a gateway answers with, as TWS spells them.

TWS reports both failures and status through the error message (4); these are the ones the
simulator sends, with the texts a client may match on.
"""

from typing import Final

MAX_TICKERS: Final = 101
NO_SECURITY_DEFINITION: Final = 200
CANNOT_FIND_TICKER: Final = 300
DUPLICATE_TICKER_ID: Final = 322
CLIENT_ID_IN_USE: Final = 326
NO_SECURITY_DEFINITION_TEXT: Final = "No security definition has been found for the request"
MAX_TICKERS_TEXT: Final = "Max number of tickers has been reached"
"""Error 101: a reqMktData beyond the account's market-data lines; the request gets no data."""
CLIENT_ID_IN_USE_TEXT: Final = (
    "Unable to connect as the client id is already in use. Retry with a unique client id."
)
FARM_STATUS: Final = (
    (2104, "Market data farm connection is OK:usfarm"),
    (2106, "HMDS data farm connection is OK:ushmds"),
    (2158, "Sec-def data farm connection is OK:secdefnj"),
)
"""The informational "errors" TWS sends with id -1 right after startApi."""

BBO_EXCHANGE: Final = "9c0001"
"""tickReqParams' bboExchange: an opaque exchange-map id in real TWS."""
SNAPSHOT_PERMISSIONS: Final = 3
"""tickReqParams' snapshotPermissions."""
