"""``ReplaySubscriber`` against a real JetStream holding what the bridge would have stored."""

import asyncio
import time
from pathlib import Path
from typing import Any

import msgspec
import nats

from publisher.bridge.copier import Copier, Stored
from subscribers.events import Gap
from subscribers.messages import Tick
from subscribers.replay import GapRecord, ReplaySubscriber, parse_time
from subscribers.schema import TickPayload
from tests.bridge.servers import NatsServer
from tests.support.processes import Processes

_ENC = msgspec.msgpack.Encoder()


def _tick(seq: int, key: str = "AAPL") -> tuple[bytes, bytes]:
    payload = TickPayload(
        v=1, type="tick", pub="p", sid=9, seq=seq, ts=time.time_ns(), key=key, conid=1,
        field="bid", tick_type=1, price=100.0 + seq, mdt=1, ts_recv=time.time_ns(),
    )  # fmt: skip
    return f"tick.{key}".encode(), _ENC.encode(payload)


def _store(url: str, items: list[Stored]) -> None:
    async def main() -> None:
        nc = await nats.connect(url)
        js = nc.jetstream()
        await js.add_stream(name="IBPUB", subjects=["ibpub.>"])
        for item in items:
            await js.publish(item.subject, item.payload, headers=item.headers)
        await nc.close()

    asyncio.run(main())


def test_replay_yields_the_stored_ticks_in_order_and_reports_the_stored_gap(
    tmp_path: Path, procs: Processes
) -> None:
    """Ticks 1, 2, (gap 3..4), 5 come back as Tick objects in order, the gap as an event."""
    server = NatsServer(procs, tmp_path / "js").start()
    copier = Copier()
    items = [item for seq in (1, 2, 5) for item in copier.copy(*_tick(seq))]
    _store(server.url, items)
    events: list[Any] = []
    with ReplaySubscriber(server.url, since=parse_time("-5m"), on_event=events.append) as sub:
        messages = list(sub)
        stats = sub.stats
    assert all(isinstance(m, Tick) for m in messages)
    assert [m.seq for m in messages] == [1, 2, 5]
    gaps = [e for e in events if isinstance(e, Gap)]
    assert [(g.topic, g.first, g.last) for g in gaps] == [("tick.AAPL", 3, 4)]
    assert any(isinstance(e, GapRecord) for e in events)
    assert (stats.received, stats.gaps, stats.lost) == (3, 1, 2)


def test_a_replay_after_everything_stored_ends_at_once(tmp_path: Path, procs: Processes) -> None:
    """--since later than the last stored message: nothing, and no wait."""
    server = NatsServer(procs, tmp_path / "js").start()
    _store(server.url, Copier().copy(*_tick(1)))
    later = time.time_ns() + 60 * 10**9
    with ReplaySubscriber(server.url, since=later) as sub:
        assert list(sub) == []


def test_prefixes_select_topics(tmp_path: Path, procs: Processes) -> None:
    """Only topics starting with a given prefix are returned."""
    server = NatsServer(procs, tmp_path / "js").start()
    copier = Copier()
    _store(server.url, [*copier.copy(*_tick(1, "AAPL")), *copier.copy(*_tick(1, "MSFT"))])
    with ReplaySubscriber(server.url, since=parse_time("-5m"), prefixes=["tick.MSFT"]) as sub:
        assert [m.topic for m in sub] == ["tick.MSFT"]


def test_relative_and_iso_times_parse() -> None:
    """-15m is 900 s before now; an ISO time without offset is UTC."""
    now = 1_000_000 * 10**9
    assert parse_time("-15m", now) == now - 900 * 10**9
    assert parse_time("1970-01-01T00:00:10") == 10 * 10**9
