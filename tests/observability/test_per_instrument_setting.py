"""The ``[metrics] per_instrument`` setting: file, environment and flag, and bad values."""

import argparse
from pathlib import Path

import pytest

from publisher.config import (
    MetricsSettings,
    add_override_flags,
    load_settings,
    overrides_from_args,
)
from publisher.errors import ConfigError

AAPL = '[[instruments]]\nsec_type = "STK"\nsymbol = "AAPL"\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ibpub.toml"
    path.write_text(text)
    return path


def test_per_instrument_defaults_to_true(tmp_path: Path) -> None:
    """Without the key, per-instrument labels are on."""
    assert load_settings(write(tmp_path, AAPL)).metrics.per_instrument is True


def test_file_turns_per_instrument_off(tmp_path: Path) -> None:
    """per_instrument = false in [metrics] turns the labels off."""
    path = write(tmp_path, "[metrics]\nper_instrument = false\n" + AAPL)
    assert load_settings(path).metrics.per_instrument is False


@pytest.mark.parametrize(
    ("text", "expected"),
    [("false", False), ("0", False), ("No", False), ("off", False), ("TRUE", True), ("1", True)],
)
def test_environment_spells_booleans_several_ways(
    tmp_path: Path, text: str, expected: bool
) -> None:
    """IBPUB_METRICS_PER_INSTRUMENT accepts true/false, 1/0, yes/no, on/off in any case."""
    env = {"IBPUB_METRICS_PER_INSTRUMENT": text}
    assert load_settings(write(tmp_path, AAPL), env).metrics.per_instrument is expected


def test_flag_beats_the_environment(tmp_path: Path) -> None:
    """--metrics-per-instrument wins over IBPUB_METRICS_PER_INSTRUMENT."""
    parser = argparse.ArgumentParser()
    add_override_flags(parser)
    args = parser.parse_args(["--metrics-per-instrument", "true"])
    env = {"IBPUB_METRICS_PER_INSTRUMENT": "false"}
    settings = load_settings(write(tmp_path, AAPL), env, overrides_from_args(args))
    assert settings.metrics.per_instrument is True


def test_a_string_in_the_file_is_refused(tmp_path: Path) -> None:
    """per_instrument = "no" (a string) is a type error naming the key."""
    path = write(tmp_path, '[metrics]\nper_instrument = "no"\n' + AAPL)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert caught.value.key == "metrics.per_instrument"
    assert "expected a boolean (true or false), got string 'no'" in caught.value.problem


def test_a_bad_word_in_the_environment_is_refused(tmp_path: Path) -> None:
    """IBPUB_METRICS_PER_INSTRUMENT=maybe names the variable and the problem."""
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, AAPL), {"IBPUB_METRICS_PER_INSTRUMENT": "maybe"})
    assert (caught.value.file, caught.value.key) == ("environment", "IBPUB_METRICS_PER_INSTRUMENT")


def test_value_object_refuses_a_non_boolean() -> None:
    """MetricsSettings(per_instrument=1) is refused: an int is not a boolean."""
    with pytest.raises(ConfigError):
        MetricsSettings(per_instrument=1)  # type: ignore[arg-type]  # the point of the test


def test_flag_help_shows_the_boolean_default() -> None:
    """The flag's help shows the default as TOML writes it and the variable's name."""
    parser = argparse.ArgumentParser()
    add_override_flags(parser)
    text = parser.format_help()
    assert "--metrics-per-instrument true|false" in text
    assert "IBPUB_METRICS_PER_INSTRUMENT" in text
    assert "default: true" in text
