"""The recorder: rows in csv, jsonl and parquet, gap rows, daily and size rotation (no sockets)."""

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq  # type: ignore[import-untyped,unused-ignore]  # no type information
import pytest

from subscribers.events import Gap, PublisherAlive, PublisherRestart, PublisherSilent
from subscribers.recorder import COLUMNS, FORMATS, Format, Recorder
from subscribers.wire import Heartbeat, Status, Tick, decode

DAY1 = int(datetime(2026, 11, 23, 23, 59, 59, tzinfo=UTC).timestamp() * 1e9)
DAY2 = int(datetime(2026, 11, 24, 0, 0, 1, tzinfo=UTC).timestamp() * 1e9)


def tick(seq: int, **given: Any) -> Tick:
    fields: dict[str, Any] = {
        "pub": "p",
        "sid": 5,
        "seq": seq,
        "ts": DAY1,
        "key": "AAPL",
        "conid": 1,
        "field": "bid",
        "tick_type": 1,
        "kind": "price",
        "price": 189.52,
        "attrib": 0,
        "mdt": 1,
        "ts_recv": DAY1 - 1,
    }
    fields.update(given)
    return Tick(**fields)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of any format as dicts (csv values as text, '' for absent)."""
    if path.suffix == ".csv":
        with path.open(newline="") as f:
            return list(csv.DictReader(f))
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text().splitlines()]
    rows: list[dict[str, Any]] = pq.read_table(path).to_pylist()
    return rows


@pytest.mark.parametrize("fmt", FORMATS)
def test_ticks_and_gaps_are_rows_in_order(tmp_path: Path, fmt: Format) -> None:
    """Ticks become tick rows and a gap a gap row between them, in the order received."""
    recorder = Recorder(tmp_path, fmt)
    recorder.tick(tick(1), DAY1)
    recorder.event(Gap("tick.AAPL", 5, 2, 4, "seq"), DAY1)
    recorder.tick(tick(5), DAY1)
    recorder.close()
    (path,) = recorder.files
    rows = read_rows(path)
    assert [r["row"] for r in rows] == ["tick", "gap", "tick"]
    assert list(rows[0]) == list(COLUMNS)
    gap = rows[1]
    assert str(gap["seq"]) == "2" and str(gap["missing"]) == "3"
    assert gap["topic"] == "tick.AAPL"
    assert "detected by seq" in gap["note"]
    assert float(rows[2]["price"]) == 189.52 and str(rows[2]["seq"]) == "5"
    assert (recorder.ticks, recorder.gaps, recorder.lost) == (2, 1, 3)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_value_kind_round_trips(tmp_path: Path, fmt: Format) -> None:
    """Price, size and value ticks (int, float, str) keep their value; nil price stays absent."""
    recorder = Recorder(tmp_path, fmt)
    recorder.tick(tick(1, price=None), DAY1)
    recorder.tick(tick(2, kind="size", field="bid_size", price=None, attrib=None, size=2.5), DAY1)
    recorder.tick(tick(3, kind="value", price=None, attrib=None, value=1767268801), DAY1)
    recorder.tick(tick(4, kind="value", price=None, attrib=None, value="a;b"), DAY1)
    recorder.close()
    rows = read_rows(recorder.files[0])
    assert rows[0]["price"] in ("", None)
    assert float(rows[1]["size"]) == 2.5
    assert str(rows[2]["value"]) == "1767268801"
    assert rows[3]["value"] == "a;b"


def test_restart_and_silence_are_rows_alive_is_not(tmp_path: Path) -> None:
    """A restart and a silence each leave a row; a publisher being alive loses nothing."""
    recorder = Recorder(tmp_path, "jsonl")
    recorder.event(PublisherRestart("p", 1, 2), DAY1)
    recorder.event(PublisherSilent("p", 2, 3.1, 1.0), DAY1)
    recorder.event(PublisherAlive("p", 2, returned=True), DAY1)
    recorder.close()
    rows = read_rows(recorder.files[0])
    assert [(r["row"], r["sid"]) for r in rows] == [("restart", 2), ("silent", 2)]


def test_a_new_utc_day_starts_a_new_file(tmp_path: Path) -> None:
    """Rows received after midnight UTC go into the next day's file."""
    recorder = Recorder(tmp_path, "csv")
    recorder.tick(tick(1), DAY1)
    recorder.tick(tick(2), DAY2)
    recorder.close()
    names = [p.name for p in recorder.files]
    assert names == ["ibsub-20261123-0001.csv", "ibsub-20261124-0001.csv"]
    assert [len(read_rows(p)) for p in recorder.files] == [1, 1]


def test_a_full_file_rolls_over_to_the_next_number(tmp_path: Path) -> None:
    """Once a file reaches max_bytes the next row starts file -0002, and nothing is lost."""
    recorder = Recorder(tmp_path, "jsonl", max_bytes=3000)
    for seq in range(1, 31):
        recorder.tick(tick(seq), DAY1)
    recorder.close()
    assert len(recorder.files) > 2
    assert recorder.files[1].name == "ibsub-20261123-0002.jsonl"
    seqs = [row["seq"] for path in recorder.files for row in read_rows(path)]
    assert seqs == list(range(1, 31))
    row_bytes = max(len(line) for line in recorder.files[0].read_bytes().splitlines(True))
    assert all(path.stat().st_size < 3000 + row_bytes for path in recorder.files)


def test_existing_files_are_never_overwritten(tmp_path: Path) -> None:
    """A second recording on the same day picks the next free number."""
    for _ in range(2):
        recorder = Recorder(tmp_path, "csv")
        recorder.tick(tick(1), DAY1)
        recorder.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["ibsub-20261123-0001.csv", "ibsub-20261123-0002.csv"]


def test_parquet_is_a_hidden_part_file_until_closed(tmp_path: Path) -> None:
    """An open Parquet file is a hidden .part file; closing renames it to .parquet."""
    recorder = Recorder(tmp_path, "parquet")
    recorder.tick(tick(1), DAY1)
    assert [p.name for p in tmp_path.iterdir()] == [".ibsub-20261123-0001.parquet.part"]
    recorder.close()
    assert [p.name for p in tmp_path.iterdir()] == ["ibsub-20261123-0001.parquet"]
    assert pq.read_table(tmp_path / "ibsub-20261123-0001.parquet").num_rows == 1


def test_a_left_over_part_file_keeps_its_number(tmp_path: Path) -> None:
    """A .part file left by a killed recorder is not overwritten: the next file takes -0002."""
    (tmp_path / ".ibsub-20261123-0001.parquet.part").write_bytes(b"killed mid-write")
    recorder = Recorder(tmp_path, "parquet")
    recorder.tick(tick(1), DAY1)
    recorder.close()
    assert recorder.files == [tmp_path / "ibsub-20261123-0002.parquet"]


def test_csv_rows_reach_the_disk_on_flush(tmp_path: Path) -> None:
    """flush() makes the rows so far readable while the file stays open."""
    recorder = Recorder(tmp_path, "csv")
    recorder.tick(tick(1), DAY1)
    recorder.flush()
    assert len(read_rows(recorder.files[0])) == 1
    recorder.close()


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_data_kind_is_a_row_with_its_own_columns(tmp_path: Path, fmt: Format) -> None:
    """tbt, depth, bar and greeks messages are rows typed by ``row``, each payload key in its
    column, in every format, with the tick rows in the same files."""
    from tests.subscribers.test_data_kinds import bar, depth, greeks, tbt

    recorder = Recorder(tmp_path, fmt)
    recorder.tick(tick(1), DAY1)
    for frames in (
        tbt("AAPL", 1),
        depth("AAPL", 1, 0, "insert", "bid", 189.5, 3.0, "ARCA"),
        bar("AAPL", 1),
        greeks("AAPL", 1),
    ):
        msg = decode(*frames)
        assert not isinstance(msg, Status | Heartbeat)
        recorder.data(msg, DAY1)
    recorder.close()
    rows = read_rows(recorder.files[0])
    assert [row["row"] for row in rows] == ["tick", "tbt", "depth", "bar", "greeks"]
    assert all(list(row) == list(COLUMNS) for row in rows)
    text = fmt == "csv"
    got_tbt, got_depth, got_bar, got_greeks = rows[1:]
    assert got_tbt["exchange"] == "NASDAQ" and got_tbt["kind"] == "last"
    assert got_tbt["price"] == ("189.5" if text else 189.5)
    assert got_depth["market_maker"] == "ARCA" and got_depth["side"] == "bid"
    assert got_depth["is_smart"] == ("True" if text else True)
    assert got_bar["count"] == ("17" if text else 17) and got_bar["what"] == "TRADES"
    assert got_greeks["delta"] == ("0.5" if text else 0.5)
    assert got_greeks["theta"] in ("", None) and got_greeks["field"] == "model_option"
    assert got_bar["topic"] == "bar.AAPL" and got_bar["recv_ns"] in (DAY1, str(DAY1))
    assert recorder.ticks == 5


def test_parquet_row_groups_hold_what_the_row_dicts_say(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ticks are buffered as tuples and other rows as every column, converted per row group:
    the file equals the row dicts (tick_row, data_row, event_row) converted one by one, for
    groups of ticks only and of mixed rows alike."""
    import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]  # no type information

    from subscribers import recorder as module
    from tests.subscribers.test_data_kinds import depth

    monkeypatch.setattr(module, "PARQUET_ROW_GROUP", 4)
    recorder = Recorder(tmp_path, "parquet")
    expected: list[dict[str, Any]] = []
    ticks = [
        tick(1),
        tick(2, kind="size", price=None, attrib=None, size=3.0),
        tick(3, kind="value", price=None, attrib=None, value=7),
        tick(4, kind="price", price=None),
        tick(5, kind="value", price=None, attrib=None, value="x"),
    ]
    for n, item in enumerate(ticks * 2):
        recorder.tick(item, DAY1 + n)
        expected.append(module.tick_row(item, DAY1 + n))
        if n in (6, 8):  # a gap, and a depth change, in later groups
            gap = Gap("tick.AAPL", 5, 2, 4, "seq")
            recorder.event(gap, DAY1 + n)
            expected.append(module.event_row(gap, DAY1 + n) or {})
            msg = decode(*depth("AAPL", n, 0, "insert", "bid", 189.5, 3.0, "ARCA"))
            assert not isinstance(msg, Tick | Status | Heartbeat)
            recorder.data(msg, DAY1 + n)
            expected.append(module.data_row(msg, DAY1 + n))
    recorder.close()
    for row in expected:
        if row.get("value") is not None:
            row["value"] = str(row["value"])
    file = pq.ParquetFile(recorder.files[0])
    assert file.num_row_groups > 3
    table = pq.read_table(recorder.files[0])
    assert table.equals(pa.Table.from_pylist(expected, schema=module.parquet_schema()))
