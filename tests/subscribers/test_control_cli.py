"""``ibsub request``, ``ibsub lines`` and ``ibsub quotes --request`` as a user runs them:
subprocesses against the scripted control server (and a bus PUB socket) in this process."""

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq
import zmq.auth

from publisher.commands.keys import generate_keys
from subscribers.client import Subscriber
from subscribers.curve import CurveKeys
from tests.subscribers.control_server import CANDIDATES, Bus, ControlServer, servers
from tests.support.processes import BIN, LineReader, Processes
from tests.support.waiting import DEADLINE, wait_for

IBSUB = str(BIN / "ibsub")
Servers = tuple[zmq.Context[Any], ControlServer, Bus]


@pytest.fixture
def env() -> Iterator[Servers]:
    with servers(budget=3) as running:
        yield running


def ibsub(control: ControlServer, *args: str) -> subprocess.CompletedProcess[str]:
    timeout = [] if "--timeout" in args else ["--timeout", "20"]
    command = [IBSUB, *args, "--control-endpoint", control.endpoint, *timeout]
    return subprocess.run(command, capture_output=True, text=True, timeout=DEADLINE)


def test_request_a_bare_symbol_prints_the_reply(env: Servers) -> None:
    """``ibsub request NVDA`` asks for the US stock and prints key, conid, topics and lease."""
    _, control, _ = env
    done = ibsub(control, "request", "NVDA", "--client", "cli")
    assert done.returncode == 0, done.stderr
    (request,) = control.ops("subscribe")
    assert request["instrument"] == {
        "sec_type": "STK", "symbol": "NVDA", "exchange": "SMART", "currency": "USD",
    }  # fmt: skip
    lines = done.stdout.splitlines()
    assert lines[0] == "NVDA: conid 1004, pending"
    assert lines[1] == "topics: tick.NVDA"
    assert lines[2].startswith("lease: held by cli until ")


def test_request_by_flags_sends_exactly_those_keys(env: Servers) -> None:
    """Contract flags become the instrument map; --data and --lease are passed on."""
    _, control, _ = env
    done = ibsub(
        control, "request", "--sec-type", "FUT", "--symbol", "ES", "--exchange", "CME",
        "--last-trade-date", "202703", "--lease", "12", "--data", "l1",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (request,) = control.ops("subscribe")
    assert request["instrument"] == {
        "sec_type": "FUT", "symbol": "ES", "exchange": "CME", "last_trade_date": "202703",
    }  # fmt: skip
    assert (request["lease"], request["data"]) == (12.0, ["l1"])


def test_request_json_prints_the_raw_reply(env: Servers) -> None:
    """--json prints the reply map as one JSON object."""
    _, control, _ = env
    done = ibsub(control, "request", "AAPL", "--json")
    assert done.returncode == 0, done.stderr
    reply = json.loads(done.stdout)
    assert (reply["ok"], reply["key"], reply["topics"]) == (True, "AAPL", ["tick.AAPL"])
    assert isinstance(reply["lease_expires"], int)


def test_a_refusal_exits_1_with_the_code(env: Servers) -> None:
    """A refused request prints the error code and message and exits 1 (JSON: the raw error)."""
    _, control, _ = env
    control.refuse["NOPE"] = ("unknown_contract", "no security definition for NOPE")
    done = ibsub(control, "request", "NOPE")
    assert done.returncode == 1
    assert "refused: unknown_contract: no security definition for NOPE" in done.stderr
    as_json = ibsub(control, "request", "NOPE", "--json")
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["error"] == "unknown_contract"


def test_an_ambiguous_future_prints_the_candidates(env: Servers) -> None:
    """ambiguous_contract prints a table of candidates with their con_ids; exit 1."""
    _, control, _ = env
    done = ibsub(control, "request", "--sec-type", "FUT", "--symbol", "ES", "--exchange", "CME")
    assert done.returncode == 1
    header, *rows = done.stdout.splitlines()
    assert header.split() == [
        "CONID", "SEC_TYPE", "SYMBOL", "LOCAL_SYMBOL", "LAST_TRADE", "EXCHANGE", "CURRENCY",
    ]  # fmt: skip
    assert [row.split()[:4] for row in rows] == [
        [str(c["conid"]), "FUT", "ES", c["local_symbol"]] for c in CANDIDATES
    ]
    assert "ambiguous_contract" in done.stderr and "--con-id" in done.stderr


def test_the_budget_refuses_the_fourth(env: Servers) -> None:
    """With 3 lines, a 4th instrument is refused with budget_exceeded (exit 1)."""
    _, control, _ = env
    for symbol in ("A", "B", "C"):
        assert ibsub(control, "request", symbol).returncode == 0
    done = ibsub(control, "request", "D")
    assert done.returncode == 1 and "budget_exceeded" in done.stderr


def test_no_publisher_is_a_timeout_exit_1(env: Servers) -> None:
    """Nobody answering means exit 1 after --timeout, saying so."""
    _, control, _ = env
    control.script = lambda request: ControlServer.SILENT
    done = subprocess.run(
        [IBSUB, "request", "AAPL", "--control-endpoint", control.endpoint, "--timeout", "0.3"],
        capture_output=True, text=True, timeout=DEADLINE,
    )  # fmt: skip
    assert done.returncode == 1
    assert "timeout: no reply from" in done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["request"],
        ["request", "AAPL", "--symbol", "MSFT"],
        ["request", "--con-id", "x"],
        ["request", "AAPL", "--timeout", "0"],
        ["request", "AAPL", "--lease", "-1"],
        ["lines", "--bogus"],
    ],
)
def test_usage_errors_exit_2(env: Servers, args: list[str]) -> None:
    """Nothing to ask for, the symbol twice, a bad number or an unknown flag: exit 2, no request."""
    _, control, _ = env
    done = ibsub(control, *args)
    assert done.returncode == 2, done.stderr
    assert "error" in done.stderr
    assert not control.requests


def test_help_shows_examples_and_exit_codes() -> None:
    """Each command's --help explains itself, with examples and the exit codes."""
    for command in ("request", "lines"):
        done = subprocess.run(
            [IBSUB, command, "--help"], capture_output=True, text=True, timeout=DEADLINE
        )
        assert done.returncode == 0
        assert "examples:" in done.stdout and "exit status:" in done.stdout
        assert "--control-endpoint" in done.stdout


def test_lines_shows_holdings_against_the_budget(env: Servers) -> None:
    """``ibsub lines`` prints lines used/budget and a row per instrument with its holders."""
    _, control, _ = env
    assert ibsub(control, "request", "AAPL", "--client", "alice").returncode == 0
    assert ibsub(control, "request", "AAPL", "--client", "bob").returncode == 0
    done = ibsub(control, "lines")
    assert done.returncode == 0, done.stderr
    first, header, row = done.stdout.splitlines()
    assert first == "lines 1/3 in use"
    assert header.split() == ["KEY", "CONID", "DATA", "STATE", "PINNED", "LEASE", "HOLDERS"]
    assert row.split()[:5] == ["AAPL", "1004", "l1", "subscribed", "no"]
    assert row.endswith("alice, bob")
    as_json = json.loads(ibsub(control, "lines", "--json").stdout)
    assert (as_json["lines_used"], as_json["lines_budget"]) == (1, 3)
    assert as_json["instruments"][0]["holders"] == ["alice", "bob"]


def test_quotes_request_asks_shows_and_releases(env: Servers, procs: Processes) -> None:
    """``ibsub quotes --request AAPL MSFT`` asks for both, shows their quotes and a failed
    instrument's state, and releases both when stopped."""
    _, control, bus = env
    proc = procs.start([
        IBSUB, "quotes", "--request", "AAPL", "MSFT", "--endpoint", bus.endpoint,
        "--control-endpoint", control.endpoint, "--no-snapshot", "--interval", "0.2",
        "--client", "viewer",
    ])  # fmt: skip
    wait_for(lambda: len(control.ops("subscribe")) >= 2, "both requests")
    reader = LineReader(proc.stdout)

    def shown() -> bool:
        bus.tick("AAPL", 101.5)
        bus.tick("MSFT", 202.5)
        bus.status("MSFT", "delayed", 10167, "delayed market data")
        reader._pump(0.1)
        return any(
            "AAPL 101.50" in line and "MSFT delayed (10167)" in line for line in reader.lines
        )

    wait_for(shown, "a line with AAPL's quote and MSFT's delayed state")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(DEADLINE) == 0
    (release,) = control.ops("unsubscribe")
    assert (release["client"], sorted(release["keys"])) == ("viewer", ["AAPL", "MSFT"])


def test_quotes_request_refused_exits_1(env: Servers) -> None:
    """A refused --request ends ``ibsub quotes`` with status 1 and the publisher's reason."""
    _, control, bus = env
    control.refuse["NOPE"] = ("unknown_contract", "no such stock")
    done = subprocess.run(
        [IBSUB, "quotes", "--request", "NOPE", "--endpoint", bus.endpoint,
         "--control-endpoint", control.endpoint, "--no-snapshot"],
        capture_output=True, text=True, timeout=DEADLINE,
    )  # fmt: skip
    assert done.returncode == 1
    assert "unknown_contract: no such stock" in done.stderr


def test_curve_protects_the_control_socket(tmp_path: Path) -> None:
    """With CURVE keys the commands and the library reach a CURVE control socket; without
    them nothing answers (exit 1 after the timeout)."""
    generate_keys(tmp_path, ["alice"])
    _, server_secret = zmq.auth.load_certificate(tmp_path / "server.key_secret")
    server_key, client_key = (
        str(tmp_path / "server.key"),
        str(tmp_path / "clients/alice.key_secret"),
    )
    with servers(curve_secret=server_secret) as (context, control, bus):
        keys = ["--curve-server-key", server_key, "--curve-client-key", client_key]
        assert ibsub(control, "request", "AAPL", *keys).returncode == 0
        listed = ibsub(control, "lines", "--json", *keys)
        assert json.loads(listed.stdout)["lines_used"] == 1
        plain = ibsub(control, "lines", "--timeout", "0.5")
        assert plain.returncode == 1 and "timeout" in plain.stderr
        curve = CurveKeys.from_files(server_key, client_key)
        with Subscriber(
            bus.endpoint, curve=curve, context=context, control_endpoint=control.endpoint,
            requests=["MSFT"], client="lib",
        ) as sub:  # fmt: skip
            assert set(sub.held) == {"MSFT"}
        assert control.ops("unsubscribe")[-1] == {
            "v": 1, "op": "unsubscribe", "client": "lib", "keys": ["MSFT"],
        }  # fmt: skip
