"""The code behind a ``delayed`` instrument status reaches subscribers (issue 11's defect)."""

from tests.support.config import THREE_KEYS
from tests.support.listener import status_seen, ticks_after
from tests.support.stack import Stack


def test_a_delayed_status_after_10167_carries_the_code(stack: Stack) -> None:
    """Market data type 3 first, then IB's 10167 advisory: a delayed status carries 10167."""
    stack.start_publisher(gateway={"market_data_type": "delayed"})
    listener = stack.listen()
    stack.start_gateway()
    first = listener.until(status_seen("instrument", "delayed", key="AAPL"), "AAPL delayed")
    assert listener.messages[first - 1]["code"] is None  # market data type 3: no IB code
    listener.until(ticks_after(0, THREE_KEYS), "every instrument ticking")
    stack.faults(lambda f: f.send_error(10167, "Displaying delayed data.", symbol="AAPL"))
    at = listener.until(
        status_seen("instrument", "delayed", first, key="AAPL", code=10167), "code 10167"
    )
    assert listener.messages[at - 1]["message"] == "Displaying delayed data."
