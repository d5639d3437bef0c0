"""deploy/systemd: ``systemd-analyze verify`` and ``security`` accept the units, and each unit's
command line is one the real CLI accepts.

``systemd-analyze`` (Debian's systemd package) works without systemd running. It checks that
an ``ExecStart`` binary exists, so the units are verified from a copy whose ``/opt/ibpub/bin``
(where docs/deploy.md installs ibpub) is this checkout's virtual environment.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

import publisher.cli as publisher_cli
import subscribers.cli as subscriber_cli
from publisher.proxy import settings_from_args
from tests.deploy.files import SYSTEMD, unit_command, unit_file
from tests.support.processes import BIN

INSTALL_BIN = "/opt/ibpub/bin/"
UNITS = sorted(SYSTEMD.glob("*.service"))
EXPOSURE_THRESHOLD = 20
"""``systemd-analyze security`` scores exposure 0-100 (shown as 0.0-10.0): at most 2.0 here."""


def _systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    assert found, (
        "systemd-analyze is missing: install Debian's systemd package (apt-get install systemd)"
    )
    return found


def _verifiable_copy(tmp_path: Path, unit: Path) -> Path:
    """The unit with the install prefix pointed at this checkout, named as an instance."""
    text = unit.read_text().replace(INSTALL_BIN, f"{BIN}/")
    (tmp_path / unit.name).write_text(text)
    # A template (name@.service) is verified through an instance of it.
    return tmp_path / unit.name.replace("@.", "@verify.")


def _environment(unit: dict[str, dict[str, list[str]]]) -> dict[str, str]:
    """Environment= values of a unit, then its example EnvironmentFile if the repo has one."""
    env: dict[str, str] = {}
    for assignment in unit["Service"].get("Environment", []):
        name, _, value = assignment.partition("=")
        env[name] = value
    for path in unit["Service"].get("EnvironmentFile", []):
        example = SYSTEMD / (Path(path.lstrip("-")).stem + ".env.example")
        if example.exists():
            for line in example.read_text().splitlines():
                found = re.fullmatch(r"([A-Z_][A-Z0-9_]*)=(.*)", line)
                if found:
                    env[found[1]] = found[2]
    env["STATE_DIRECTORY"] = "/var/lib/" + unit["Service"].get("StateDirectory", ["x"])[0]
    return env


def test_there_are_units_for_the_publisher_the_proxy_and_the_recorder() -> None:
    """The publisher template, the proxy and the optional recorder each have a unit."""
    assert {u.name for u in UNITS} == {
        "ibpub@.service",
        "ibpub-proxy.service",
        "ibsub-record.service",
        "ibpub-bridge.service",
    }


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_systemd_analyze_verify_accepts_the_unit(unit: Path, tmp_path: Path) -> None:
    """systemd-analyze verify prints nothing and succeeds for the unit."""
    copy = _verifiable_copy(tmp_path, unit)
    result = subprocess.run(
        [_systemd_analyze(), "verify", "--man=no", str(copy)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), (
        result.stdout + result.stderr
    )


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_the_unit_is_hardened(unit: Path, tmp_path: Path) -> None:
    """The unit runs as the ibpub user with the named protections and a low exposure score."""
    service = unit_file(unit)["Service"]
    assert service["User"] == ["ibpub"] and service["Group"] == ["ibpub"]
    assert service["NoNewPrivileges"] == ["yes"]
    assert service["ProtectSystem"] == ["strict"]
    assert service["Restart"] == ["always"]
    assert service["RestartPreventExitStatus"] == ["2"]  # a configuration error stays down
    copy = _verifiable_copy(tmp_path, unit)
    result = subprocess.run(
        [
            _systemd_analyze(),
            "security",
            "--offline=true",
            "--no-pager",
            f"--threshold={EXPOSURE_THRESHOLD}",
            str(copy),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr


def test_the_dedicated_user_is_declared_for_sysusers() -> None:
    """ibpub.sysusers.conf creates the system user every unit runs as."""
    lines = (SYSTEMD / "ibpub.sysusers.conf").read_text().splitlines()
    entries = [line.split()[:2] for line in lines if line.strip() and not line.startswith("#")]
    assert entries == [["u", "ibpub"]]


def test_the_publisher_unit_validates_and_runs_the_same_config() -> None:
    """ExecStartPre checks the config that ExecStart runs, and both parse as `ibpub`."""
    service = unit_file(SYSTEMD / "ibpub@.service")["Service"]
    (check,) = service["ExecStartPre"]
    (run,) = service["ExecStart"]
    check_argv = unit_command(check, {})
    run_argv = unit_command(run, {})
    assert check_argv[0] == run_argv[0] == INSTALL_BIN + "ibpub"
    parser = publisher_cli.build_parser()
    checked = parser.parse_args(check_argv[1:])
    ran = parser.parse_args(run_argv[1:])
    assert (checked.command, ran.command) == ("check-config", "run")
    assert checked.file == ran.config == "/etc/ibpub/%i.toml"


def test_the_proxy_unit_command_parses_with_the_example_environment() -> None:
    """ibpub-proxy's ExecStart, expanded with proxy.env.example, is a valid `ibpub proxy`."""
    unit = unit_file(SYSTEMD / "ibpub-proxy.service")
    (command,) = unit["Service"]["ExecStart"]
    argv = unit_command(command, _environment(unit))
    assert argv[0] == INSTALL_BIN + "ibpub"
    args = publisher_cli.build_parser().parse_args(argv[1:])
    assert args.command == "proxy"
    assert len(args.upstream) == 2  # $PROXY_UPSTREAMS split into one argument per endpoint
    proxy_settings = settings_from_args(args)
    assert proxy_settings.binds == ("tcp://0.0.0.0:7700",)


def test_the_recorder_unit_command_parses_as_ibsub_record() -> None:
    """ibsub-record's ExecStart is a valid `ibsub record` writing into its state directory."""
    unit = unit_file(SYSTEMD / "ibsub-record.service")
    (command,) = unit["Service"]["ExecStart"]
    argv = unit_command(command, _environment(unit))
    assert argv[0] == INSTALL_BIN + "ibsub"
    args = subscriber_cli.build_parser().parse_args(argv[1:])
    assert args.command == "record"
    assert "/var/lib/ibsub-record" in {str(v) for v in vars(args).values()}  # output dir
