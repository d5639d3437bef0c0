"""The IB code table covers every code the issue lists, each with a meaning and an action."""

import pytest

from publisher.gateway.codes import CODES, Action, classify

LISTED = (100, 101, 200, 322, 326, 354, 502, 504, 1100, 1101, 1102, 10089, 10167, 10168)
FARMS = (2103, 2104, 2105, 2106, 2107, 2108, 2110, 2157, 2158)


@pytest.mark.parametrize("code", (*LISTED, *FARMS, 10182, 10197))
def test_every_listed_code_is_in_the_table(code: int) -> None:
    """Each code the publisher must handle has its own row with a meaning."""
    assert code in CODES and CODES[code].meaning


def test_lost_streams_are_re_requested_and_competing_sessions_go_stale() -> None:
    """10182 re-requests the instrument; 10197 marks it stale."""
    assert classify(10182).action is Action.REQUEST_LOST
    assert classify(10197).action is Action.COMPETING_SESSION


def test_client_side_disconnects_reconnect() -> None:
    """502 and 504 mean the socket is gone: reconnect."""
    assert classify(502).action is classify(504).action is Action.NOT_CONNECTED


def test_pacing_and_line_limits() -> None:
    """100 slows the pacer; 101 fails the instrument that did not fit."""
    assert classify(100).action is Action.PACING
    assert classify(101).action is Action.REQUEST_FAILED
