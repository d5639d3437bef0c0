"""``ibpub keys``: the key layout, file modes, re-runs, and what it prints."""

import stat
import subprocess
from pathlib import Path

import pytest
import zmq.auth

from publisher.commands.keys import KeysError, client_names, generate_keys
from tests.support.processes import BIN
from tests.support.waiting import DEADLINE


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_layout_has_server_pair_authorised_publics_and_client_secrets(tmp_path: Path) -> None:
    """Server pair at the top, each client's public key in authorized/, its pair in clients/."""
    files = generate_keys(tmp_path, ["alice", "bob"])
    assert files.server_created
    names = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert names == [
        "authorized/alice.key",
        "authorized/bob.key",
        "clients/alice.key_secret",
        "clients/bob.key_secret",
        "server.key",
        "server.key_secret",
    ]
    public, secret = zmq.auth.load_certificate(tmp_path / "clients/alice.key_secret")
    assert secret is not None
    assert zmq.auth.load_certificate(tmp_path / "authorized/alice.key") == (public, None)


def test_secret_files_are_private(tmp_path: Path) -> None:
    """Secret key files are 0600 and the clients directory 0700."""
    generate_keys(tmp_path, ["alice"])
    assert mode(tmp_path / "server.key_secret") == 0o600
    assert mode(tmp_path / "clients/alice.key_secret") == 0o600
    assert mode(tmp_path / "clients") == 0o700
    assert list(tmp_path.glob(".keys-*")) == []  # no scratch directory left behind


def test_a_second_run_keeps_the_server_pair(tmp_path: Path) -> None:
    """Adding a client later keeps the server's keys, so existing clients stay valid."""
    generate_keys(tmp_path, ["alice"])
    before = (tmp_path / "server.key_secret").read_bytes()
    files = generate_keys(tmp_path, ["carol"])
    assert not files.server_created
    assert (tmp_path / "server.key_secret").read_bytes() == before
    assert (tmp_path / "authorized/carol.key").exists()


def test_existing_client_is_not_overwritten(tmp_path: Path) -> None:
    """A client name already present is refused and its files are untouched."""
    generate_keys(tmp_path, ["alice"])
    before = (tmp_path / "clients/alice.key_secret").read_bytes()
    with pytest.raises(KeysError, match="exists"):
        generate_keys(tmp_path, ["alice"])
    assert (tmp_path / "clients/alice.key_secret").read_bytes() == before


@pytest.mark.parametrize(
    ("names", "count", "expected"),
    [((), None, ["client1"]), ((), 3, ["client1", "client2", "client3"]), (("a",), None, ["a"])],
)
def test_client_names(names: tuple[str, ...], count: int | None, expected: list[str]) -> None:
    """Names given win; otherwise client1..clientN; otherwise one client1."""
    assert client_names(names, count) == expected


@pytest.mark.parametrize("name", ["", "a/b", "server", "x" * 65, "sp ace"])
def test_bad_client_names_are_refused(name: str) -> None:
    """A name that is not a safe file name (or is 'server') is refused."""
    with pytest.raises(KeysError):
        client_names([name], None)


def test_cli_prints_files_and_config_lines(tmp_path: Path) -> None:
    """``ibpub keys`` exits 0 and prints the [bus] lines to paste and how to subscribe."""
    out = tmp_path / "k"
    done = subprocess.run(
        [str(BIN / "ibpub"), "keys", "--out", str(out), "--clients", "2"],
        capture_output=True,
        timeout=DEADLINE,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert f'curve_secret_key = "{(out / "server.key_secret").resolve()}"' in done.stdout
    assert f'curve_authorized_keys = "{(out / "authorized").resolve()}"' in done.stdout
    assert "--curve-client-key" in done.stdout
    assert (out / "clients/client2.key_secret").exists()


def test_cli_refuses_an_existing_client_with_status_2(tmp_path: Path) -> None:
    """Re-running with an existing client name exits 2 with a message, writing nothing."""
    generate_keys(tmp_path, ["alice"])
    done = subprocess.run(
        [str(BIN / "ibpub"), "keys", "--out", str(tmp_path), "--client", "alice"],
        capture_output=True,
        timeout=DEADLINE,
        text=True,
    )
    assert done.returncode == 2
    assert "alice.key exists" in done.stderr
