"""A publisher's configuration as the user writes it: TOML text, loaded by the real loader.

Every harness (the in-process publisher and ``ibpub run`` as a process) goes through this one
file format, so the tests exercise the same path a user does and depend only on the documented
keys, not on how the settings objects are built.
"""

import json
from collections.abc import Mapping, Sequence
from typing import Any

Table = Mapping[str, Any]

AAPL: Table = {"symbol": "AAPL", "sec_type": "STK", "primary_exchange": "NASDAQ"}
MSFT: Table = {"symbol": "MSFT", "sec_type": "STK"}
SPY: Table = {"symbol": "SPY", "sec_type": "STK"}
QQQ: Table = {"symbol": "QQQ", "sec_type": "STK"}
ESZ6: Table = {
    "key": "ESZ6",
    "symbol": "ES",
    "sec_type": "FUT",
    "exchange": "CME",
    "last_trade_date": "202612",
}
CLF7: Table = {
    "key": "CLF7",
    "symbol": "CL",
    "sec_type": "FUT",
    "exchange": "NYMEX",
    "last_trade_date": "202701",
}
EURUSD: Table = {"symbol": "EUR", "sec_type": "CASH", "exchange": "IDEALPRO", "currency": "USD"}
BOGUS: Table = {"key": "BOGUS", "symbol": "NOSUCHSYMBOL", "sec_type": "STK"}
"""No such contract: the simulated gateway answers 200 (no security definition)."""

THREE = (AAPL, MSFT, EURUSD)
THREE_KEYS = ("AAPL", "MSFT", "EUR.USD")
FOUR = (AAPL, MSFT, ESZ6, EURUSD)
FOUR_KEYS = ("AAPL", "MSFT", "ESZ6", "EUR.USD")
SEVEN = (AAPL, MSFT, SPY, QQQ, ESZ6, CLF7, EURUSD)
SEVEN_KEYS = ("AAPL", "MSFT", "SPY", "QQQ", "ESZ6", "CLF7", "EUR.USD")


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string for everything the tests write
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def toml(sections: Mapping[str, Table], instruments: Sequence[Table]) -> str:
    """``[section]`` tables then one ``[[instruments]]`` table each; None values are left out."""
    lines: list[str] = []
    for name, table in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {_value(v)}" for key, v in table.items() if v is not None]
        lines.append("")
    for instrument in instruments:
        lines.append("[[instruments]]")
        lines += [f"{key} = {_value(v)}" for key, v in instrument.items() if v is not None]
        lines.append("")
    return "\n".join(lines)


FAST_FAULTS: Table = {
    "connect_timeout": 10.0,
    "reconnect_initial": 0.2,
    "reconnect_max": 1.0,
    "probe_interval": 0.3,
    "probe_timeout": 10.0,
    "stale_after": 0.0,
}
"""[gateway] keys of the fault tests: quick retries and probes so recoveries take a second or
two, but every timeout generous (a slow machine must not look like a dead gateway); a test of
a timeout sets that one short itself."""

LIVE: Mapping[str, Any] = {"name": "live", "client_id": 20, "instruments": FOUR}
"""The publisher options of the subscriber tests: four instruments, a future among them."""
