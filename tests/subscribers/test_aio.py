"""AsyncSubscriber (zmq.asyncio) against the scripted control server: the same essentials as
the sync flavour (requests, ticks, renewals, asking again after a restart, release, states)."""

import asyncio
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest
import zmq

from subscribers.aio import AsyncSubscriber
from subscribers.control import ControlError, ControlTimeoutError
from subscribers.events import Event, Gap, PublisherRestart, Requested
from subscribers.wire import Message, Tick
from tests.subscribers.control_server import Bus, ControlServer, SnapshotServer, servers
from tests.support.waiting import DEADLINE

Servers = tuple[zmq.Context[Any], ControlServer, Bus]
T = TypeVar("T")


@pytest.fixture
def env() -> Iterator[Servers]:
    with servers() as running:
        yield running


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run one test coroutine (pytest-asyncio is not a dependency), bounded by the deadline."""
    return asyncio.run(asyncio.wait_for(coroutine, DEADLINE))


def subscriber(env: Servers, **kwargs: Any) -> AsyncSubscriber:
    _, control, bus = env
    kwargs.setdefault("client", "async-tester")
    return AsyncSubscriber(bus.endpoint, control_endpoint=control.endpoint, **kwargs)


async def until(
    sub: AsyncSubscriber, send: Callable[[], object], want: Callable[[Message], bool]
) -> Message:
    """Send (again and again, for the slow joiner) until a wanted message arrives."""
    while True:
        send()
        msg = await sub.recv(0.05)
        while msg is not None:
            if want(msg):
                return msg
            msg = await sub.recv(0)


async def until_true(sub: AsyncSubscriber, condition: Callable[[], object]) -> None:
    """Keep reading (so timers run) until ``condition()`` holds."""
    while not condition():
        await sub.recv(0.05)


def test_requests_on_entry_stream_and_are_released_on_exit(env: Servers) -> None:
    """``async with`` asks for the requests, ``async for`` yields their ticks, exit releases."""
    _, control, bus = env

    async def main() -> str:
        async with subscriber(env, requests=["NVDA"]) as sub:
            assert set(sub.held) == {"NVDA"}
            bus.tick("NVDA")
            async for msg in sub:
                if isinstance(msg, Tick):
                    return msg.topic
                bus.tick("NVDA")
        raise AssertionError("unreachable")

    async def send_meanwhile() -> str:
        task = asyncio.ensure_future(main())
        while not task.done():
            bus.tick("NVDA")
            await asyncio.sleep(0.02)
        return task.result()

    assert run(send_meanwhile()) == "tick.NVDA"
    (request,) = control.ops("subscribe")
    assert request["instrument"]["symbol"] == "NVDA"
    (release,) = control.ops("unsubscribe")
    assert (release["client"], release["keys"]) == ("async-tester", ["NVDA"])


def test_refusals_and_candidates(env: Servers) -> None:
    """An awaited request raises ControlError with the code and, when ambiguous, candidates."""
    _, control, _ = env
    control.refuse["BAD"] = ("unknown_contract", "no security definition")

    async def main() -> None:
        async with subscriber(env) as sub:
            with pytest.raises(ControlError) as refused:
                await sub.request("BAD")
            assert refused.value.error == "unknown_contract"
            with pytest.raises(ControlError) as ambiguous:
                await sub.request({"sec_type": "FUT", "symbol": "ES", "exchange": "CME"})
            assert len(ambiguous.value.candidates) == 2
            assert not sub.held

    run(main())


def test_no_reply_is_a_timeout(env: Servers) -> None:
    """A control socket that never answers gives ControlTimeoutError."""
    _, control, _ = env
    control.script = lambda request: ControlServer.SILENT

    async def main() -> None:
        async with subscriber(env, control_timeout=0.3) as sub:
            with pytest.raises(ControlTimeoutError):
                await sub.request("AAPL")

    run(main())


def test_leases_are_renewed_while_reading(env: Servers) -> None:
    """A short lease is renewed from recv, about every third of it."""
    _, control, _ = env

    async def main() -> None:
        async with subscriber(env) as sub:
            await sub.request("AAPL", lease=0.6)
            granted = time.monotonic()
            await until_true(sub, lambda: len(control.ops("renew")) >= 3)
            assert control.times("renew")[0] - granted >= 0.6 / 3 - 0.01
            assert control.ops("renew")[0]["keys"] == ["AAPL"]

    run(main())


def test_a_new_sid_asks_again(env: Servers) -> None:
    """After a publisher restart the async subscriber subscribes again by itself."""
    _, control, bus = env
    events: list[Event] = []

    async def main() -> None:
        async with subscriber(env, requests=["AAPL"], on_event=events.append) as sub:
            await until(sub, lambda: bus.tick("AAPL"), lambda m: isinstance(m, Tick))
            control.forget()
            bus.restart(sid=999)
            await until(sub, lambda: bus.tick("AAPL"), lambda m: m.sid == 999)
            await until_true(sub, lambda: any(isinstance(e, Requested) and e.again for e in events))
            assert "AAPL" in control.holds and set(sub.held) == {"AAPL"}

    run(main())


def test_states_from_the_snapshot(env: Servers) -> None:
    """sub.states holds the snapshot's states (a failed instrument) once it is applied."""
    context, _, bus = env
    state = {
        "v": 1, "type": "status", "pub": "ibpub", "sid": bus.sid, "seq": 2, "ts": time.time_ns(),
        "scope": "instrument", "state": "failed", "key": "BAD", "code": 200, "message": "no",
    }  # fmt: skip
    snap = SnapshotServer(context, bus.sid, [state])

    async def main() -> None:
        async with subscriber(
            env, snapshot=True, snapshot_endpoint=snap.endpoint, exact_keys=["AAPL"]
        ) as sub:
            await until_true(sub, lambda: bus.heartbeat() and sub.stats.snapshots)
            assert sub.states["instrument", "BAD"].code == 200

    try:
        run(main())
    finally:
        snap.close()


def test_gaps_and_restarts_are_reported_as_events(env: Servers) -> None:
    """The async flavour reports a skipped seq as a Gap and a new sid as a PublisherRestart."""
    _, _, bus = env
    events: list[Event] = []

    async def main() -> None:
        async with subscriber(env, exact_keys=["AAPL"], on_event=events.append) as sub:
            await until(sub, lambda: bus.tick("AAPL"), lambda m: isinstance(m, Tick))
            bus.seqs["tick.AAPL"] += 3  # three ticks never sent: lost
            await until(sub, lambda: bus.tick("AAPL"), lambda m: True)
            bus.restart(sid=4343)
            await until(sub, lambda: bus.tick("AAPL"), lambda m: m.sid == 4343)

    run(main())
    gaps = [e for e in events if isinstance(e, Gap)]
    assert gaps and (gaps[0].topic, gaps[0].missing) == ("tick.AAPL", 3)
    assert any(isinstance(e, PublisherRestart) and e.sid == 4343 for e in events)
