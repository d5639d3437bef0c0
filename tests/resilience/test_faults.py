"""Each gateway fault on real sockets: the publisher reports it, recovers, and subscribers see
ticks resume under the same sid with seq continuing."""

from collections.abc import Iterator
from typing import Any

import pytest

from publisher.config import InstrumentSpec
from publisher.core.instruments import FAILED
from publisher.sim import AsyncGateway
from tests.helpers import wait_for
from tests.resilience.support import (
    INSTRUMENTS,
    KEYS,
    Stack,
    assert_seq_continues,
    stack,
    status_seen,
    ticks_after,
    wait_value,
)


@pytest.fixture
def running() -> Iterator[Stack]:
    with stack() as s:
        yield s


def streaming(s: Stack, **options: Any) -> None:
    """Publisher, listener, gateway; returns once every instrument ticks."""
    listener = s.start_publisher(**options)
    s.start_gateway()
    listener.until(ticks_after(0), "ticks from every instrument")


def test_dropped_connections_reconnect_and_resubscribe_under_the_same_sid(running: Stack) -> None:
    """A gateway that resets every connection is reconnected; every instrument ticks again."""
    streaming(running)
    listener = running.listener
    assert listener is not None
    before = len(listener.messages)
    running.faults(lambda f: f.drop_all())
    dropped = listener.until(status_seen("gateway", "disconnected", before), "disconnected")
    back = listener.until(status_seen("gateway", "connected", dropped), "connected again")
    listener.until(ticks_after(back), "ticks after the reconnect")
    assert running.value("ibpub_gateway_reconnects_total") == 1
    assert running.value("ibpub_gateway_connected") == 1
    assert_seq_continues(listener.messages)


def test_1101_resubscribes_every_instrument_on_the_same_session(running: Stack) -> None:
    """1100 degrades the gateway; 1101 re-subscribes everything without reconnecting."""
    streaming(running)
    listener = running.listener
    assert listener is not None
    before = {i.key: i.data_req for i in running.service.instruments}  # type: ignore[union-attr]
    running.faults(lambda f: f.send_error(1100, "Connectivity between IB and TWS has been lost."))
    listener.until(status_seen("gateway", "degraded", code=1100), "degraded")
    running.faults(lambda f: f.send_error(1101, "Connectivity restored - data lost."))
    back = listener.until(status_seen("gateway", "connected", code=1101), "restored")
    listener.until(ticks_after(back), "ticks after the re-subscription")
    after = {i.key: i.data_req for i in running.service.instruments}  # type: ignore[union-attr]
    assert all(after[k] != before[k] for k in KEYS), "every instrument got a new request"
    wait_for(
        lambda: running.core(lambda core: sum(s.stream_count for s in core.sessions)) == 3,
        "old streams cancelled, new ones open",
    )
    assert running.value("ibpub_gateway_reconnects_total") == 0
    assert running.value("ibpub_gateway_errors_total", code="1101") == 1
    assert_seq_continues(listener.messages)


def test_1102_restores_without_resubscribing(running: Stack) -> None:
    """1102 (data maintained) returns to connected and keeps the existing requests."""
    streaming(running)
    listener = running.listener
    assert listener is not None
    before = {i.key: i.data_req for i in running.service.instruments}  # type: ignore[union-attr]
    running.faults(lambda f: f.send_error(1100))
    listener.until(status_seen("gateway", "degraded", code=1100), "degraded")
    running.faults(lambda f: f.send_error(1102))
    listener.until(status_seen("gateway", "connected", code=1102), "restored")
    after = {i.key: i.data_req for i in running.service.instruments}  # type: ignore[union-attr]
    assert after == before


def test_silent_instrument_goes_stale_and_is_re_requested(running: Stack) -> None:
    """An instrument without ticks while others tick becomes stale and is re-requested."""
    streaming(running, stale_after=1.0, max_stale_retries=5)
    listener = running.listener
    assert listener is not None and running.service is not None
    aapl = next(i for i in running.service.instruments if i.key == "AAPL")
    first_req = aapl.data_req
    running.faults(lambda f: f.mute("AAPL"))
    listener.until(status_seen("instrument", "stale", key="AAPL"), "AAPL stale")
    wait_for(lambda: aapl.data_req != first_req, "AAPL re-requested")
    running.faults(lambda f: f.unmute("AAPL"))
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


def test_stale_retries_are_bounded_and_said_so(running: Stack) -> None:
    """After max_stale_retries re-requests the instrument stays stale, with a message."""
    streaming(running, stale_after=0.5, max_stale_retries=1)
    listener = running.listener
    assert listener is not None
    running.faults(lambda f: f.mute("MSFT"))
    listener.until(
        lambda ms: any("left stale" in m.get("message", "") for m in ms if m["type"] == "status"),
        "MSFT left stale",
    )
    msft = next(i for i in running.service.instruments if i.key == "MSFT")  # type: ignore[union-attr]
    assert msft.state == "stale"


def test_silent_gateway_is_detected_by_the_probe_and_reconnected(running: Stack) -> None:
    """A gateway that stops answering without closing is dropped after probe_timeout."""
    streaming(running, probe_timeout=1.0)
    listener = running.listener
    assert listener is not None
    before = len(listener.messages)
    running.faults(lambda f: f.go_silent())
    dropped = listener.until(status_seen("gateway", "disconnected", before), "disconnected")
    assert "reqCurrentTime" in listener.messages[dropped - 1]["message"]
    back = listener.until(status_seen("gateway", "connected", dropped), "connected again")
    listener.until(ticks_after(back), "ticks on a fresh connection")
    assert running.value("ibpub_gateway_reconnects_total") == 1
    assert_seq_continues(listener.messages)


def test_refused_connections_are_retried_until_the_gateway_listens_again(running: Stack) -> None:
    """A gateway restarting (connections refused) is retried with backoff until it is back."""
    streaming(running)
    listener = running.listener
    assert listener is not None
    before = len(listener.messages)
    running.faults(lambda f: f.refuse_for(1.5))
    dropped = listener.until(status_seen("gateway", "disconnected", before), "the drop")
    refused = listener.until(status_seen("gateway", "disconnected", dropped), "a refusal")
    back = listener.until(status_seen("gateway", "connected", refused), "connected again")
    listener.until(ticks_after(back), "ticks after the restart")
    assert running.value("ibpub_gateway_reconnects_total") >= 1
    assert_seq_continues(listener.messages)


def test_garbage_frames_are_counted_and_the_feed_continues(running: Stack) -> None:
    """Undecodable but well-framed messages are counted; the connection and ticks survive."""
    streaming(running)
    listener = running.listener
    assert listener is not None
    running.faults(lambda f: f.send_garbage())
    wait_value(running, "ibpub_decode_errors_total", 2)
    mark = len(listener.messages)
    listener.until(ticks_after(mark), "ticks after the garbage")
    assert running.value("ibpub_gateway_reconnects_total") == 0


def test_oversized_length_resets_the_connection(running: Stack) -> None:
    """An impossible length prefix is counted and the connection is re-established."""
    streaming(running)
    listener = running.listener
    assert listener is not None
    before = len(listener.messages)
    running.faults(lambda f: f.send_oversized())
    wait_value(running, "ibpub_decode_errors_total", 1)
    dropped = listener.until(status_seen("gateway", "disconnected", before), "disconnected")
    back = listener.until(status_seen("gateway", "connected", dropped), "connected again")
    listener.until(ticks_after(back), "ticks after the reset")
    assert running.value("ibpub_gateway_reconnects_total") == 1
    assert_seq_continues(listener.messages)


def test_truncated_frame_then_close_reconnects(running: Stack) -> None:
    """A connection closed in the middle of a frame is re-established."""
    streaming(running)
    listener = running.listener
    assert listener is not None
    before = len(listener.messages)
    running.faults(lambda f: f.send_truncated())
    dropped = listener.until(status_seen("gateway", "disconnected", before), "disconnected")
    back = listener.until(status_seen("gateway", "connected", dropped), "connected again")
    listener.until(ticks_after(back), "ticks after the reconnect")
    assert_seq_continues(listener.messages)


def test_client_id_in_use_falls_back_to_the_next_id(running: Stack) -> None:
    """326 makes the publisher reconnect with the next configured client id."""
    listener = running.start_publisher(fallback_client_ids=(12,))
    running.start_gateway(prepare=lambda core: core.faults.reserve_client_id(11))
    listener.until(status_seen("gateway", "disconnected", code=326), "326 reported")
    listener.until(ticks_after(0), "ticks with the fallback id")
    assert running.core(lambda core: core.client_ids) == frozenset({12})


def test_every_client_id_in_use_stops_the_publisher_with_exit_1(running: Stack) -> None:
    """When every configured client id is refused the publisher says so and exits 1."""
    listener = running.start_publisher(fallback_client_ids=(12,))

    def reserve_both(core: AsyncGateway) -> None:
        core.faults.reserve_client_id(11)
        core.faults.reserve_client_id(12)

    running.start_gateway(prepare=reserve_both)
    assert running.thread is not None
    running.thread.join(timeout=30)
    assert running.exit_code == 1
    listener.until(
        lambda ms: any("every configured client id" in m.get("message", "") for m in ms),
        "the give-up status",
    )
    listener.until(status_seen("publisher", "stopping"), "stopping")


def test_no_live_permission_falls_back_to_delayed_data(running: Stack) -> None:
    """354 for one instrument re-requests it as delayed data, said in status and mdt."""
    listener = running.start_publisher(allow_delayed_fallback=True)
    running.start_gateway(prepare=lambda core: core.faults.reject_market_data("AAPL", 354))
    listener.until(status_seen("instrument", "delayed", key="AAPL", code=354), "AAPL delayed")
    listener.until(lambda _: any(t["mdt"] == 3 for t in listener.ticks("AAPL")), "mdt 3")
    listener.until(ticks_after(0), "every instrument ticking")
    assert {t["mdt"] for t in listener.ticks("MSFT")} == {1}


def test_no_live_permission_without_fallback_fails_the_instrument(running: Stack) -> None:
    """Without allow_delayed_fallback, 10089 marks the instrument failed; the others stream."""
    listener = running.start_publisher()
    running.start_gateway(prepare=lambda core: core.faults.reject_market_data("AAPL", 10089))
    listener.until(status_seen("instrument", "failed", key="AAPL", code=10089), "AAPL failed")
    listener.until(ticks_after(0, ("MSFT", "EUR.USD")), "the others ticking")


def test_max_market_data_lines_fails_the_instruments_that_did_not_fit(running: Stack) -> None:
    """101 marks the instrument failed with that reason; the others keep streaming."""
    listener = running.start_publisher()
    running.start_gateway(
        prepare=lambda core: core.faults.reject_market_data(
            "EUR", 101, "Max number of tickers reached"
        )
    )
    listener.until(status_seen("instrument", "failed", key="EUR.USD", code=101), "EUR failed")
    listener.until(ticks_after(0, ("AAPL", "MSFT")), "the others ticking")
    eur = next(i for i in running.service.instruments if i.key == "EUR.USD")  # type: ignore[union-attr]
    assert eur.state == FAILED


def test_unknown_codes_are_counted_and_never_crash(running: Stack) -> None:
    """An unknown code is counted by code and the feed carries on."""
    streaming(running)
    listener = running.listener
    assert listener is not None
    running.faults(lambda f: f.send_error(424242, "something new"))
    wait_value(running, "ibpub_gateway_errors_total", 1, code="424242")
    mark = len(listener.messages)
    listener.until(ticks_after(mark), "ticks after the unknown code")


def test_three_hundred_instruments_subscribe_without_a_pacing_violation(running: Stack) -> None:
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
    specs = tuple(
        InstrumentSpec(key="", sec_type="STK", symbol=f"SYM{n}", con_id=900_000 + n)
        for n in range(300)
    )
    listener = running.start_publisher(instruments=specs)
    running.start_gateway(
        rate=600.0,
        catalogue=Catalogue.builtin().merged(extra),
        prepare=lambda core: setattr(core.faults, "pacing_limit", 50),
    )
    keys = tuple(f"SYM{n}" for n in range(300))
    listener.until(ticks_after(0, keys), "ticks from all 300 instruments", timeout=60)
    assert running.value("ibpub_gateway_errors_total", code="100") == 0
    assert running.value("ibpub_gateway_reconnects_total") == 0
    states = [s["state"] for s in listener.statuses("gateway")]
    assert "disconnected" not in states[states.index("connected") :]


def test_instruments_are_not_left_silently_dead_after_a_reconnect(running: Stack) -> None:
    """After a reconnect every instrument reports a state again (none stays pending)."""
    streaming(running)
    listener = running.listener
    assert listener is not None and running.service is not None
    before = len(listener.messages)
    running.faults(lambda f: f.drop_all())
    dropped = listener.until(status_seen("gateway", "disconnected", before), "disconnected")
    back = listener.until(status_seen("gateway", "connected", dropped), "connected again")
    listener.until(ticks_after(back), "ticks after the reconnect")
    wait_for(
        lambda: all(i.state == "subscribed" for i in running.service.instruments),  # type: ignore[union-attr]
        "every instrument subscribed",
    )
    assert len(INSTRUMENTS) == len(KEYS)
