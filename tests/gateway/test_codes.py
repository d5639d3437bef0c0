"""IB error/status code classification."""

from publisher.gateway.codes import CODES, Action, classify


def test_connectivity_codes() -> None:
    """1100 degrades, 1101 means resubscribe, 1102 means data kept."""
    assert classify(1100).action is Action.CONNECTIVITY_LOST
    assert classify(1101).action is Action.RESTORED_DATA_LOST
    assert classify(1102).action is Action.RESTORED_DATA_KEPT


def test_request_failures_and_permissions() -> None:
    """200 and 101 fail the instrument; 354/10089/10168 are permission problems."""
    assert classify(200).action is Action.REQUEST_FAILED
    assert classify(101).action is Action.REQUEST_FAILED
    for code in (354, 10089, 10168):
        assert classify(code).action is Action.NO_LIVE_PERMISSION


def test_farm_ok_messages_are_info() -> None:
    """Farm-OK codes are informational."""
    for code in (2104, 2106, 2158):
        assert classify(code).action is Action.INFO


def test_unknown_code_is_a_warning_not_an_error() -> None:
    """An unknown code is classified as a warning and never raises."""
    info = classify(987654)
    assert info.action is Action.WARN
    assert info.code == 987654


def test_every_row_has_a_meaning() -> None:
    """Each table row says what the code means."""
    assert all(row.meaning for row in CODES.values())
