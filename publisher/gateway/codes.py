"""IB's error and status codes, classified by a pure function.

The table says what each code means (paraphrasing IB's TWS API documentation, "Message Codes")
and what the publisher does about it; ``docs/operations.md`` renders the same table for
operators. Unknown codes are warnings: counted in ``ibpub_gateway_errors_total`` and logged
once, never fatal.
"""

from dataclasses import dataclass
from enum import Enum
from typing import Final


class Action(Enum):
    """What the publisher does when a code arrives."""

    INFO = "info"  # informational (farm OK and the like): counted, logged at debug
    WARN = "warn"  # worth a log line and a counter, nothing else changes
    CONNECTIVITY_LOST = "connectivity_lost"  # the gateway lost IB: gateway `degraded`
    RESTORED_DATA_LOST = "restored_data_lost"  # back to `connected`, re-subscribe everything
    RESTORED_DATA_KEPT = "restored_data_kept"  # back to `connected`, nothing to redo
    CLIENT_ID_IN_USE = "client_id_in_use"  # reconnect with the next configured client id
    PACING = "pacing"  # we sent too fast: slow the request pacer down
    REQUEST_FAILED = "request_failed"  # the instrument behind the request is `failed`
    NO_LIVE_PERMISSION = "no_live_permission"  # re-request delayed data if allowed, else failed
    DELAYED_INSTEAD = "delayed_instead"  # the gateway streams delayed data: instrument `delayed`
    REQUEST_LOST = "request_lost"  # the stream died with the link: re-request the instrument
    COMPETING_SESSION = "competing_session"  # another login took the live data: `stale`
    NOT_CONNECTED = "not_connected"  # client-side: the socket is gone, reconnect
    DECODE_ERROR = "decode_error"  # client-side: a frame was skipped; ibpub_decode_errors_total
    ADVISORY = "advisory"  # about one request, not a failure: carried on the instrument's status


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """One row of the table: the code, what it means, what the publisher does."""

    code: int
    meaning: str
    action: Action


def _table(*rows: tuple[int, str, Action]) -> dict[int, CodeInfo]:
    return {code: CodeInfo(code, meaning, action) for code, meaning, action in rows}


CODES: Final = _table(
    (100, "Max rate of messages per second exceeded (pacing violation)", Action.PACING),
    (101, "Max number of tickers reached (market data lines exhausted)", Action.REQUEST_FAILED),
    (200, "No security definition found for the request", Action.REQUEST_FAILED),
    (300, "Can't find EId with ticker id (cancel of an unknown request)", Action.INFO),
    (309, "Max number of market depth requests reached", Action.REQUEST_FAILED),
    (316, "Market depth data halted: re-subscribe", Action.REQUEST_LOST),
    (317, "Market depth data reset: empty the book and re-subscribe", Action.REQUEST_LOST),
    (322, "Error processing request (for example a duplicate ticker id)", Action.REQUEST_FAILED),
    (326, "Unable to connect: client id already in use", Action.CLIENT_ID_IN_USE),
    (354, "Requested market data is not subscribed", Action.NO_LIVE_PERMISSION),
    (502, "Couldn't connect to TWS (client-side)", Action.NOT_CONNECTED),
    (504, "Not connected (client-side)", Action.NOT_CONNECTED),
    (505, "Unknown message id (client-side): the frame is skipped", Action.DECODE_ERROR),
    (507, "Bad message length (client-side): the stream cannot be trusted", Action.NOT_CONNECTED),
    (508, "Bad message (client-side): counted when the decoder gives up", Action.INFO),
    (510, "Request market data sending error (client-side)", Action.WARN),
    (511, "Cancel market data sending error (client-side)", Action.WARN),
    (1100, "Connectivity between IB and the gateway lost", Action.CONNECTIVITY_LOST),
    (1101, "Connectivity restored, data lost: resubscribe", Action.RESTORED_DATA_LOST),
    (1102, "Connectivity restored, data maintained", Action.RESTORED_DATA_KEPT),
    (1300, "Socket port reset: the gateway drops this connection", Action.WARN),
    (2103, "Market data farm connection is broken", Action.WARN),
    (2104, "Market data farm connection is OK", Action.INFO),
    (2105, "HMDS (historical) data farm connection is broken", Action.WARN),
    (2106, "HMDS (historical) data farm connection is OK", Action.INFO),
    (2107, "HMDS data farm connection is inactive but available on demand", Action.INFO),
    (2108, "Market data farm connection is inactive but available on demand", Action.INFO),
    (2110, "Connectivity between the gateway and IB is broken; will be restored", Action.WARN),
    (2119, "Market data farm is connecting", Action.INFO),
    (2157, "Sec-def data farm connection is broken", Action.WARN),
    (2158, "Sec-def data farm connection is OK", Action.INFO),
    (10089, "Market data requires an additional API subscription", Action.NO_LIVE_PERMISSION),
    (10090, "Part of the requested market data is not subscribed", Action.ADVISORY),
    (
        10092,
        "Deep market data not supported for this security type/exchange",
        Action.REQUEST_FAILED,
    ),
    (10167, "Not subscribed: displaying delayed market data", Action.DELAYED_INSTEAD),
    (10168, "Not subscribed; delayed market data not enabled", Action.NO_LIVE_PERMISSION),
    (10182, "Failed to request live updates (disconnected)", Action.REQUEST_LOST),
    (10190, "Max number of tick-by-tick requests reached", Action.REQUEST_FAILED),
    (10197, "No market data during competing live session", Action.COMPETING_SESSION),
)
"""Every code ibpub knows. Farm codes (2103-2158) only log: a gateway reports farms it does not
use for this client's instruments, and a broken farm that matters shows up as stale instruments
or 1100. 2110 only logs because 1100/1101/1102 carry the decision."""


def classify(code: int) -> CodeInfo:
    """The meaning and action for an IB code; unknown codes are warnings."""
    info = CODES.get(code)
    if info is not None:
        return info
    return CodeInfo(code, "unknown code", Action.WARN)
