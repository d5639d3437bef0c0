"""The bridge's configuration: its own schema, env and flag overrides, errors naming the key."""

from pathlib import Path

import pytest

from publisher.bridge.settings import load_bridge_settings, masked_url
from publisher.errors import ConfigError


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bridge.toml"
    path.write_text(text)
    return path


def test_the_defaults_are_the_contracts(tmp_path: Path) -> None:
    """An empty [bridge] gives the contract's defaults (stream IBPUB, 127.0.0.1:9702, ...)."""
    config = load_bridge_settings(_file(tmp_path, "[bridge]\n"))
    assert config.bridge.upstream == ("tcp://127.0.0.1:7700",)
    assert config.bridge.max_buffered == 100_000
    assert (config.nats.servers, config.nats.stream) == (("nats://127.0.0.1:4222",), "IBPUB")
    assert (config.nats.max_age, config.nats.max_bytes) == (86_400.0, -1)
    assert config.nats.duplicate_window == 120.0
    assert config.metrics.listen == "127.0.0.1:9702"


def test_flags_win_over_the_environment_which_wins_over_the_file(tmp_path: Path) -> None:
    """nats.replicas: file 1, IBPUB_NATS_REPLICAS 3, --nats-replicas 5 -> 5; without it, 3."""
    path = _file(tmp_path, "[bridge]\n[nats]\nreplicas = 1\n")
    env = {"IBPUB_NATS_REPLICAS": "3"}
    assert load_bridge_settings(path, env).nats.replicas == 3
    assert load_bridge_settings(path, env, {"nats.replicas": "5"}).nats.replicas == 5


def test_an_unknown_key_is_named_with_a_hint(tmp_path: Path) -> None:
    """A misspelt key is an error naming file, section.key and the likely intended key."""
    path = _file(tmp_path, "[bridge]\n[nats]\nstreem = 'X'\n")
    with pytest.raises(ConfigError) as caught:
        load_bridge_settings(path)
    assert (caught.value.file, caught.value.key) == (str(path), "nats.streem")
    assert "stream" in caught.value.problem


def test_a_bad_value_from_the_environment_names_the_variable(tmp_path: Path) -> None:
    """A refused value is reported where the user wrote it: the environment variable."""
    with pytest.raises(ConfigError) as caught:
        load_bridge_settings(_file(tmp_path, "[bridge]\n"), {"IBPUB_BRIDGE_MAX_BUFFERED": "0"})
    assert caught.value.key == "IBPUB_BRIDGE_MAX_BUFFERED"


def test_a_password_in_a_server_url_is_masked() -> None:
    """user:password@ never reaches a log line or an error."""
    assert masked_url("nats://me:secret@h:4222") == "nats://***@h:4222"


def test_a_misspelt_bridge_variable_is_an_error(tmp_path: Path) -> None:
    """IBPUB_NATS_STREEM names no setting: an error with a hint, not silently ignored."""
    with pytest.raises(ConfigError) as caught:
        load_bridge_settings(_file(tmp_path, "[bridge]\n"), {"IBPUB_NATS_STREEM": "X"})
    assert caught.value.key == "IBPUB_NATS_STREEM"
    assert "IBPUB_NATS_STREAM" in caught.value.problem
