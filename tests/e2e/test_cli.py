"""The ``ibpub`` command as a user types it: help, config validation and exit codes."""

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import REPO
from tests.support.processes import BIN


def ibpub(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [str(BIN / "ibpub"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.mark.parametrize("command", [[], ["run"], ["sim"], ["demo"], ["check-config"]])
def test_help_exits_zero(command: list[str]) -> None:
    """Every command has usage text."""
    result = ibpub(*command, "--help")
    assert result.returncode == 0
    assert "usage:" in result.stdout


def test_shipped_examples_are_valid() -> None:
    """Both shipped example configurations pass check-config."""
    for name in ("demo.toml", "ibpub.toml"):
        result = ibpub("check-config", str(REPO / "deploy" / "examples" / name))
        assert result.returncode == 0, result.stderr


def test_check_config_names_file_key_and_problem(tmp_path: Path) -> None:
    """A wrong type exits 2 with a message naming the file, the key and the problem."""
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[gateway]\nport = "not-a-port"\n\n[[instruments]]\nsymbol = "AAPL"\nsec_type = "STK"\n'
    )
    result = ibpub("check-config", str(bad))
    assert result.returncode == 2
    assert str(bad) in result.stderr
    assert "gateway.port" in result.stderr


def test_run_with_unknown_key_exits_2(tmp_path: Path) -> None:
    """``ibpub run`` refuses an unknown key before connecting anywhere."""
    bad = tmp_path / "bad.toml"
    bad.write_text('[gateway]\nhots = "x"\n\n[[instruments]]\nsymbol = "AAPL"\nsec_type = "STK"\n')
    result = ibpub("run", "--config", str(bad))
    assert result.returncode == 2
    assert "gateway.hots" in result.stderr
    assert "Traceback" not in result.stderr


def test_syntax_error_exits_2(tmp_path: Path) -> None:
    """A TOML syntax error exits 2 and names the file."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[gateway\nport = 1\n")
    result = ibpub("check-config", str(bad))
    assert result.returncode == 2
    assert str(bad) in result.stderr


def test_bad_instrument_exits_2(tmp_path: Path) -> None:
    """An instrument with an unknown sec_type is a configuration error naming it."""
    bad = tmp_path / "bad.toml"
    bad.write_text('[[instruments]]\nsymbol = "AAPL"\nsec_type = "STOCK"\n')
    result = ibpub("check-config", str(bad))
    assert result.returncode == 2
    assert "instruments[0].sec_type" in result.stderr


def test_environment_overrides_the_file() -> None:
    """IBPUB_GATEWAY_PORT overrides the file's gateway.port."""
    demo = REPO / "deploy" / "examples" / "demo.toml"
    result = ibpub("check-config", str(demo), env={"IBPUB_GATEWAY_PORT": "4999"})
    assert result.returncode == 0, result.stderr
    assert "4999" in result.stdout


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    """A config path that does not exist is a usage error, not a traceback."""
    result = ibpub("run", "--config", str(tmp_path / "nope.toml"))
    assert result.returncode == 2
    assert "nope.toml" in result.stderr


def test_a_port_in_use_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    """Another process holds the control port: ``ibpub run`` says which endpoint and exits 1."""
    import zmq

    from tests.support.processes import free_port

    context: zmq.Context[Any] = zmq.Context()
    holder = context.socket(zmq.ROUTER)
    port = free_port()
    holder.bind(f"tcp://127.0.0.1:{port}")
    try:
        config = tmp_path / "ibpub.toml"
        config.write_text(
            f'[bus]\npub = ["tcp://127.0.0.1:{free_port()}"]\n'
            f'snapshot = "tcp://127.0.0.1:{free_port()}"\n'
            f'[metrics]\nlisten = "127.0.0.1:0"\n[control]\nlisten = "tcp://127.0.0.1:{port}"\n'
            '[[instruments]]\nsymbol = "AAPL"\nsec_type = "STK"\n'
        )
        result = ibpub("run", "--config", str(config))
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr
        assert f"tcp://127.0.0.1:{port}" in result.stderr and "in use" in result.stderr
    finally:
        holder.close(linger=0)
        context.term()
