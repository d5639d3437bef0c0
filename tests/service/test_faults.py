"""Each gateway fault on real sockets: the publisher reports it, recovers, and subscribers see
ticks resume under the same sid with seq continuing."""

from typing import Any

from publisher.core.instruments import FAILED
from publisher.sim import AsyncGateway
from tests.support.config import FAST_FAULTS, THREE_KEYS
from tests.support.listener import Listener, assert_seq_continues, status_seen, ticks_after
from tests.support.stack import Publisher, Stack
from tests.support.waiting import wait_for

KEYS = THREE_KEYS


def start(s: Stack, **gateway: Any) -> tuple[Publisher, Listener]:
    """Publisher (fast fault detection; ``gateway`` overrides [gateway] keys) and a listener
    that heard its heartbeat; the gateway is left to the test."""
    publisher = s.start_publisher(gateway={**FAST_FAULTS, **gateway})
    return publisher, s.listen()


def streaming(s: Stack, **gateway: Any) -> tuple[Publisher, Listener]:
    """Publisher, listener, gateway; returns once every instrument ticks."""
    publisher, listener = start(s, **gateway)
    s.start_gateway(seed=3)
    listener.until(ticks_after(0, KEYS), "ticks from every instrument")
    return publisher, listener


def wait_value(publisher: Publisher, name: str, at_least: float, **labels: str) -> None:
    metrics = publisher.metrics
    wait_for(lambda: metrics.count(name, **labels) >= at_least, f"{name}{labels} >= {at_least}")


def data_reqs(publisher: Publisher) -> dict[str, int]:
    return {i.key: i.data_req for i in publisher.service.instruments}


def test_dropped_connections_reconnect_and_resubscribe_under_the_same_sid(stack: Stack) -> None:
    """A gateway that resets every connection is reconnected; every instrument ticks again."""
    publisher, listener = streaming(stack)
    before = len(listener.messages)
    stack.faults(lambda f: f.drop_all())
    dropped = listener.until(status_seen("gateway", "disconnected", before), "disconnected")
    back = listener.until(status_seen("gateway", "connected", dropped), "connected again")
    listener.until(ticks_after(back, KEYS), "ticks after the reconnect")
    assert publisher.metrics.value("ibpub_gateway_reconnects_total") == 1
    assert publisher.metrics.value("ibpub_gateway_connected") == 1
    assert_seq_continues(listener.messages)


def test_1101_resubscribes_every_instrument_on_the_same_session(stack: Stack) -> None:
    """1100 degrades the gateway; 1101 re-subscribes everything without reconnecting."""
    publisher, listener = streaming(stack)
    before = data_reqs(publisher)
    stack.faults(lambda f: f.send_error(1100, "Connectivity between IB and TWS has been lost."))
    listener.until(status_seen("gateway", "degraded", code=1100), "degraded")
    stack.faults(lambda f: f.send_error(1101, "Connectivity restored - data lost."))
    back = listener.until(status_seen("gateway", "connected", code=1101), "restored")
    listener.until(ticks_after(back, KEYS), "ticks after the re-subscription")
    after = data_reqs(publisher)
    assert all(after[k] != before[k] for k in KEYS), "every instrument got a new request"
    wait_for(
        lambda: stack.core(lambda core: sum(s.stream_count for s in core.sessions)) == 3,
        "old streams cancelled, new ones open",
    )
    assert publisher.metrics.value("ibpub_gateway_reconnects_total") == 0
    assert publisher.metrics.count("ibpub_gateway_errors_total", code="1101") == 1
    assert_seq_continues(listener.messages)


def test_1102_restores_without_resubscribing(stack: Stack) -> None:
    """1102 (data maintained) returns to connected and keeps the existing requests."""
    publisher, listener = streaming(stack)
    before = data_reqs(publisher)
    stack.faults(lambda f: f.send_error(1100))
    listener.until(status_seen("gateway", "degraded", code=1100), "degraded")
    stack.faults(lambda f: f.send_error(1102))
    listener.until(status_seen("gateway", "connected", code=1102), "restored")
    after = data_reqs(publisher)
    assert after == before


def test_silent_instrument_goes_stale_and_is_re_requested(stack: Stack) -> None:
    """An instrument without ticks while others tick becomes stale and is re-requested."""
    publisher, listener = streaming(stack, stale_after=1.0, max_stale_retries=5)
    aapl = next(i for i in publisher.service.instruments if i.key == "AAPL")
    first_req = aapl.data_req
    stack.faults(lambda f: f.mute("AAPL"))
    listener.until(status_seen("instrument", "stale", key="AAPL"), "AAPL stale")
    wait_for(lambda: aapl.data_req != first_req, "AAPL re-requested")
    stack.faults(lambda f: f.unmute("AAPL"))
    mark = len(listener.messages)
    listener.until(ticks_after(mark, ("AAPL",)), "AAPL ticking again")
    listener.until(
        lambda ms: any(
            m["type"] == "status" and m["key"] == "AAPL" and m["state"] == "subscribed"
            for m in ms[mark:]
        ),
        "AAPL subscribed again",
    )
    assert_seq_continues(listener.messages)


def test_stale_retries_are_bounded_and_said_so(stack: Stack) -> None:
    """After max_stale_retries re-requests the instrument stays stale, with a message."""
    publisher, listener = streaming(stack, stale_after=0.5, max_stale_retries=1)
    stack.faults(lambda f: f.mute("MSFT"))
    listener.until(
        lambda ms: any("left stale" in m.get("message", "") for m in ms if m["type"] == "status"),
        "MSFT left stale",
    )
    msft = next(i for i in publisher.service.instruments if i.key == "MSFT")
    assert msft.state == "stale"


def test_silent_gateway_is_detected_by_the_probe_and_reconnected(stack: Stack) -> None:
    """A gateway that stops answering without closing is dropped after probe_timeout."""
    publisher, listener = streaming(stack, probe_timeout=1.0)
    before = len(listener.messages)
    reconnects = publisher.metrics.value("ibpub_gateway_reconnects_total")
    stack.faults(lambda f: f.go_silent())
    dropped = listener.until(status_seen("gateway", "disconnected", before), "disconnected")
    assert "reqCurrentTime" in listener.messages[dropped - 1]["message"]
    back = listener.until(status_seen("gateway", "connected", dropped), "connected again")
    listener.until(ticks_after(back, KEYS), "ticks on a fresh connection")
    assert publisher.metrics.value("ibpub_gateway_reconnects_total") == reconnects + 1
    assert_seq_continues(listener.messages)


def test_refused_connections_are_retried_until_the_gateway_listens_again(stack: Stack) -> None:
    """A gateway restarting (connections refused) is retried with backoff until it is back."""
    publisher, listener = streaming(stack)
    before = len(listener.messages)
    stack.faults(lambda f: f.refuse_for(1.5))
    dropped = listener.until(status_seen("gateway", "disconnected", before), "the drop")
    refused = listener.until(status_seen("gateway", "disconnected", dropped), "a refusal")
    back = listener.until(status_seen("gateway", "connected", refused), "connected again")
    listener.until(ticks_after(back, KEYS), "ticks after the restart")
    assert publisher.metrics.value("ibpub_gateway_reconnects_total") >= 1
    assert_seq_continues(listener.messages)


def test_garbage_frames_are_counted_and_the_feed_continues(stack: Stack) -> None:
    """Undecodable but well-framed messages are counted; the connection and ticks survive."""
    publisher, listener = streaming(stack)
    stack.faults(lambda f: f.send_garbage())
    wait_value(publisher, "ibpub_decode_errors_total", 2)
    mark = len(listener.messages)
    listener.until(ticks_after(mark, KEYS), "ticks after the garbage")
    assert publisher.metrics.value("ibpub_gateway_reconnects_total") == 0


def test_oversized_length_resets_the_connection(stack: Stack) -> None:
    """An impossible length prefix is counted and the connection is re-established."""
    publisher, listener = streaming(stack)
    before = len(listener.messages)
    stack.faults(lambda f: f.send_oversized())
    wait_value(publisher, "ibpub_decode_errors_total", 1)
    dropped = listener.until(status_seen("gateway", "disconnected", before), "disconnected")
    back = listener.until(status_seen("gateway", "connected", dropped), "connected again")
    listener.until(ticks_after(back, KEYS), "ticks after the reset")
    assert publisher.metrics.value("ibpub_gateway_reconnects_total") == 1
    assert_seq_continues(listener.messages)


def test_truncated_frame_then_close_reconnects(stack: Stack) -> None:
    """A connection closed in the middle of a frame is re-established."""
    _, listener = streaming(stack)
    before = len(listener.messages)
    stack.faults(lambda f: f.send_truncated())
    dropped = listener.until(status_seen("gateway", "disconnected", before), "disconnected")
    back = listener.until(status_seen("gateway", "connected", dropped), "connected again")
    listener.until(ticks_after(back, KEYS), "ticks after the reconnect")
    assert_seq_continues(listener.messages)


def test_client_id_in_use_falls_back_to_the_next_id(stack: Stack) -> None:
    """326 makes the publisher reconnect with the next configured client id."""
    _, listener = start(stack, fallback_client_ids=(12,))
    stack.start_gateway(seed=3, prepare=lambda core: core.faults.reserve_client_id(11))
    listener.until(status_seen("gateway", "disconnected", code=326), "326 reported")
    listener.until(ticks_after(0, KEYS), "ticks with the fallback id")
    assert stack.core(lambda core: core.client_ids) == frozenset({12})


def test_every_client_id_in_use_stops_the_publisher_with_exit_1(stack: Stack) -> None:
    """When every configured client id is refused the publisher says so and exits 1."""
    publisher, listener = start(stack, fallback_client_ids=(12,))

    def reserve_both(core: AsyncGateway) -> None:
        core.faults.reserve_client_id(11)
        core.faults.reserve_client_id(12)

    stack.start_gateway(seed=3, prepare=reserve_both)
    assert publisher.join() == 1
    listener.until(
        lambda ms: any("every configured client id" in m.get("message", "") for m in ms),
        "the give-up status",
    )
    listener.until(status_seen("publisher", "stopping"), "stopping")


def test_no_live_permission_falls_back_to_delayed_data(stack: Stack) -> None:
    """354 for one instrument re-requests it as delayed data, said in status and mdt."""
    _, listener = start(stack, allow_delayed_fallback=True)
    stack.start_gateway(seed=3, prepare=lambda core: core.faults.reject_market_data("AAPL", 354))
    listener.until(status_seen("instrument", "delayed", key="AAPL", code=354), "AAPL delayed")
    listener.until(lambda _: any(t["mdt"] == 3 for t in listener.ticks("AAPL")), "mdt 3")
    listener.until(ticks_after(0, KEYS), "every instrument ticking")
    assert {t["mdt"] for t in listener.ticks("MSFT")} == {1}


def test_no_live_permission_without_fallback_fails_the_instrument(stack: Stack) -> None:
    """Without allow_delayed_fallback, 10089 marks the instrument failed; the others stream."""
    _, listener = start(stack)
    stack.start_gateway(seed=3, prepare=lambda core: core.faults.reject_market_data("AAPL", 10089))
    listener.until(status_seen("instrument", "failed", key="AAPL", code=10089), "AAPL failed")
    listener.until(ticks_after(0, ("MSFT", "EUR.USD")), "the others ticking")


def test_max_market_data_lines_fails_the_instruments_that_did_not_fit(stack: Stack) -> None:
    """101 marks the instrument failed with that reason; the others keep streaming."""
    publisher, listener = start(stack)
    stack.start_gateway(
        prepare=lambda core: core.faults.reject_market_data(
            "EUR", 101, "Max number of tickers reached"
        )
    )
    listener.until(status_seen("instrument", "failed", key="EUR.USD", code=101), "EUR failed")
    listener.until(ticks_after(0, ("AAPL", "MSFT")), "the others ticking")
    eur = next(i for i in publisher.service.instruments if i.key == "EUR.USD")
    assert eur.state == FAILED


def test_unknown_codes_are_counted_and_never_crash(stack: Stack) -> None:
    """An unknown code is counted by code and the feed carries on."""
    publisher, listener = streaming(stack)
    stack.faults(lambda f: f.send_error(424242, "something new"))
    wait_value(publisher, "ibpub_gateway_errors_total", 1, code="424242")
    mark = len(listener.messages)
    listener.until(ticks_after(mark, KEYS), "ticks after the unknown code")


def test_three_hundred_instruments_subscribe_without_a_pacing_violation(stack: Stack) -> None:
    """300 instruments are requested within IB's 50 msg/s: the gateway never sends error 100."""
    from publisher.sim.catalogue import Catalogue, Instrument
    from publisher.sim.protocol import ContractSpec

    extra = [
        Instrument(
            ContractSpec(
                con_id=900_000 + n,
                symbol=f"SYM{n}",
                sec_type="STK",
                exchange="SMART",
                currency="USD",
                local_symbol=f"SYM{n}",
                primary_exchange="NASDAQ",
                valid_exchanges="SMART,NASDAQ",
            ),
            price=10.0 + n,
        )
        for n in range(300)
    ]
    instruments = tuple(
        {"sec_type": "STK", "symbol": f"SYM{n}", "con_id": 900_000 + n} for n in range(300)
    )
    publisher = stack.start_publisher(instruments=instruments, gateway=FAST_FAULTS)
    listener = stack.listen()
    stack.start_gateway(
        rate=600.0,
        seed=3,
        catalogue=Catalogue.builtin().merged(extra),
        prepare=lambda core: setattr(core.faults, "pacing_limit", 50),
    )
    keys = tuple(f"SYM{n}" for n in range(300))
    listener.until(ticks_after(0, keys), "ticks from all 300 instruments", timeout=60)
    assert publisher.metrics.count("ibpub_gateway_errors_total", code="100") == 0
    assert publisher.metrics.value("ibpub_gateway_reconnects_total") == 0
    states = [s["state"] for s in listener.statuses("gateway")]
    assert "disconnected" not in states[states.index("connected") :]


def test_instruments_are_not_left_silently_dead_after_a_reconnect(stack: Stack) -> None:
    """After a reconnect every instrument reports a state again (none stays pending)."""
    publisher, listener = streaming(stack)
    before = len(listener.messages)
    stack.faults(lambda f: f.drop_all())
    dropped = listener.until(status_seen("gateway", "disconnected", before), "disconnected")
    back = listener.until(status_seen("gateway", "connected", dropped), "connected again")
    listener.until(ticks_after(back, KEYS), "ticks after the reconnect")
    states = publisher.service.instrument_states
    wait_for(lambda: set(states().values()) == {"subscribed"}, "every instrument subscribed")
