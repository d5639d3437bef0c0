"""Configuration: the TOML file, IBPUB_* variables and flags, merged and validated once."""

import argparse
import dataclasses
import io
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from publisher.commands.check_config import check_config
from publisher.config import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_GATEWAY_HOST,
    DEFAULT_GATEWAY_PORT,
    DEFAULT_HEARTBEAT_INTERVAL,
    DEFAULT_MARKET_DATA_TYPE,
    DEFAULT_METRICS_LISTEN,
    DEFAULT_PUB_ENDPOINTS,
    DEFAULT_PUBLISHER_NAME,
    DEFAULT_SEND_HWM,
    DEFAULT_SNAPSHOT_ENDPOINT,
    KEY_PATTERN,
    SCALAR_SETTINGS,
    SEC_TYPES,
    BusSettings,
    GatewaySettings,
    InstrumentSpec,
    MetricsSettings,
    PublisherSettings,
    Settings,
    add_override_flags,
    derive_key,
    env_var_name,
    flag_name,
    load_settings,
    overrides_from_args,
    sanitize_key,
)
from publisher.errors import ConfigError, IbpubError
from tests.support.paths import REPO

EXAMPLES = REPO / "deploy" / "examples"

AAPL = '[[instruments]]\nsec_type = "STK"\nsymbol = "AAPL"\n'


def write(tmp_path: Path, text: str, name: str = "ibpub.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(path: Path, env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env)
    return caught.value


def instrument_error(tmp_path: Path, table: str) -> ConfigError:
    return config_error(write(tmp_path, "[[instruments]]\n" + table))


# -- defaults and the shipped examples -----------------------------------------------------------


def test_defaults_apply_when_only_instruments_are_given(tmp_path: Path) -> None:
    """A file with just one instrument gets every documented default."""
    settings = load_settings(write(tmp_path, AAPL))
    assert settings.publisher.name == DEFAULT_PUBLISHER_NAME == "ibpub"
    assert settings.gateway == GatewaySettings(
        host=DEFAULT_GATEWAY_HOST,
        port=DEFAULT_GATEWAY_PORT,
        client_id=DEFAULT_CLIENT_ID,
        market_data_type=DEFAULT_MARKET_DATA_TYPE,
        connect_timeout=DEFAULT_CONNECT_TIMEOUT,
    )
    assert (settings.gateway.port, settings.gateway.client_id) == (4001, 17)
    assert settings.bus == BusSettings()
    assert settings.bus.pub == DEFAULT_PUB_ENDPOINTS == ("tcp://127.0.0.1:7700",)
    assert settings.bus.snapshot == DEFAULT_SNAPSHOT_ENDPOINT == "tcp://127.0.0.1:7701"
    assert settings.bus.heartbeat_interval == DEFAULT_HEARTBEAT_INTERVAL == 1.0
    assert settings.bus.send_hwm == DEFAULT_SEND_HWM == 100000
    assert not settings.bus.curve
    assert settings.metrics.listen == DEFAULT_METRICS_LISTEN == "127.0.0.1:9700"


def test_instrument_defaults(tmp_path: Path) -> None:
    """An instrument table with sec_type and symbol only gets SMART, USD and a derived key."""
    (spec,) = load_settings(write(tmp_path, AAPL)).instruments
    assert spec == InstrumentSpec(key="AAPL", sec_type="STK", symbol="AAPL")
    assert (spec.exchange, spec.currency, spec.con_id, spec.strike) == ("SMART", "USD", 0, 0.0)


def test_source_is_the_path_given(tmp_path: Path) -> None:
    """Settings remember which file they came from."""
    path = write(tmp_path, AAPL)
    assert load_settings(path).source == str(path)


@pytest.mark.parametrize(
    ("name", "mdt_id"), [("live", 1), ("frozen", 2), ("delayed", 3), ("delayed-frozen", 4)]
)
def test_market_data_type_id(name: str, mdt_id: int) -> None:
    """Each market data type name maps to the id reqMarketDataType takes."""
    assert GatewaySettings(market_data_type=name).market_data_type_id == mdt_id


def test_demo_example_loads() -> None:
    """deploy/examples/demo.toml points at the simulator and lists the demo instruments."""
    settings = load_settings(EXAMPLES / "demo.toml")
    assert (settings.gateway.host, settings.gateway.port) == ("127.0.0.1", 4010)
    assert settings.gateway.client_id == 17
    assert settings.bus.pub == ("tcp://127.0.0.1:7700",)
    assert settings.bus.snapshot == "tcp://127.0.0.1:7701"
    assert settings.metrics.listen == "127.0.0.1:9700"
    keys = [spec.key for spec in settings.instruments]
    assert keys == ["AAPL", "MSFT", "SPY", "QQQ", "ESZ6", "CLF7", "EUR.USD", "AAPL.C230"]
    assert settings.instruments[0].data == ("l1", "tbt_last", "depth:10", "bars_5s:TRADES")


def test_ibpub_example_loads() -> None:
    """deploy/examples/ibpub.toml is valid, uses the defaults and has every common kind."""
    settings = load_settings(EXAMPLES / "ibpub.toml")
    assert settings.gateway == GatewaySettings()
    assert settings.bus == BusSettings()
    kinds = {spec.sec_type for spec in settings.instruments}
    assert {"STK", "IND", "FUT", "CONTFUT", "CASH", "OPT", "FOP", "CRYPTO"} <= kinds


def test_examples_show_every_setting_with_its_default() -> None:
    """ibpub.toml mentions every overridable key (CURVE ones commented out)."""
    text = (EXAMPLES / "ibpub.toml").read_text()
    for dotted, _ in SCALAR_SETTINGS:
        assert f"{dotted.split('.')[1]} = " in text, dotted


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    """A file saved with a UTF-8 byte order mark (some Windows editors) still loads."""
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + AAPL.encode())
    assert load_settings(path).instruments[0].key == "AAPL"


# -- precedence --------------------------------------------------------------------------------


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    """IBPUB_GATEWAY_PORT=4002 replaces the file's gateway.port."""
    path = write(tmp_path, "[gateway]\nport = 4001\n" + AAPL)
    assert load_settings(path, {"IBPUB_GATEWAY_PORT": "4002"}).gateway.port == 4002


def test_flag_beats_environment_beats_file(tmp_path: Path) -> None:
    """A flag wins over the environment, which wins over the file."""
    path = write(tmp_path, '[publisher]\nname = "file"\n[gateway]\nhost = "file-host"\n' + AAPL)
    env = {"IBPUB_PUBLISHER_NAME": "env", "IBPUB_GATEWAY_HOST": "env-host"}
    settings = load_settings(path, env, {"publisher.name": "flag"})
    assert settings.publisher.name == "flag"
    assert settings.gateway.host == "env-host"


def test_environment_values_are_parsed_to_the_setting_type(tmp_path: Path) -> None:
    """Environment strings become ints and floats as the setting requires."""
    env = {"IBPUB_BUS_HEARTBEAT_INTERVAL": "0.25", "IBPUB_BUS_SEND_HWM": "10"}
    bus = load_settings(write(tmp_path, AAPL), env).bus
    assert (bus.heartbeat_interval, bus.send_hwm) == (0.25, 10)


def test_pub_endpoints_from_a_flag_are_comma_separated(tmp_path: Path) -> None:
    """--bus-pub takes a comma-separated list of endpoints."""
    overrides = {"bus.pub": "tcp://127.0.0.1:7800, ipc:///tmp/ibpub.sock"}
    bus = load_settings(write(tmp_path, AAPL), {}, overrides).bus
    assert bus.pub == ("tcp://127.0.0.1:7800", "ipc:///tmp/ibpub.sock")


def test_other_environment_variables_are_ignored(tmp_path: Path) -> None:
    """Only variables starting with IBPUB_ are read."""
    env = {"PATH": "/bin", "IBPUBX": "1", "ibpub_gateway_port": "x"}
    assert load_settings(write(tmp_path, AAPL), env).gateway.port == 4001


def test_no_environment_when_none_given(tmp_path: Path) -> None:
    """load_settings reads no environment unless one is passed in."""
    assert load_settings(write(tmp_path, AAPL)).gateway.port == 4001


def test_empty_optional_variable_unsets_it(tmp_path: Path) -> None:
    """Setting both CURVE variables to "" turns CURVE off over a file that turns it on."""
    text = '[bus]\ncurve_secret_key = "s"\ncurve_authorized_keys = "a"\n' + AAPL
    env = {"IBPUB_BUS_CURVE_SECRET_KEY": "", "IBPUB_BUS_CURVE_AUTHORIZED_KEYS": ""}
    assert not load_settings(write(tmp_path, text), env).bus.curve


# -- errors: the file ----------------------------------------------------------------------------


def test_error_string_names_file_key_and_problem() -> None:
    """str(ConfigError) is "file: key: problem" and each part is an attribute."""
    err = ConfigError("ibpub.toml", "gateway.port", "must be 1..65535, got 0")
    assert str(err) == "ibpub.toml: gateway.port: must be 1..65535, got 0"
    assert (err.file, err.key, err.problem) == ("ibpub.toml", "gateway.port", err.problem)
    assert isinstance(err, IbpubError)


def test_missing_file(tmp_path: Path) -> None:
    """A path that does not exist is a ConfigError with key "-"."""
    path = tmp_path / "nope.toml"
    err = config_error(path)
    assert (err.file, err.key, err.problem) == (str(path), "-", "file not found")


def test_toml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    """A TOML syntax error is located by line and column in place of a key."""
    path = write(tmp_path, "[gateway\nport = 1\n")
    err = config_error(path)
    assert (err.file, err.key) == (str(path), "line 1, column 9")
    assert "]" in err.problem


def test_unknown_section(tmp_path: Path) -> None:
    """An unknown section is named, with the closest valid one suggested."""
    err = config_error(write(tmp_path, "[gatway]\nport = 1\n" + AAPL))
    assert err.key == "gatway"
    assert "unknown section" in err.problem
    assert "'gateway'" in err.problem


def test_unknown_key_suggests_the_closest(tmp_path: Path) -> None:
    """A misspelt key is an error that suggests the key that was probably meant."""
    err = config_error(write(tmp_path, '[gateway]\nhots = "x"\n' + AAPL))
    assert err.key == "gateway.hots"
    assert err.problem == "unknown key (did you mean 'host'?)"


def test_key_in_the_wrong_section_names_its_section(tmp_path: Path) -> None:
    """A valid key under the wrong section says which section it belongs in."""
    err = config_error(write(tmp_path, '[gateway]\nlisten = "127.0.0.1:1"\n' + AAPL))
    assert err.key == "gateway.listen"
    assert "[metrics]" in err.problem


@pytest.mark.parametrize(
    ("line", "key", "problem"),
    [
        ('[gateway]\nport = "abc"', "gateway.port", "expected an integer, got string 'abc'"),
        ("[gateway]\nport = true", "gateway.port", "expected an integer, got boolean true"),
        ("[gateway]\nport = 4001.0", "gateway.port", "expected an integer, got float 4001.0"),
        ('[bus]\npub = "tcp://a:1"', "bus.pub", "expected an array of strings, got string"),
        ("[bus]\nheartbeat_interval = []", "bus.heartbeat_interval", "expected a number"),
        ("[publisher]\nname = 5", "publisher.name", "expected a string, got integer 5"),
        ("gateway = 5", "gateway", "expected a table ([gateway]), got integer 5"),
    ],
)
def test_wrong_type(tmp_path: Path, line: str, key: str, problem: str) -> None:
    """A value of the wrong type names the expected type and what was found."""
    err = config_error(write(tmp_path, line + "\n" + AAPL))
    assert err.key == key
    assert err.problem.startswith(problem)


def test_integer_is_accepted_for_a_float_setting(tmp_path: Path) -> None:
    """heartbeat_interval = 2 (a TOML integer) is 2.0 seconds."""
    path = write(tmp_path, "[bus]\nheartbeat_interval = 2\n" + AAPL)
    assert load_settings(path).bus.heartbeat_interval == 2.0


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("[gateway]\nport = 0", "gateway.port"),
        ("[gateway]\nport = 65536", "gateway.port"),
        ("[gateway]\nclient_id = -1", "gateway.client_id"),
        ('[gateway]\nhost = ""', "gateway.host"),
        ('[gateway]\nmarket_data_type = "realtime"', "gateway.market_data_type"),
        ("[gateway]\nconnect_timeout = 0", "gateway.connect_timeout"),
        ('[publisher]\nname = "a b"', "publisher.name"),
        ('[bus]\npub = ["http://127.0.0.1:7700"]', "bus.pub"),
        ('[bus]\npub = ["tcp://127.0.0.1"]', "bus.pub"),
        ("[bus]\npub = []", "bus.pub"),
        ('[bus]\nsnapshot = "tcp://127.0.0.1:7700"', "bus.snapshot"),
        ("[bus]\nheartbeat_interval = 0.0", "bus.heartbeat_interval"),
        ("[bus]\nheartbeat_interval = nan", "bus.heartbeat_interval"),
        ("[bus]\nsend_hwm = -1", "bus.send_hwm"),
        ('[metrics]\nlisten = "9700"', "metrics.listen"),
        ('[metrics]\nlisten = "127.0.0.1:99999"', "metrics.listen"),
    ],
)
def test_invalid_value(tmp_path: Path, line: str, key: str) -> None:
    """A value of the right type but outside its allowed range is an error naming the key."""
    path = write(tmp_path, line + "\n" + AAPL)
    err = config_error(path)
    assert (err.file, err.key) == (str(path), key)


def test_market_data_type_suggests_the_spelling(tmp_path: Path) -> None:
    """A market data type in the wrong case suggests the valid spelling."""
    err = config_error(write(tmp_path, '[gateway]\nmarket_data_type = "Delayed"\n' + AAPL))
    assert "did you mean 'delayed'?" in err.problem


@pytest.mark.parametrize("endpoint", ["tcp://127.0.0.1:0", "tcp://*:*", "ipc:///tmp/ibpub.sock"])
def test_bindable_endpoints_are_accepted(endpoint: str) -> None:
    """Ephemeral tcp ports and ipc paths are valid bus endpoints."""
    assert BusSettings(pub=(endpoint,), snapshot="tcp://127.0.0.1:0").pub == (endpoint,)


@pytest.mark.parametrize("given", ["curve_secret_key", "curve_authorized_keys"])
def test_curve_needs_both_settings(tmp_path: Path, given: str) -> None:
    """Setting one CURVE path without the other is an error naming the one that is set."""
    err = config_error(write(tmp_path, f'[bus]\n{given} = "keys/x"\n' + AAPL))
    assert err.key == f"bus.{given}"
    assert "both or neither" in err.problem


def test_curve_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    """Relative CURVE paths in the file resolve against the file's directory."""
    text = '[bus]\ncurve_secret_key = "keys/s"\ncurve_authorized_keys = "/abs/authorized"\n'
    bus = load_settings(write(tmp_path, text + AAPL)).bus
    assert bus.curve
    assert bus.curve_secret_key == str(tmp_path / "keys" / "s")
    assert bus.curve_authorized_keys == "/abs/authorized"


# -- errors: instruments --------------------------------------------------------------------------


def test_at_least_one_instrument_is_required(tmp_path: Path) -> None:
    """A file without [[instruments]] is an error."""
    err = config_error(write(tmp_path, "[gateway]\nport = 4002\n"))
    assert err.key == "instruments"


def test_instruments_must_be_an_array_of_tables(tmp_path: Path) -> None:
    """[instruments] (a single table) instead of [[instruments]] is an error that says so."""
    err = config_error(write(tmp_path, '[instruments]\nsymbol = "AAPL"\n'))
    assert err.key == "instruments"
    assert "[[instruments]]" in err.problem


def test_unknown_sec_type(tmp_path: Path) -> None:
    """An unknown sec_type names the instrument's position and suggests IB's type."""
    err = instrument_error(tmp_path, 'symbol = "AAPL"\nsec_type = "STOCK"\n')
    assert err.key == "instruments[0].sec_type"
    assert "did you mean 'STK'?" in err.problem


def test_sec_type_is_required(tmp_path: Path) -> None:
    """An instrument without sec_type is an error."""
    assert instrument_error(tmp_path, 'symbol = "AAPL"\n').key == "instruments[0].sec_type"


def test_symbol_is_required_without_con_id(tmp_path: Path) -> None:
    """An instrument needs a symbol unless it gives a con_id."""
    assert instrument_error(tmp_path, 'sec_type = "STK"\n').key == "instruments[0].symbol"


def test_future_without_a_date(tmp_path: Path) -> None:
    """A FUT needs last_trade_date (or local_symbol)."""
    err = instrument_error(tmp_path, 'sec_type = "FUT"\nsymbol = "ES"\nexchange = "CME"\n')
    assert err.key == "instruments[0].last_trade_date"


@pytest.mark.parametrize("missing", ["last_trade_date", "right", "strike"])
def test_option_needs_date_right_and_strike(tmp_path: Path, missing: str) -> None:
    """An OPT without its expiry, right or strike is an error naming the missing one."""
    fields = {"last_trade_date": '"20261218"', "right": '"C"', "strike": "200.0"}
    del fields[missing]
    table = 'sec_type = "OPT"\nsymbol = "AAPL"\n' + "".join(
        f"{k} = {v}\n" for k, v in fields.items()
    )
    assert instrument_error(tmp_path, table).key == f"instruments[0].{missing}"


@pytest.mark.parametrize("date", ["2026", "2026-12", "202613", "20260230", "18000101", "2026121"])
def test_bad_last_trade_date(tmp_path: Path, date: str) -> None:
    """last_trade_date must be a plausible YYYYMM or YYYYMMDD."""
    table = f'sec_type = "FUT"\nsymbol = "ES"\nlast_trade_date = "{date}"\n'
    assert instrument_error(tmp_path, table).key == "instruments[0].last_trade_date"


def test_bad_right(tmp_path: Path) -> None:
    """right must be C, P, CALL or PUT."""
    table = (
        'sec_type = "OPT"\nsymbol = "A"\nlast_trade_date = "202612"\nstrike = 1.0\nright = "X"\n'
    )
    assert instrument_error(tmp_path, table).key == "instruments[0].right"


def test_bad_key_characters(tmp_path: Path) -> None:
    """An explicit key outside [A-Za-z0-9._-] is an error."""
    err = instrument_error(tmp_path, 'key = "tick/AAPL"\nsec_type = "STK"\nsymbol = "AAPL"\n')
    assert err.key == "instruments[0].key"


def test_duplicate_key_names_both_positions(tmp_path: Path) -> None:
    """Two instruments with the same key are an error naming both positions."""
    text = AAPL + '[[instruments]]\nsec_type = "STK"\nsymbol = "MSFT"\n' + AAPL
    err = config_error(write(tmp_path, text))
    assert err.key == "instruments[2].key"
    assert "instruments[0]" in err.problem
    assert "'AAPL'" in err.problem


def test_unknown_instrument_key_suggests_the_closest(tmp_path: Path) -> None:
    """A misspelt key in an instrument table is an error with a suggestion."""
    err = instrument_error(tmp_path, 'sec_type = "STK"\nsymbol = "A"\nprimary_exchang = "X"\n')
    assert err.key == "instruments[0].primary_exchang"
    assert "'primary_exchange'" in err.problem


def test_instrument_wrong_type(tmp_path: Path) -> None:
    """An instrument value of the wrong type names the instrument's position and key."""
    err = instrument_error(tmp_path, 'sec_type = "STK"\nsymbol = "A"\ncon_id = "8314"\n')
    assert err.key == "instruments[0].con_id"
    assert err.problem == "expected an integer, got string '8314'"


def test_generic_ticks_are_normalised(tmp_path: Path) -> None:
    """generic_ticks " 233, 236 " is stored as "233,236"."""
    table = 'sec_type = "STK"\nsymbol = "A"\ngeneric_ticks = " 233, 236 "\n'
    spec = load_settings(write(tmp_path, "[[instruments]]\n" + table)).instruments[0]
    assert spec.generic_ticks == "233,236"


def test_bad_generic_ticks(tmp_path: Path) -> None:
    """generic_ticks must be a comma-separated list of numbers."""
    table = 'sec_type = "STK"\nsymbol = "A"\ngeneric_ticks = "233;RTVolume"\n'
    assert instrument_error(tmp_path, table).key == "instruments[0].generic_ticks"


# -- errors: environment and flags -------------------------------------------------------------


def test_unknown_ibpub_variable(tmp_path: Path) -> None:
    """An IBPUB_ variable that names no setting is an error naming the variable."""
    err = config_error(write(tmp_path, AAPL), {"IBPUB_GATEWAY_PROT": "4002"})
    assert (err.file, err.key) == ("environment", "IBPUB_GATEWAY_PROT")
    assert "IBPUB_GATEWAY_PORT" in err.problem


def test_instruments_cannot_come_from_the_environment(tmp_path: Path) -> None:
    """IBPUB_INSTRUMENTS is an error: instruments come from the file only."""
    err = config_error(write(tmp_path, AAPL), {"IBPUB_INSTRUMENTS": "AAPL"})
    assert err.key == "IBPUB_INSTRUMENTS"
    assert "file" in err.problem


def test_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    """A variable that does not parse as its setting's type names the variable."""
    err = config_error(write(tmp_path, AAPL), {"IBPUB_GATEWAY_PORT": "abc"})
    assert str(err) == "environment: IBPUB_GATEWAY_PORT: expected an integer, got string 'abc'"


def test_invalid_environment_value_names_the_variable(tmp_path: Path) -> None:
    """A variable with a well-typed but invalid value is blamed, not the file."""
    err = config_error(write(tmp_path, AAPL), {"IBPUB_GATEWAY_PORT": "70000"})
    assert (err.file, err.key) == ("environment", "IBPUB_GATEWAY_PORT")


def test_bad_flag_value_names_the_flag(tmp_path: Path) -> None:
    """A flag value that does not parse names the flag, from the command line."""
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, AAPL), {}, {"bus.heartbeat_interval": "often"})
    assert (caught.value.file, caught.value.key) == ("command line", "--bus-heartbeat-interval")


@pytest.mark.parametrize(
    ("variable", "text", "expected"),
    [
        ("IBPUB_GATEWAY_PORT", " 4002 ", 4002),
        ("IBPUB_GATEWAY_PORT", "+4002", 4002),
        ("IBPUB_GATEWAY_PORT", "04002", 4002),
        ("IBPUB_BUS_HEARTBEAT_INTERVAL", ".5", 0.5),
        ("IBPUB_BUS_HEARTBEAT_INTERVAL", "5.", 5.0),
        ("IBPUB_BUS_HEARTBEAT_INTERVAL", " +1.5e-1 ", 0.15),
        ("IBPUB_METRICS_PER_INSTRUMENT", "No", False),
        ("IBPUB_METRICS_PER_INSTRUMENT", " off ", False),
        ("IBPUB_METRICS_PER_INSTRUMENT", "0", False),
        ("IBPUB_GATEWAY_ALLOW_DELAYED_FALLBACK", "YES", True),
        ("IBPUB_GATEWAY_ALLOW_DELAYED_FALLBACK", "on", True),
        ("IBPUB_GATEWAY_ALLOW_DELAYED_FALLBACK", "1", True),
        ("IBPUB_GATEWAY_FALLBACK_CLIENT_IDS", "18, 19,", (18, 19)),
    ],
)
def test_text_is_converted_laxly(
    aapl_file: Path, variable: str, text: str, expected: object
) -> None:
    """Variable text is read leniently: blanks, a plus sign, bare dots and yes/no/on/off."""
    settings = load_settings(aapl_file, {variable: text})
    section, name = variable.removeprefix("IBPUB_").lower().split("_", 1)
    assert getattr(getattr(settings, section), name) == expected


@pytest.mark.parametrize("text", ["1.0", "1e3", "4_002", "0x10", "true"])
def test_integer_text_must_be_an_integer(aapl_file: Path, text: str) -> None:
    """Text such as 1.0 or 1e3 is not an integer setting, though it names a whole number."""
    with pytest.raises(ConfigError) as caught:
        load_settings(aapl_file, {}, {"gateway.client_id": text})
    assert str(caught.value) == (
        f"command line: --gateway-client-id: expected an integer, got string {text!r}"
    )


def test_boolean_text_outside_the_words_is_refused(aapl_file: Path) -> None:
    """A boolean variable must be one of true/false, 1/0, yes/no, on/off."""
    err = config_error(aapl_file, {"IBPUB_METRICS_PER_INSTRUMENT": "maybe"})
    assert str(err) == (
        "environment: IBPUB_METRICS_PER_INSTRUMENT: "
        "expected a boolean (true or false), got string 'maybe'"
    )


def test_client_id_list_text_names_the_variable(aapl_file: Path) -> None:
    """A fallback client id list with a non-integer in it is refused, naming the variable."""
    err = config_error(aapl_file, {"IBPUB_GATEWAY_FALLBACK_CLIENT_IDS": "18,x"})
    assert (err.file, err.key) == ("environment", "IBPUB_GATEWAY_FALLBACK_CLIENT_IDS")
    assert err.problem == "expected comma-separated integers, got string '18,x'"


@pytest.mark.parametrize(
    ("line", "key", "problem"),
    [
        (
            '[gateway]\nfallback_client_ids = ["18"]',
            "gateway.fallback_client_ids",
            "expected an array of integers, got an array",
        ),
        ("[bus]\npub = [1, 2]", "bus.pub", "expected an array of strings, got an array"),
        (
            "[gateway]\nallow_delayed_fallback = 1",
            "gateway.allow_delayed_fallback",
            "expected a boolean (true or false), got integer 1",
        ),
        (
            "[gateway]\nport = 1979-05-27",
            "gateway.port",
            "expected an integer, got date 1979-05-27",
        ),
    ],
)
def test_toml_values_are_typed_strictly(tmp_path: Path, line: str, key: str, problem: str) -> None:
    """A TOML value is never coerced: a string is not an integer, an integer not a boolean."""
    err = config_error(write(tmp_path, line + "\n" + AAPL))
    assert (err.key, err.problem) == (key, problem)


def test_first_problem_in_a_table_is_reported(tmp_path: Path) -> None:
    """Of a misspelt key and a mistyped one, the one written first is reported."""
    err = config_error(write(tmp_path, '[gateway]\nport = "x"\nhots = "h"\n' + AAPL))
    assert err.key == "gateway.port"
    err = config_error(write(tmp_path, '[gateway]\nhots = "h"\nport = "x"\n' + AAPL))
    assert err.key == "gateway.hots"


# -- instrument keys ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ('sec_type = "STK"\nsymbol = "AAPL"', "AAPL"),
        ('sec_type = "IND"\nsymbol = "SPX"\nexchange = "CBOE"', "SPX"),
        ('sec_type = "CASH"\nsymbol = "EUR"\nexchange = "IDEALPRO"', "EUR.USD"),
        ('sec_type = "FUT"\nsymbol = "ES"\nlast_trade_date = "202612"', "ES.202612"),
        ('sec_type = "FUT"\nsymbol = "ES"\nlocal_symbol = "ESZ6"', "ESZ6"),
        (
            'sec_type = "OPT"\nsymbol = "AAPL"\nlast_trade_date = "20261218"\n'
            'right = "CALL"\nstrike = 200.0',
            "AAPL.20261218.C200",
        ),
        (
            'sec_type = "FOP"\nsymbol = "ES"\nlast_trade_date = "20261218"\n'
            'right = "P"\nstrike = 6012.5',
            "ES.20261218.P6012.5",
        ),
        ('sec_type = "STK"\nsymbol = "BRK B"', "BRK_B"),
        ('sec_type = "STK"\ncon_id = 8314', "8314"),
        ('key = "apple"\nsec_type = "STK"\nsymbol = "AAPL"', "apple"),
    ],
)
def test_derived_key(tmp_path: Path, table: str, key: str) -> None:
    """An instrument without a key gets one from the documented rule."""
    path = write(tmp_path, "[[instruments]]\n" + table + "\n")
    assert load_settings(path).instruments[0].key == key


@given(
    sec_type=st.sampled_from(SEC_TYPES).filter(lambda s: s != "BAG"),
    symbol=st.text(min_size=1, max_size=80),
    currency=st.text(max_size=5),
    local_symbol=st.text(max_size=30),
    right=st.sampled_from(["", "C", "P", "CALL", "PUT"]),
    strike=st.floats(allow_nan=False, allow_infinity=False),
    con_id=st.integers(min_value=0, max_value=2**31),
)
def test_derived_keys_always_match_the_key_charset(
    sec_type: str,
    symbol: str,
    currency: str,
    local_symbol: str,
    right: str,
    strike: float,
    con_id: int,
) -> None:
    """Whatever the contract fields, a derived key is 1 to 64 of [A-Za-z0-9._-]."""
    key = derive_key(
        sec_type,
        symbol,
        currency=currency,
        local_symbol=local_symbol,
        last_trade_date="20261218",
        right=right,
        strike=strike,
        con_id=con_id,
    )
    assert KEY_PATTERN.fullmatch(key)


@given(st.from_regex(KEY_PATTERN, fullmatch=True))
def test_sanitize_keeps_valid_keys(key: str) -> None:
    """sanitize_key leaves a key that is already valid unchanged."""
    assert sanitize_key(key) == key


@given(st.text(min_size=1))
def test_sanitize_is_idempotent(text: str) -> None:
    """Sanitising twice gives the same key as sanitising once."""
    assert sanitize_key(sanitize_key(text)) == sanitize_key(text)


@pytest.fixture(scope="module")
def aapl_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(tmp_path_factory.mktemp("config"), AAPL)


@given(port=st.integers(min_value=1, max_value=65535))
def test_any_valid_port_from_the_environment_round_trips(aapl_file: Path, port: int) -> None:
    """Every port 1..65535 given as a string in the environment comes back as that int."""
    settings = load_settings(aapl_file, {"IBPUB_GATEWAY_PORT": str(port)})
    assert settings.gateway.port == port


@given(text=st.text(max_size=10).filter(lambda t: not t.strip().lstrip("+-").isdigit()))
def test_non_integer_port_from_the_environment_is_refused(aapl_file: Path, text: str) -> None:
    """Any variable text that is not an integer is a ConfigError, never a crash."""
    with pytest.raises(ConfigError) as caught:
        load_settings(aapl_file, {"IBPUB_GATEWAY_PORT": text})
    assert caught.value.key == "IBPUB_GATEWAY_PORT"


@given(setting=st.sampled_from(SCALAR_SETTINGS), text=st.text(max_size=12))
def test_any_variable_text_loads_or_is_a_config_error(
    aapl_file: Path, setting: tuple[str, type], text: str
) -> None:
    """Whatever an IBPUB_* variable holds, the settings load or a ConfigError says why."""
    try:
        load_settings(aapl_file, {env_var_name(setting[0]): text})
    except ConfigError as exc:
        assert exc.file in ("environment", str(aapl_file))


@given(heartbeat=st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False))
def test_any_positive_heartbeat_is_valid(heartbeat: float) -> None:
    """Every positive, finite heartbeat interval is accepted unchanged."""
    assert BusSettings(heartbeat_interval=heartbeat).heartbeat_interval == heartbeat


# -- the value objects -------------------------------------------------------------------------


def test_value_objects_are_frozen(tmp_path: Path) -> None:
    """Settings cannot be changed after loading."""
    settings = load_settings(write(tmp_path, AAPL))
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.gateway.port = 1  # type: ignore[misc]  # the point of the test


def test_constructing_an_invalid_value_object_raises() -> None:
    """Value objects validate on construction, naming the class and the field."""
    with pytest.raises(ConfigError) as caught:
        GatewaySettings(port=0)
    assert (caught.value.file, caught.value.key) == ("GatewaySettings", "port")


def test_settings_refuse_duplicate_keys() -> None:
    """Settings built in code refuse two instruments with one key."""
    spec = InstrumentSpec(key="", sec_type="STK", symbol="AAPL")
    with pytest.raises(ConfigError) as caught:
        Settings(
            source="test",
            publisher=PublisherSettings(),
            gateway=GatewaySettings(),
            bus=BusSettings(),
            metrics=MetricsSettings(),
            instruments=(spec, spec),
        )
    assert caught.value.key == "instruments[1].key"


def test_strike_must_be_finite() -> None:
    """An infinite strike is refused."""
    with pytest.raises(ConfigError) as caught:
        InstrumentSpec(
            key="X",
            sec_type="OPT",
            symbol="X",
            last_trade_date="202612",
            right="C",
            strike=math.inf,
        )
    assert caught.value.key == "strike"


# -- CLI helpers -------------------------------------------------------------------------------


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_override_flags(parser)
    return parser.parse_args(argv)


def test_every_scalar_setting_has_a_flag() -> None:
    """add_override_flags adds --section-key for each overridable setting."""
    parser = argparse.ArgumentParser()
    add_override_flags(parser)
    options = {opt for action in parser._actions for opt in action.option_strings}
    for dotted, _ in SCALAR_SETTINGS:
        assert flag_name(dotted) in options
    assert {"--gateway-port", "--publisher-name", "--metrics-listen", "--bus-pub"} <= options


def test_no_flags_means_no_overrides() -> None:
    """Flags default to None, so an empty command line overrides nothing."""
    assert overrides_from_args(parse([])) == {}


def test_flags_become_overrides() -> None:
    """Given flags come back as {"section.key": "value"} strings."""
    args = parse(["--gateway-port", "4002", "--bus-pub", "tcp://*:1,tcp://*:2"])
    assert overrides_from_args(args) == {"gateway.port": "4002", "bus.pub": "tcp://*:1,tcp://*:2"}


def test_flag_help_shows_the_default_and_variable() -> None:
    """Each flag's help names the setting, its environment variable and its default."""
    parser = argparse.ArgumentParser()
    add_override_flags(parser)
    text = parser.format_help()
    assert "IBPUB_GATEWAY_PORT" in text
    assert "default: 4001" in text


def test_check_config_prints_a_summary(tmp_path: Path) -> None:
    """check-config on a valid file prints the effective settings and returns 0."""
    out, err = io.StringIO(), io.StringIO()
    path = write(tmp_path, AAPL)
    assert check_config(str(path), {"IBPUB_GATEWAY_PORT": "4999"}, out=out, err=err) == 0
    summary = out.getvalue()
    assert "127.0.0.1:4999" in summary
    assert "tcp://127.0.0.1:7700" in summary
    assert "AAPL" in summary
    assert "IBPUB_GATEWAY_PORT" in summary
    assert err.getvalue() == ""


def test_check_config_reports_the_error(tmp_path: Path) -> None:
    """check-config on a bad file prints "error: file: key: problem" and returns 2."""
    out, err = io.StringIO(), io.StringIO()
    path = write(tmp_path, '[gateway]\nport = "x"\n' + AAPL)
    assert check_config(str(path), {}, out=out, err=err) == 2
    assert err.getvalue() == (f"error: {path}: gateway.port: expected an integer, got string 'x'\n")
    assert out.getvalue() == ""


def test_docs_list_every_setting() -> None:
    """docs/configuration.md names every setting's key, variable and flag."""
    text = (REPO / "docs" / "configuration.md").read_text()
    for dotted, _ in SCALAR_SETTINGS:
        assert f"`{dotted.split('.')[1]}`" in text, dotted
        assert env_var_name(dotted) in text, dotted
        assert flag_name(dotted) in text, dotted
