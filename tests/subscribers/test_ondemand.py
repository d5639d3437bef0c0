"""On-demand instruments in the Subscriber, against a scripted control server on real sockets:
requests and their topics, lease renewal, release on close, asking again after a restart,
and ``sub.states`` from a snapshot's ``states`` and from live statuses."""

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import zmq

from subscribers.client import Subscriber
from subscribers.control import ControlError, ControlTimeoutError
from subscribers.events import Event, Gap, Requested, RequestFailed
from subscribers.wire import Message, Tick
from tests.subscribers.control_server import Bus, ControlServer, SnapshotServer, servers
from tests.support.waiting import wait_for

Servers = tuple[zmq.Context[Any], ControlServer, Bus]


@pytest.fixture
def env() -> Iterator[Servers]:
    with servers() as running:
        yield running


def subscriber(env: Servers, **kwargs: Any) -> Subscriber:
    context, control, bus = env
    kwargs.setdefault("client", "tester")
    return Subscriber(bus.endpoint, control_endpoint=control.endpoint, context=context, **kwargs)


def receive(
    sub: Subscriber, bus: Bus, send: Callable[[], object], want: Callable[[Message], bool]
) -> Message:
    """Send (again and again, as a slow joiner needs) until a wanted message arrives."""
    found: list[Message] = []

    def arrived() -> bool:
        send()
        msg = sub.recv(0.05)
        while msg is not None:
            if want(msg):
                found.append(msg)
                return True
            msg = sub.recv(0)
        return False

    wait_for(arrived, "the message")
    return found[0]


def test_requests_are_asked_for_and_their_ticks_delivered(env: Servers) -> None:
    """``requests=["NVDA"]`` asks for a US stock and delivers tick.NVDA, exactly (not NVDAX)."""
    _, control, bus = env
    with subscriber(env, requests=["NVDA"]) as sub:
        (request,) = control.ops("subscribe")
        assert request["instrument"] == {
            "sec_type": "STK", "symbol": "NVDA", "exchange": "SMART", "currency": "USD",
        }  # fmt: skip
        assert (request["client"], request["data"]) == ("tester", ["l1"])
        assert set(sub.held) == {"NVDA"}

        def both() -> None:
            bus.tick("NVDAX")
            bus.tick("NVDA")

        msg = receive(sub, bus, both, lambda m: isinstance(m, Tick))
        assert msg.topic == "tick.NVDA"
        assert sub.stats.filtered >= 1


def test_request_returns_the_reply_and_keeps_other_prefixes(env: Servers) -> None:
    """``sub.request(mapping)`` returns the typed reply; a ``tick.`` prefix still gets every
    tick (the requested topic does not turn on exact filtering)."""
    _, _, bus = env
    with subscriber(env, prefixes=["tick."]) as sub:
        spec = {"sec_type": "FUT", "symbol": "ES", "exchange": "CME", "last_trade_date": "202703"}
        reply = sub.request(spec, lease=5)
        assert (reply.key, reply.topics, reply.state) == ("ES", ["tick.ES"], "pending")
        msg = receive(sub, bus, lambda: bus.tick("OTHER"), lambda m: isinstance(m, Tick))
        assert msg.topic == "tick.OTHER"


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("bad_request", "data kind depth is not supported yet"),
        ("unknown_contract", "no security definition"),
        ("budget_exceeded", "100 of 100 lines in use"),
        ("limit_exceeded", "5 of 5 tick-by-tick in use"),
        ("key_conflict", "key NVDA names conid 1, not 2"),
        ("unauthorised", "not an authorised key"),
        ("rate_limited", "20 requests per second"),
    ],
)
def test_every_refusal_raises_control_error_with_its_code(
    env: Servers, code: str, message: str
) -> None:
    """A refusal raises ControlError carrying the contract's code and message; nothing is held."""
    _, control, _ = env
    control.refuse["BAD"] = (code, message)
    with subscriber(env) as sub:
        with pytest.raises(ControlError) as caught:
            sub.request("BAD")
        assert (caught.value.error, caught.value.message, caught.value.refused) == (
            code,
            message,
            True,
        )
        assert not sub.held


def test_ambiguous_contract_carries_the_candidates(env: Servers) -> None:
    """An ambiguous future is refused with candidates; asking again by con_id is granted."""
    with subscriber(env) as sub:
        with pytest.raises(ControlError) as caught:
            sub.request({"sec_type": "FUT", "symbol": "ES", "exchange": "CME"})
        assert caught.value.error == "ambiguous_contract"
        assert [c.local_symbol for c in caught.value.candidates] == ["ESH7", "ESM7"]
        conid = caught.value.candidates[1].conid
        reply = sub.request({"sec_type": "FUT", "symbol": "ES", "exchange": "CME", "con_id": conid})
        assert reply.conid == conid


def test_a_refused_constructor_request_raises_and_releases_the_rest(env: Servers) -> None:
    """The constructor raises for a refused request, and releases what it was granted first."""
    _, control, _ = env
    control.refuse["BAD"] = ("unknown_contract", "no such stock")
    with pytest.raises(ControlError):
        subscriber(env, requests=["AAPL", "BAD"])
    (release,) = control.wait_op("unsubscribe")
    assert release["keys"] == ["AAPL"]


def test_no_reply_is_a_timeout(env: Servers) -> None:
    """A control socket that never answers gives ControlTimeoutError after control_timeout."""
    _, control, _ = env
    control.script = lambda request: ControlServer.SILENT
    with subscriber(env, control_timeout=0.3) as sub:
        with pytest.raises(ControlTimeoutError) as caught:
            sub.request("AAPL")
        assert (caught.value.error, caught.value.refused) == ("timeout", False)


def test_leases_are_renewed_from_recv(env: Servers) -> None:
    """With a 0.6 s lease, recv renews about every 0.2 s: several renewals of the key arrive,
    each asking for it by this client, and none before a third of the lease has passed."""
    _, control, _ = env
    with subscriber(env) as sub:
        sub.request("AAPL", lease=0.6)
        granted = time.monotonic()
        wait_for(lambda: sub.recv(0.05) is None and len(control.ops("renew")) >= 3, "3 renewals")
        renewals = control.ops("renew")
        assert all(
            r == {"v": 1, "op": "renew", "client": "tester", "keys": ["AAPL"]} for r in renewals
        )
        assert control.times("renew")[0] - granted >= 0.6 / 3 - 0.01


def test_leases_are_renewed_while_messages_keep_coming(env: Servers) -> None:
    """A subscriber whose queue never empties still renews: a renewal due when recv takes a
    waiting message (returning it at once, never polling) is sent from there."""
    _, control, bus = env
    offset = [0.0]
    with subscriber(env, clock=lambda: time.monotonic() + offset[0], requests=["AAPL"]) as sub:
        receive(sub, bus, lambda: bus.tick("AAPL"), lambda m: isinstance(m, Tick))
        for _ in range(200):
            bus.tick("AAPL")
        wait_for(lambda: sub.socket.poll(0), "messages waiting")
        offset[0] = 3600.0  # every lease long due
        assert sub.recv(0) is not None
        assert control.wait_op("renew")[0]["keys"] == ["AAPL"]


def test_close_releases_what_is_held(env: Servers) -> None:
    """close() unsubscribes every held key in one request."""
    _, control, _ = env
    sub = subscriber(env, requests=["AAPL", "MSFT"])
    sub.close()
    (release,) = control.ops("unsubscribe")
    assert (release["client"], sorted(release["keys"])) == ("tester", ["AAPL", "MSFT"])
    assert not control.holds


def test_release_lets_go_of_one_key(env: Servers) -> None:
    """release(key) unsubscribes that key only; its ticks stop being delivered."""
    _, control, bus = env
    with subscriber(env, requests=["AAPL", "MSFT"]) as sub:
        receive(sub, bus, lambda: bus.tick("AAPL"), lambda m: m.topic == "tick.AAPL")
        sub.release("AAPL")
        assert control.ops("unsubscribe")[0]["keys"] == ["AAPL"]
        assert set(sub.held) == {"MSFT"}
        seen: list[str] = []

        def both() -> None:
            bus.tick("AAPL")
            bus.tick("MSFT")

        for _ in range(3):
            seen.append(receive(sub, bus, both, lambda m: isinstance(m, Tick)).topic)
        assert seen == ["tick.MSFT"] * 3


def test_a_new_sid_asks_again_for_every_held_instrument(env: Servers) -> None:
    """After a publisher restart (a new sid on the bus) the subscriber subscribes again by
    itself, reports it, and the new session's ticks arrive."""
    _, control, bus = env
    events: list[Event] = []
    with subscriber(env, requests=["AAPL"], on_event=events.append) as sub:
        receive(sub, bus, lambda: bus.tick("AAPL"), lambda m: isinstance(m, Tick))
        control.forget()
        bus.restart(sid=777)
        msg = receive(sub, bus, lambda: bus.tick("AAPL"), lambda m: m.sid == 777)
        assert msg.topic == "tick.AAPL"
        wait_for(
            lambda: sub.recv(0.05) is None and len(control.ops("subscribe")) >= 2, "a re-request"
        )
        wait_for(
            lambda: (
                sub.recv(0.05) is None
                and [e for e in events if isinstance(e, Requested) and e.again]
            ),
            "the grant of the re-request",
        )
        again = [e for e in events if isinstance(e, Requested) and e.again]
        assert again[0].key == "AAPL" and "AAPL" in control.holds


def test_a_refused_renewal_asks_again(env: Servers) -> None:
    """A renewal the publisher refuses (it lost the hold) makes the subscriber subscribe again."""
    _, control, _ = env
    with subscriber(env) as sub:
        sub.request("AAPL", lease=0.6)
        control.forget()
        wait_for(
            lambda: sub.recv(0.05) is None and len(control.ops("subscribe")) >= 2, "a re-request"
        )
        wait_for(lambda: sub.recv(0.05) is None and "AAPL" in control.holds, "the hold again")


def test_a_transient_refusal_of_a_re_request_is_retried(env: Servers) -> None:
    """A re-request refused with budget_exceeded is reported and retried until granted."""
    _, control, bus = env
    events: list[Event] = []
    with subscriber(env, requests=["AAPL"], on_event=events.append) as sub:
        receive(sub, bus, lambda: bus.tick("AAPL"), lambda m: isinstance(m, Tick))
        control.forget()
        control.refuse["AAPL"] = ("budget_exceeded", "full")
        bus.restart(sid=778)
        wait_for(
            lambda: sub.recv(0.05) is None and any(isinstance(e, RequestFailed) for e in events),
            "a failure",
        )
        failed = next(e for e in events if isinstance(e, RequestFailed))
        assert (failed.error, failed.retrying) == ("budget_exceeded", True)
        del control.refuse["AAPL"]
        wait_for(lambda: sub.recv(0.05) is None and "AAPL" in control.holds, "the retry granted")


def test_a_requested_topic_joining_mid_session_is_not_a_gap(env: Servers) -> None:
    """After a snapshot (every topic of the session accounted for from seq 1), an instrument
    already streaming when requested starts at its current seq: no gap, by seq or heartbeat."""
    context, _, bus = env
    events: list[Event] = []
    for _ in range(50):
        bus.tick("AAPL")
    snap = SnapshotServer(context, bus.sid, [], bus)
    try:
        with subscriber(
            env, snapshot=True, snapshot_endpoint=snap.endpoint, exact_keys=["MSFT"],
            on_event=events.append,
        ) as sub:  # fmt: skip
            wait_for(
                lambda: bus.heartbeat() and sub.recv(0.05) is None and sub.stats.snapshots,
                "a snapshot",
            )
            sub.request("AAPL")

            def tick_and_beat() -> None:
                bus.heartbeat()
                bus.tick("AAPL")

            msg = receive(sub, bus, tick_and_beat, lambda m: isinstance(m, Tick))
            assert msg.seq >= 50  # the snapshot's latest tick (seq 50), or a live one after it
            assert not [e for e in events if isinstance(e, Gap)]
    finally:
        snap.close()


# -- sub.states ----------------------------------------------------------------------------------


def status_payload(
    sid: int, seq: int, key: str | None, state: str, code: int | None = None
) -> dict[str, Any]:
    scope = "gateway" if key is None else "instrument"
    return {
        "v": 1, "type": "status", "pub": "ibpub", "sid": sid, "seq": seq, "ts": time.time_ns(),
        "scope": scope, "state": state, "key": key, "code": code, "message": f"{state} ({code})",
    }  # fmt: skip


def test_states_come_from_the_snapshot_and_then_live_statuses(env: Servers) -> None:
    """A late joiner learns a failed instrument from the snapshot's ``states``; a live status
    with a higher seq then replaces the state it names, and an older one does not."""
    context, _, bus = env
    states = [
        status_payload(bus.sid, 3, "BAD", "failed", 200),
        status_payload(bus.sid, 4, None, "connected"),
    ]
    snap = SnapshotServer(context, bus.sid, states)
    bus.seqs["status.ibpub"] = 4
    try:
        with subscriber(
            env, snapshot=True, snapshot_endpoint=snap.endpoint, exact_keys=["AAPL"]
        ) as sub:
            wait_for(
                lambda: bus.heartbeat() and sub.recv(0.05) is None and sub.stats.snapshots,
                "a snapshot",
            )
            failed = sub.states["instrument", "BAD"]
            assert (failed.state, failed.code) == ("failed", 200)
            assert sub.states["gateway", None].state == "connected"
            with pytest.raises(TypeError):
                sub.states["gateway", None] = failed  # type: ignore[index]  # read-only
            bus.status("AAPL", "delayed", 10167, "delayed data")
            wait_for(
                lambda: sub.recv(0.05) is None and ("instrument", "AAPL") in sub.states,
                "the live state",
            )
            assert sub.states["instrument", "AAPL"].code == 10167
    finally:
        snap.close()


def test_a_snapshot_without_states_is_fine(env: Servers) -> None:
    """An older publisher's reply has no ``states``: sub.states fills from live statuses only."""
    context, _, bus = env
    snap = SnapshotServer(context, bus.sid, None)
    try:
        with subscriber(
            env, snapshot=True, snapshot_endpoint=snap.endpoint, exact_keys=["AAPL"]
        ) as sub:
            wait_for(
                lambda: bus.heartbeat() and sub.recv(0.05) is None and sub.stats.snapshots,
                "a snapshot",
            )
            assert dict(sub.states) == {}
            bus.status(None, "connected")
            wait_for(lambda: sub.recv(0.05) is None and sub.states, "a live state")
    finally:
        snap.close()


def test_the_first_ticks_after_a_request_are_never_silently_missed(env: Servers) -> None:
    """The publisher starts streaming an instrument as it grants it, before its reply leaves:
    the subscriber must not lose those first ticks without a word (it once first saw seq 13,
    no gap). It subscribes to the likely topic before asking and checks the first seq against
    a snapshot, so the ticks arrive live or are covered by the snapshot; none is unaccounted."""
    context, control, bus = env
    snap = SnapshotServer(context, bus.sid, [], bus)

    def stream_then_grant(request: dict[str, Any]) -> None:
        if request.get("op") == "subscribe":
            for _ in range(12):
                bus.tick("NVDA")
        return None  # the default answer follows

    events: list[Event] = []
    try:
        with subscriber(
            env, snapshot=True, snapshot_endpoint=snap.endpoint, exact_keys=["MSFT"],
            on_event=events.append,
        ) as sub:  # fmt: skip
            wait_for(
                lambda: bus.heartbeat() and sub.recv(0.05) is None and sub.stats.snapshots,
                "a snapshot",
            )
            control.script = stream_then_grant
            sub.request("NVDA")
            got: list[Message] = []

            def more() -> bool:
                bus.heartbeat()
                bus.tick("NVDA")
                while (msg := sub.recv(0.02)) is not None:
                    if msg.topic == "tick.NVDA":
                        got.append(msg)
                return len(got) >= 5

            wait_for(more, "NVDA ticks")
            stats = sub.stats
    finally:
        snap.close()
    seqs = [m.seq for m in got]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs
    # Either every tick arrived live from seq 1, or the first one delivered is the snapshot's
    # (the latest tick up to the snapshot's seq, which covers the ones before it).
    assert seqs[0] == 1 or stats.snapshot_ticks >= 1, (seqs, stats)
    assert not [e for e in events if isinstance(e, Gap)]
