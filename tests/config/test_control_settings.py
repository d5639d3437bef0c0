"""``[control]`` and the ``[gateway]`` budgets: defaults, overrides, refusals, the summary."""

import io
from pathlib import Path

import pytest

from publisher.commands.check_config import check_config
from publisher.config import (
    DEFAULT_CONTROL_LISTEN,
    ControlSettings,
    GatewaySettings,
    load_settings,
)
from publisher.errors import ConfigError

INSTRUMENT = '[[instruments]]\nsec_type = "STK"\nsymbol = "AAPL"\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ibpub.toml"
    path.write_text(text + INSTRUMENT, encoding="utf-8")
    return path


def test_defaults_are_the_contracts(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, ""))
    assert settings.control == ControlSettings(
        listen="tcp://127.0.0.1:7702", lease=30.0, grace=60.0, max_requests_per_second=20.0
    )
    assert settings.control.listen == DEFAULT_CONTROL_LISTEN
    gw = settings.gateway
    assert (gw.max_lines, gw.max_tick_by_tick, gw.max_depth) == (100, 5, 3)


def test_file_env_and_flags_set_them_flags_winning(tmp_path: Path) -> None:
    path = write(tmp_path, "[control]\nlease = 5.0\ngrace = 1\n[gateway]\nmax_lines = 7\n")
    settings = load_settings(
        path,
        env={"IBPUB_CONTROL_LISTEN": "", "IBPUB_GATEWAY_MAX_LINES": "8"},
        overrides={"gateway.max_lines": "9", "control.max_requests_per_second": "2.5"},
    )
    assert settings.control.lease == 5.0
    assert settings.control.grace == 1.0
    assert settings.control.listen == ""
    assert not settings.control.enabled
    assert settings.control.max_requests_per_second == 2.5
    assert settings.gateway.max_lines == 9


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ("[control]\nlease = 0.0\n", "control.lease", "> 0"),
        ("[control]\ngrace = -1.0\n", "control.grace", ">= 0"),
        ("[control]\nmax_requests_per_second = 0.0\n", "control.max_requests_per_second", "> 0"),
        ('[control]\nlisten = "http://x"\n', "control.listen", '"" disables'),
        ('[control]\nlisten = "tcp://127.0.0.1:7701"\n', "control.listen", "also bound"),
        ("[gateway]\nmax_lines = -1\n", "gateway.max_lines", "0..100000"),
        ("[control]\nleese = 1.0\n", "control.leese", "did you mean"),
        ('[control]\nlease = "30"\n', "control.lease", "expected a number"),
    ],
)
def test_bad_values_name_the_file_key_and_problem(
    tmp_path: Path, text: str, key: str, words: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert caught.value.key == key
    assert caught.value.file == str(path)
    assert words in caught.value.problem


def test_check_config_shows_them_and_exits_2_on_a_bad_one(tmp_path: Path) -> None:
    out = io.StringIO()
    assert check_config(str(write(tmp_path, "[gateway]\nmax_lines = 3\n")), {}, out=out) == 0
    text = out.getvalue()
    assert "budget 3" in text
    assert "tcp://127.0.0.1:7702  lease 30 s  grace 60 s" in text
    err = io.StringIO()
    bad = write(tmp_path, "[control]\ngrace = -2.0\n")
    assert check_config(str(bad), {}, out=io.StringIO(), err=err) == 2
    assert "control.grace" in err.getvalue()


def test_value_objects_refuse_directly() -> None:
    with pytest.raises(ConfigError):
        GatewaySettings(max_depth=100_001)
    with pytest.raises(ConfigError):
        ControlSettings(lease=float("nan"))
