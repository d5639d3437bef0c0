"""``publisher.sim.cli`` as a process: banner, serving, clean exit on signals, usage errors."""

import re
import selectors
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ibapi.client import EClient
from ibapi.contract import Contract

from publisher.sim import MAX_SERVER_VERSION, Catalogue
from publisher.sim.protocol import frame
from tests.sim.support import (
    RawClient,
    RecordingWrapper,
    decode_frames,
    ibapi_contract,
    ibapi_request,
)
from tests.support.waiting import DEADLINE

RUNNER = (
    "import argparse, sys\n"
    "from publisher.sim import cli\n"
    "p = argparse.ArgumentParser(prog='ibpub sim')\n"
    "cli.add_arguments(p)\n"
    "sys.exit(cli.run(p.parse_args(sys.argv[1:])))\n"
)


@pytest.fixture
def spawn() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes started by a test; killed at teardown if still running."""
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=DEADLINE)


def _start(procs: list[subprocess.Popen[str]], *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", RUNNER, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    procs.append(proc)
    return proc


def _first_line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout=30):
            raise AssertionError("the simulator printed nothing")
    return proc.stdout.readline()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serves_until_a_signal_then_exits_zero(
    spawn: list[subprocess.Popen[str]], signum: signal.Signals
) -> None:
    """It prints where it listens and what it negotiates, serves clients, and exits 0."""
    proc = _start(spawn, "--port", "0", "--rate", "10", "--max-server-version", "200")
    banner = _first_line(proc)
    match = re.search(r"listening on 127\.0\.0\.1:(\d+).*versions 100\.\.200", banner)
    assert match, banner
    client = RawClient(int(match.group(1)))
    try:
        assert client.handshake()[0] == 200
    finally:
        client.close()
    proc.send_signal(signum)
    assert proc.wait(timeout=DEADLINE) == 0


def test_default_versions_reach_the_installed_ibapi_maximum(
    spawn: list[subprocess.Popen[str]],
) -> None:
    """Without --max-server-version the banner offers up to ibapi's maximum, protobuf ticks."""
    proc = _start(spawn, "--port", "0")
    banner = _first_line(proc)
    assert f"100..{MAX_SERVER_VERSION}" in banner and "protobuf" in banner
    proc.terminate()
    assert proc.wait(timeout=DEADLINE) == 0


def test_bad_catalogue_exits_2_naming_file_and_key(
    spawn: list[subprocess.Popen[str]], tmp_path: Path
) -> None:
    """A catalogue with an unknown key is a configuration error (exit 2)."""
    bad = tmp_path / "bad.toml"
    bad.write_text('[[contracts]]\nsymbol = "X"\nwat = 1\n')
    proc = _start(spawn, "--port", "0", "--catalogue", str(bad))
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert str(bad) in err and "contracts[0].wat" in err


def test_out_of_range_max_server_version_is_a_usage_error(
    spawn: list[subprocess.Popen[str]],
) -> None:
    """--max-server-version outside what we model is refused by argument parsing (exit 2)."""
    proc = _start(spawn, "--max-server-version", "99")
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "--max-server-version" in err


def test_busy_port_exits_1(spawn: list[subprocess.Popen[str]]) -> None:
    """Failing to listen is fatal (exit 1) with a message saying where."""
    first = _start(spawn, "--port", "0")
    port = re.search(r":(\d+),", _first_line(first))
    assert port
    second = _start(spawn, "--port", port.group(1))
    _out, err = second.communicate(timeout=30)
    assert second.returncode == 1 and f"127.0.0.1:{port.group(1)}" in err


def _req_mkt_data(req_id: int, contract: Contract) -> Callable[[EClient], None]:
    return lambda client: client.reqMktData(req_id, contract, "", False, False, [])


def test_max_lines_refuses_the_stream_beyond_them_with_101(
    spawn: list[subprocess.Popen[str]],
) -> None:
    """`--max-lines 1`: the banner says so, and a second reqMktData gets error 101."""
    proc = _start(spawn, "--port", "0", "--rate", "0", "--max-lines", "1")
    banner = _first_line(proc)
    match = re.search(r"listening on 127\.0\.0\.1:(\d+)", banner)
    assert match and "1 market-data lines" in banner, banner
    client = RawClient(int(match.group(1)))
    wrapper = RecordingWrapper()
    try:
        version, _ = client.handshake()
        client.start_api(7)
        for req_id, symbol in ((1, "AAPL"), (2, "MSFT")):
            contract = ibapi_contract(symbol, "STK", "SMART")
            client.send_payload(ibapi_request(version, _req_mkt_data(req_id, contract)))
        while not [e for e in wrapper.errors() if e[0] == 2]:
            decode_frames(frame(client.next_frame()), version, wrapper)
    finally:
        client.close()
    assert [e for e in wrapper.errors() if e[0] in (1, 2)] == [
        (2, 101, "Max number of tickers has been reached")
    ]
    proc.terminate()
    assert proc.wait(timeout=DEADLINE) == 0


def test_list_contracts_prints_the_catalogue_and_exits(
    spawn: list[subprocess.Popen[str]],
) -> None:
    """--list-contracts prints one contract a line, synthetic conIds starred, and the count."""
    proc = _start(spawn, "--list-contracts")
    out, _err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    lines = out.splitlines()
    count = len(Catalogue.builtin())
    header = ["CONID", "TYPE", "SYMBOL", "LOCAL", "EXPIRY", "EXCHANGE", "PRIMARY", "CCY"]
    assert lines[0].split() == header
    assert len(lines) == count + 2 and lines[-1].startswith(f"{count} contracts; * synthetic")
    assert any(line.split()[:4] == ["265598", "STK", "AAPL", "AAPL"] for line in lines)
    assert any(line.split()[1:5] == ["FUT", "ES", "ESM7", "20270618"] for line in lines)
    assert any(line.split()[0].endswith("*") for line in lines[1:-1])


def test_help_documents_the_line_limit(spawn: list[subprocess.Popen[str]]) -> None:
    """`ibpub sim --help` says what --max-lines does and that by default there is no limit."""
    proc = _start(spawn, "--help")
    out, _err = proc.communicate(timeout=30)
    text = " ".join(out.split())
    assert "--max-lines N" in text and "error 101" in text and "Default 0: no limit" in text
