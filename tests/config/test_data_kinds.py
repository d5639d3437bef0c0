"""The ``data`` key of an ``[[instruments]]`` table: canonical kinds, clear errors, limits."""

from pathlib import Path

import pytest

from publisher.config import load_settings
from publisher.errors import ConfigError

BASE = """
[gateway]
max_depth = {max_depth}
{instruments}
"""


def write(tmp_path: Path, instruments: str, max_depth: int = 3) -> Path:
    path = tmp_path / "ibpub.toml"
    path.write_text(BASE.format(max_depth=max_depth, instruments=instruments))
    return path


def table(symbol: str, data: str, sec_type: str = "STK") -> str:
    return f'[[instruments]]\nsymbol = "{symbol}"\nsec_type = "{sec_type}"\ndata = {data}\n'


def test_kinds_are_kept_in_their_canonical_spelling(tmp_path: Path) -> None:
    path = write(tmp_path, table("AAPL", '["l1", "depth", "bars_5s:midpoint"]'))
    (spec,) = load_settings(path).instruments
    assert spec.data == ("l1", "depth:10", "bars_5s:MIDPOINT")
    (default,) = load_settings(
        write(tmp_path, '[[instruments]]\nsymbol = "A"\nsec_type = "STK"\n')
    ).instruments
    assert default.data == ("l1",)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ('["l2"]', "unknown data kind 'l2'"),
        ("[]", "non-empty list"),
        ('["depth:5", "depth:10"]', "only one depth kind"),
        ('["greeks"]', "options only"),
        ('"l1"', "data"),
    ],
)
def test_a_bad_kind_names_the_file_the_key_and_the_problem(
    tmp_path: Path, data: str, words: str
) -> None:
    path = write(tmp_path, table("AAPL", data))
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    text = str(caught.value)
    assert str(path) in text and "instruments[0].data" in text and words in text, text


def test_more_depth_than_the_limit_is_a_config_error(tmp_path: Path) -> None:
    path = write(tmp_path, table("AAPL", '["depth"]') + table("MSFT", '["depth"]'), max_depth=1)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert "instruments[1].data" in str(caught.value) and "gateway.max_depth" in str(caught.value)
