"""Recording ticks and detected losses to files: rows, three formats, daily and size rotation.

No sockets here: :class:`Recorder` is fed decoded ticks and :mod:`subscribers.events` values by
``ibsub record`` (or any other caller) and writes one row for each.

Every row has the columns of :data:`COLUMNS`; ``row`` says what it is:

* ``tick``: one received tick (``price``, ``size`` or ``value`` set, as on the wire);
* ``gap``: messages ``seq``..``seq + missing - 1`` on ``topic`` in session ``sid`` were lost and
  are not in the files (``note`` says whether a later message or a heartbeat revealed it);
* ``restart``: publisher ``pub`` began session ``sid`` (its ``seq`` numbers start over);
* ``silent``: publisher ``pub`` sent no heartbeat for 3 intervals; data may be missing until
  its next tick rows.

Files are ``<dir>/ibsub-YYYYMMDD-NNNN.<csv|jsonl|parquet>``: a new file starts at each UTC day
(of the receipt time) and whenever the current one reaches ``max_bytes``; ``NNNN`` never reuses
an existing file's number. A Parquet file is written as the hidden ``.ibsub-...parquet.part``
and renamed when it is closed (its footer is written last), so every ``*.parquet`` file is
complete and dataset readers, which skip hidden files, never see one half-written.
"""

import csv
import io
import json
import os
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Final, Literal, Protocol, TypeAlias

import msgspec

from subscribers.events import Event, Gap, PublisherRestart, PublisherSilent
from subscribers.schema import TICK_PREFIX
from subscribers.wire import Bar, Depth, Greeks, Tbt, Tick

Format: TypeAlias = Literal["csv", "jsonl", "parquet"]
FORMATS: Final[tuple[Format, ...]] = ("csv", "jsonl", "parquet")
DEFAULT_MAX_BYTES: Final = 256 * 1024 * 1024
FILE_PREFIX: Final = "ibsub"
PARQUET_ROW_GROUP: Final = 50_000
"""Rows buffered before a Parquet row group is written (and on close)."""

Row: TypeAlias = dict[str, Any]

DATA_COLUMNS: Final = (
    "kind", "time", "exchange", "special_conditions", "past_limit", "unreported",  # tbt
    "bid", "ask", "bid_size", "ask_size", "bid_past_low", "ask_past_high", "mid",  # tbt
    "position", "operation", "side", "market_maker", "is_smart",  # depth
    "what", "open", "high", "low", "close", "volume", "wap", "count",  # bar
    "implied_vol", "delta", "opt_price", "pv_dividend", "gamma", "vega", "theta",  # greeks
    "und_price",
)  # fmt: skip
"""The payload keys of the data kinds (tbt, depth, bar, greeks) that ticks do not have; their
rows also use ``key``, ``conid``, ``ts_recv`` and, where the payload has them, ``price``,
``size`` (tbt last, depth), ``field``, ``tick_type`` and ``mdt`` (greeks)."""
_BOOL_COLUMNS: Final = frozenset(
    {"past_limit", "unreported", "bid_past_low", "ask_past_high", "is_smart"}
)
_TEXT_COLUMNS: Final = frozenset(
    {"kind", "exchange", "special_conditions", "operation", "side", "market_maker", "what"}
)
_INT_COLUMNS: Final = frozenset({"time", "position", "count"})

COLUMNS: Final = (
    "row",
    "recv_ns",
    "topic",
    "pub",
    "sid",
    "seq",
    "ts",
    "key",
    "conid",
    "field",
    "tick_type",
    "price",
    "size",
    "value",
    "attrib",
    "mdt",
    "ts_recv",
    "missing",
    "note",
    *DATA_COLUMNS,
)
"""Every row's columns, in file order. ``recv_ns`` is when the recorder got the row's news
(ns since the epoch, this host's clock); absent values are empty (csv) or null. The columns
after ``note`` belong to the contract 1.1 data kinds (:data:`DATA_COLUMNS`)."""


def tick_row(tick: Tick, recv_ns: int) -> Row:
    """The ``tick`` row of one received tick."""
    return {
        "row": "tick",
        "recv_ns": recv_ns,
        "topic": tick.topic,
        "pub": tick.pub,
        "sid": tick.sid,
        "seq": tick.seq,
        "ts": tick.ts,
        "key": tick.key,
        "conid": tick.conid,
        "field": tick.field,
        "tick_type": tick.tick_type,
        "price": tick.price,
        "size": tick.size,
        "value": tick.value,
        "attrib": tick.attrib,
        "mdt": tick.mdt,
        "ts_recv": tick.ts_recv,
    }


TICK_WIDTH: Final = COLUMNS.index("ts_recv") + 1
"""A tick row's columns are the first this many of :data:`COLUMNS` (the rest stay empty)."""
_TICK_PAD: Final = (None,) * (len(COLUMNS) - TICK_WIDTH)


def data_row(msg: Tbt | Depth | Bar | Greeks, recv_ns: int) -> Row:
    """The row of one tbt, depth, bar or greeks message: ``row`` is its type, each payload key
    its column (keys absent on the wire stay empty)."""
    row: Row = msgspec.to_builtins(msg)
    del row["v"]
    row["row"] = row.pop("type")
    row["recv_ns"] = recv_ns
    row["topic"] = msg.topic
    return row


def event_row(event: Event, recv_ns: int) -> Row | None:
    """The row recording ``event``, or None for events that lose nothing."""
    if isinstance(event, Gap):
        return {
            "row": "gap",
            "recv_ns": recv_ns,
            "topic": event.topic,
            "sid": event.sid,
            "seq": event.first,
            "missing": event.missing,
            "note": f"seq {event.first}..{event.last} lost, detected by {event.detected_by}",
        }
    if isinstance(event, PublisherRestart):
        return {
            "row": "restart",
            "recv_ns": recv_ns,
            "pub": event.pub,
            "sid": event.sid,
            "note": f"publisher restarted: sid {event.old_sid} -> {event.sid}",
        }
    if isinstance(event, PublisherSilent):
        return {
            "row": "silent",
            "recv_ns": recv_ns,
            "pub": event.pub,
            "sid": event.sid,
            "note": f"no heartbeat for {event.silent_for:.1f} s",
        }
    return None


class RowWriter(Protocol):
    """One open output file."""

    @property
    def size(self) -> int:
        """Bytes written so far (what rotation compares with ``max_bytes``)."""

    def write(self, row: Row) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class CsvWriter:
    """CSV with a header line; an absent value is an empty field."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] = open(path, "xb")  # noqa: SIM115  # closed by close()
        self._line = io.StringIO()
        self._csv = csv.writer(self._line, lineterminator="\n")
        self.size = 0
        self._emit(COLUMNS)

    def _emit(self, values: Iterator[Any] | tuple[Any, ...]) -> None:
        self._csv.writerow(values)
        data = self._line.getvalue().encode()
        self._line.seek(0)
        self._line.truncate()
        self._file.write(data)
        self.size += len(data)

    def write(self, row: Row) -> None:
        self._emit(_text(row.get(name)) for name in COLUMNS)

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # shortest text that reads back as the same float
    return str(value)


class JsonlWriter:
    """One JSON object per line with every column (absent values are null)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] = open(path, "xb")  # noqa: SIM115  # closed by close()
        self.size = 0

    def write(self, row: Row) -> None:
        data = (json.dumps({n: row.get(n) for n in COLUMNS}, ensure_ascii=False) + "\n").encode()
        self._file.write(data)
        self.size += len(data)

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def _pyarrow() -> Any:
    """pyarrow, imported only when Parquet is asked for (csv and jsonl need no pyarrow)."""
    # pyarrow ships no type information; "unused-ignore" keeps this quiet if stubs appear.
    import pyarrow  # type: ignore[import-untyped,unused-ignore]

    return pyarrow


def _parquet() -> Any:
    """pyarrow.parquet, imported on first use."""
    import pyarrow.parquet  # type: ignore[import-untyped,unused-ignore]  # as in _pyarrow

    return pyarrow.parquet


def parquet_schema() -> Any:
    """The Parquet columns (a ``pyarrow.Schema``): ``value`` is text, since it holds ints,
    floats and strings on the wire."""
    pa = _pyarrow()
    int64, text = pa.int64(), pa.string()
    types = {"price": pa.float64(), "size": pa.float64(), "value": text, "row": text}
    types.update(dict.fromkeys(("topic", "pub", "key", "field", "note"), text))
    for name in DATA_COLUMNS:
        if name in _BOOL_COLUMNS:
            types[name] = pa.bool_()
        elif name in _TEXT_COLUMNS:
            types[name] = text
        elif name not in _INT_COLUMNS:
            types[name] = pa.float64()
    return pa.schema([(name, types.get(name, int64)) for name in COLUMNS])


class ParquetWriter:
    """Parquet through pyarrow, in row groups of :data:`PARQUET_ROW_GROUP` rows.

    Rows are buffered as tuples in :data:`COLUMNS` order (a tick's only its first
    :data:`TICK_WIDTH` values: see :meth:`write_tick`) and converted by Arrow in one call per
    row group, as a struct array whose fields are the columns: no dict per row, and no Python
    loop over the values."""

    def __init__(self, path: Path) -> None:
        pq = _parquet()
        self.path = path
        self._partial = path.with_name(f".{path.name}.part")
        self._file: IO[bytes] = open(self._partial, "xb")  # noqa: SIM115  # closed by close()
        self._schema = parquet_schema()
        self._writer = pq.ParquetWriter(self._file, self._schema)
        self._rows: list[tuple[Any, ...]] = []
        self._wide = False
        """Whether a buffered row is not a tick's (so has every column)."""
        self.size = 0

    def write(self, row: Row) -> None:
        value = row.get("value")
        if value is not None:
            row = {**row, "value": str(value)}
        self._wide = True
        self._append(tuple(map(row.get, COLUMNS)))

    def write_tick(self, tick: Tick, recv_ns: int) -> None:
        """:meth:`write` of :func:`tick_row` without the dict: its values in :data:`COLUMNS`
        order up to ``ts_recv`` (the first :data:`TICK_WIDTH`; the others stay empty),
        ``value`` as text. This runs for every tick recorded."""
        value = tick.value
        rows = self._rows
        rows.append(
            (
                "tick",
                recv_ns,
                TICK_PREFIX + tick.key,
                tick.pub,
                tick.sid,
                tick.seq,
                tick.ts,
                tick.key,
                tick.conid,
                tick.field,
                tick.tick_type,
                tick.price,
                tick.size,
                None if value is None else str(value),
                tick.attrib,
                tick.mdt,
                tick.ts_recv,
            )
        )
        if len(rows) >= PARQUET_ROW_GROUP:
            self._write_group()

    def _append(self, values: tuple[Any, ...]) -> None:
        rows = self._rows
        rows.append(values)
        if len(rows) >= PARQUET_ROW_GROUP:
            self._write_group()

    def _write_group(self) -> None:
        rows = self._rows
        if not rows:
            return
        pa, schema = _pyarrow(), self._schema
        fields = list(schema)
        if self._wide:  # some rows have every column: give the ticks' theirs (empty)
            rows = [r if len(r) == len(COLUMNS) else r + _TICK_PAD for r in rows]
        else:
            fields = fields[:TICK_WIDTH]
        batch = pa.RecordBatch.from_struct_array(pa.array(rows, type=pa.struct(fields)))
        columns = batch.columns
        columns += [pa.nulls(len(rows), type=f.type) for f in list(schema)[len(columns) :]]
        self._writer.write_table(pa.Table.from_arrays(columns, schema=schema))
        self._rows = []
        self._wide = False
        self.size = self._file.tell()

    def flush(self) -> None:
        """Nothing: rows are buffered into row groups until the group is full or on close."""

    def close(self) -> None:
        self._write_group()
        self._writer.close()
        self._file.close()
        os.replace(self._partial, self.path)


_WRITERS: Final[dict[Format, Callable[[Path], RowWriter]]] = {
    "csv": CsvWriter,
    "jsonl": JsonlWriter,
    "parquet": ParquetWriter,
}


def _utc_day(ns: int) -> date:
    return datetime.fromtimestamp(ns // 1_000_000_000, UTC).date()


def _ns(moment: datetime) -> int:
    """``moment`` in ns since the epoch, exactly (a UTC midnight: whole seconds)."""
    return int(moment.timestamp()) * 1_000_000_000


class Recorder:
    """Writes rows into ``directory``, rotating by UTC day of ``recv_ns`` and by size."""

    def __init__(
        self,
        directory: Path,
        fmt: Format,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        if fmt not in _WRITERS:
            raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be at least 1, not {max_bytes}")
        if fmt == "parquet":
            _parquet()  # fail now (no pyarrow), not at the first row

        self.directory = directory
        self.format = fmt
        self.max_bytes = max_bytes
        self.files: list[Path] = []
        """Every file opened, in order."""
        self.ticks = 0
        self.gaps = 0
        self.lost = 0
        self._writer: RowWriter | None = None
        self._parquet: ParquetWriter | None = None
        """The current writer when it is Parquet's (ticks then skip the row dict)."""
        self._day: date | None = None
        self._day_ns = (0, 0)
        """[start, end) of :attr:`_day` in ns since the epoch."""
        directory.mkdir(parents=True, exist_ok=True)

    def tick(self, tick: Tick, recv_ns: int) -> None:
        """Record one received tick."""
        start, end = self._day_ns
        parquet = self._parquet
        if parquet is None or not start <= recv_ns < end or parquet.size >= self.max_bytes:
            writer = self._writer_for(recv_ns)
            if not isinstance(writer, ParquetWriter):
                writer.write(tick_row(tick, recv_ns))
                self.ticks += 1
                return
            parquet = writer
        parquet.write_tick(tick, recv_ns)
        self.ticks += 1

    def data(self, msg: Tick | Tbt | Depth | Bar | Greeks, recv_ns: int) -> None:
        """Record one received data message of any kind (counted in :attr:`ticks`)."""
        if isinstance(msg, Tick):
            self.tick(msg, recv_ns)
            return
        self._write(data_row(msg, recv_ns), recv_ns)
        self.ticks += 1

    def event(self, event: Event, recv_ns: int) -> None:
        """Record a gap, restart or silence (other events lose nothing and are not written)."""
        row = event_row(event, recv_ns)
        if row is None:
            return
        self._write(row, recv_ns)
        if isinstance(event, Gap):
            self.gaps += 1
            self.lost += event.missing

    def _write(self, row: Row, recv_ns: int) -> None:
        self._writer_for(recv_ns).write(row)

    def _writer_for(self, recv_ns: int) -> RowWriter:
        """The file a row received at ``recv_ns`` goes to (a new one each UTC day and once
        the current one reaches ``max_bytes``)."""
        writer = self._writer
        start, end = self._day_ns
        if writer is None or not start <= recv_ns < end or writer.size >= self.max_bytes:
            day = _utc_day(recv_ns)
            if writer is None or day != self._day or writer.size >= self.max_bytes:
                writer = self._open(day)
        return writer

    def _open(self, day: date) -> RowWriter:
        if self._writer is not None:
            self._writer.close()
            self._writer = self._parquet = None
        stem = f"{FILE_PREFIX}-{day:%Y%m%d}-"
        existing = [*self.directory.glob(stem + "*"), *self.directory.glob(f".{stem}*")]
        taken = {p.name.lstrip(".").split(".", 1)[0] for p in existing}
        number = 1
        while f"{stem}{number:04d}" in taken:
            number += 1
        path = self.directory / f"{stem}{number:04d}.{self.format}"
        writer = self._writer = _WRITERS[self.format](path)
        self._parquet = writer if isinstance(writer, ParquetWriter) else None
        self._day = day
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
        self._day_ns = (_ns(midnight), _ns(midnight + timedelta(days=1)))
        self.files.append(path)
        return writer

    def flush(self) -> None:
        """Push buffered rows to the operating system (csv, jsonl)."""
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        """Flush and close the current file (idempotent)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = self._parquet = None
