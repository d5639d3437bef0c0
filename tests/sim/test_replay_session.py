"""A replay session's timing and cancels, on a real socket inside one event loop.

The recording is written here as a tap file: at version 176 a reqMktData (request id 1) answered
by one tick at once and one 100 s later (recorded time). Replayed at speed 1 the client gets the
first under its own id; its cancel stops the second, and the session holds no timer afterwards.
"""

import asyncio
from pathlib import Path

from publisher.sim.protocol import Encoder, frame, handshake_reply
from publisher.sim.replay import ReplayGateway, load_script
from publisher.sim.replay.requestids import read_req_id
from publisher.sim.replay.session import ReplaySession
from publisher.tap.fileformat import CLIENT, OPEN, SERVER, Record, TapWriter
from tests.sim.support import ibapi_contract
from tests.sim.support import ibapi_request as request
from tests.support.waiting import DEADLINE

VERSION = 176
SECOND = 1_000_000_000


def write_recording(path: Path) -> None:
    encoder = Encoder(VERSION)
    aapl = ibapi_contract("AAPL", "STK", "SMART")
    hello = b"API\0" + frame(b"v100..176")
    start = frame(b"71\x002\x001\x00\x00")
    subscribe = frame(request(VERSION, lambda c: c.reqMktData(1, aapl, "", False, False, [])))
    records = [
        Record(OPEN, 1, 0, b"test"),
        Record(CLIENT, 1, 0, hello),
        Record(SERVER, 1, 1, handshake_reply(VERSION, "20260101 00:00:00 UTC")),
        Record(CLIENT, 1, 2, start),
        Record(SERVER, 1, 3, encoder.managed_accounts(["DU7"])),
        Record(CLIENT, 1, 10 * SECOND, subscribe),
        Record(SERVER, 1, 10 * SECOND, encoder.tick_price(1, 1, 100.25, 5)),
        Record(SERVER, 1, 110 * SECOND, encoder.tick_price(1, 2, 100.5, 5)),
    ]
    with path.open("wb") as out:
        writer = TapWriter(out)
        for record in records:
            writer.write(record)


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    size = int.from_bytes(await reader.readexactly(4), "big")
    return await reader.readexactly(size)


async def session_run(path: Path) -> None:
    script = load_script(str(path))
    gateway = ReplayGateway(script, speed=1.0)
    await gateway.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
        writer.write(b"API\0" + frame(b"v100..176") + frame(b"71\x002\x009\x00\x00"))
        assert (await read_frame(reader)).startswith(b"176\0")
        assert (await read_frame(reader)).startswith(b"15\0")  # the burst: managed accounts
        aapl = ibapi_contract("AAPL", "STK", "SMART")
        writer.write(
            frame(request(VERSION, lambda c: c.reqMktData(42, aapl, "", False, False, [])))
        )
        tick = await asyncio.wait_for(read_frame(reader), DEADLINE)
        assert tick.startswith(b"1\0") and read_req_id(tick, VERSION) == 42
        (session,) = gateway.sessions
        assert isinstance(session, ReplaySession)
        assert session.replayed == 2  # the burst frame and the first tick; the second waits
        assert session.pending_timers() == 1
        writer.write(frame(request(VERSION, lambda c: c.cancelMktData(42))))
        await writer.drain()
        for _ in range(200):  # let the session read the cancel
            if not session.pending_timers():
                break
            await asyncio.sleep(0.01)
        assert session.pending_timers() == 0
        assert session.replayed == 2
        writer.close()
    finally:
        await gateway.aclose()


def test_recorded_offsets_wait_and_a_cancel_stops_them(tmp_path: Path) -> None:
    path = tmp_path / "one.tap"
    write_recording(path)
    asyncio.run(session_run(path))
