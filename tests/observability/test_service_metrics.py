"""The publisher's metrics and health endpoints while it runs against the simulated gateway.

Each test runs the real pipeline in this process: the simulated gateway on a loopback TCP
port, ``PublisherService`` on its own thread with a fresh registry, and its HTTP endpoint.
"""

import json
import struct
import subprocess

import pytest

from tests.support.config import BOGUS, THREE, THREE_KEYS
from tests.support.metrics import http_get, samples, tool
from tests.support.stack import Stack
from tests.support.waiting import wait_for

GOOD_KEYS = THREE_KEYS


@pytest.fixture
def running(stack: Stack) -> Stack:
    """A gateway and a publisher with every good instrument streaming (plus one bogus)."""
    stack.start_gateway(rate=200)
    stack.start_publisher(instruments=(*THREE, BOGUS))
    stack.wait_streaming()
    return stack


def test_readyz_follows_the_gateway_connection(stack: Stack) -> None:
    """/readyz is 503 before the gateway connects, 200 while data flows, 503 after it goes."""
    publisher = stack.start_publisher()  # no gateway listening yet: the publisher keeps retrying
    status, body = http_get(f"{publisher.url}/readyz")
    assert status == 503
    assert json.loads(body)["ready"] is False
    assert "gateway" in json.loads(body)["reason"]

    gateway = stack.start_gateway(rate=200)
    stack.wait_streaming()
    status, body = http_get(f"{publisher.url}/readyz")
    assert (status, json.loads(body)["ready"]) == (200, True)

    gateway.stop()
    wait_for(lambda: http_get(f"{publisher.url}/readyz")[0] == 503, "/readyz 503 after disconnect")
    assert "gateway" in json.loads(http_get(f"{publisher.url}/readyz")[1])["reason"]


def test_healthz_is_200_even_without_a_gateway(stack: Stack) -> None:
    """/healthz says the process is alive whether or not the gateway is there."""
    publisher = stack.start_publisher()
    assert http_get(f"{publisher.url}/healthz")[0] == 200


def test_promtool_accepts_the_live_exposition(running: Stack) -> None:
    """`promtool check metrics` finds no problem in the live /metrics output."""
    status, text = http_get(f"{running.url}/metrics")
    assert status == 200
    result = subprocess.run(
        [tool("promtool"), "check", "metrics"],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout + result.stderr == ""  # no lint warnings either


def test_live_exposition_has_every_contract_metric(running: Stack) -> None:
    """Each metric of the contract's table is on /metrics with its labels."""
    _, text = http_get(f"{running.url}/metrics")
    names = {(name, frozenset(k for k, _ in labels)) for name, labels in samples(text)}
    expected = {
        ("ibpub_ticks_total", frozenset({"instrument"})),
        ("ibpub_messages_published_total", frozenset({"type"})),
        ("ibpub_tick_latency_seconds_bucket", frozenset({"le"})),
        ("ibpub_gateway_connected", frozenset()),
        ("ibpub_gateway_reconnects_total", frozenset()),
        ("ibpub_gateway_errors_total", frozenset({"code"})),
        ("ibpub_gateway_rtt_seconds_bucket", frozenset({"le"})),
        ("ibpub_instruments", frozenset({"state"})),
        ("ibpub_last_tick_age_seconds", frozenset({"instrument"})),
        ("ibpub_decode_errors_total", frozenset()),
        ("ibpub_build_info", frozenset({"version", "ibapi_version", "schema"})),
    }
    assert expected <= names


def test_ticks_are_counted_per_instrument(running: Stack) -> None:
    """Every streaming instrument has a positive tick count; the failed one stays at 0."""
    for key in GOOD_KEYS:
        assert running.metrics.count("ibpub_ticks_total", instrument=key) > 0, key
    assert running.metrics.value("ibpub_ticks_total", instrument="BOGUS") == 0


def test_every_published_tick_is_one_latency_observation(running: Stack) -> None:
    """Once stopped, the latency histogram's count equals the ticks published."""
    running.stop_publisher()
    ticks = sum(running.metrics.count("ibpub_ticks_total", instrument=k) for k in GOOD_KEYS)
    assert ticks > 0
    assert running.metrics.value("ibpub_tick_latency_seconds_count") == ticks
    assert running.metrics.value("ibpub_messages_published_total", type="tick") == ticks


def test_tick_latency_is_recorded_in_the_fine_buckets(running: Stack) -> None:
    """Tick-to-publish latencies land below 1 s, in the histogram's finite buckets."""
    count = running.metrics.count("ibpub_tick_latency_seconds_count")
    assert count > 0
    assert running.metrics.value("ibpub_tick_latency_seconds_bucket", le="1.0") == count


def test_status_and_heartbeats_are_counted_by_type(running: Stack) -> None:
    """Status changes and heartbeats count under their own type."""
    wait_for(
        lambda: running.metrics.count("ibpub_messages_published_total", type="hb") >= 2,
        "two heartbeats",
    )
    assert running.metrics.count("ibpub_messages_published_total", type="status") > 0


def test_gateway_connected_is_1_while_connected(running: Stack) -> None:
    """ibpub_gateway_connected reads 1 while the API session is up."""
    assert running.metrics.value("ibpub_gateway_connected") == 1


def test_gateway_connected_drops_to_0_when_the_gateway_goes(running: Stack) -> None:
    """Stopping the gateway sets ibpub_gateway_connected to 0."""
    running.gateways[0].stop()
    wait_for(lambda: running.metrics.value("ibpub_gateway_connected") == 0, "connected 0")


def test_connectivity_lost_notice_sets_gateway_connected_to_0(running: Stack) -> None:
    """IB's 1100 (gateway lost IB's servers) reads as disconnected, 1102 as connected again."""
    gateway = running.gateways[0]
    gateway.call(lambda core: core.sessions[0].send_error(-1, 1100, "Connectivity lost"))
    wait_for(
        lambda: running.metrics.value("ibpub_gateway_connected") == 0, "connected 0 after 1100"
    )
    gateway.call(lambda core: core.sessions[0].send_error(-1, 1102, "Connectivity restored"))
    wait_for(
        lambda: running.metrics.value("ibpub_gateway_connected") == 1, "connected 1 after 1102"
    )


def test_gateway_messages_are_counted_by_code(running: Stack) -> None:
    """Each error or notice from the gateway counts under its IB code."""
    before = running.metrics.count("ibpub_gateway_errors_total", code="2119")
    gateway = running.gateways[0]
    for _ in range(2):
        gateway.call(lambda core: core.sessions[0].send_error(-1, 2119, "farm connecting"))
    wait_for(
        lambda: running.metrics.count("ibpub_gateway_errors_total", code="2119") == before + 2,
        "two 2119 notices counted",
    )
    # The simulator also sends the routine "farm connection is OK" notices on connect.
    assert running.metrics.count("ibpub_gateway_errors_total", code="2104") >= 1


def test_gateway_rtt_is_observed_from_the_current_time_probe(running: Stack) -> None:
    """The reqCurrentTime probe sent on connect yields an RTT observation."""
    wait_for(lambda: running.metrics.count("ibpub_gateway_rtt_seconds_count") >= 1, "an RTT")
    assert running.metrics.count("ibpub_gateway_rtt_seconds_sum") > 0


def test_reconnects_count_new_sessions_after_the_first(running: Stack) -> None:
    """A gateway restart is one reconnect; the first connection is none."""
    assert running.metrics.value("ibpub_gateway_reconnects_total") == 0
    running.gateways[0].stop()
    wait_for(lambda: running.metrics.value("ibpub_gateway_connected") == 0, "the drop noticed")
    running.start_gateway()
    wait_for(lambda: running.metrics.value("ibpub_gateway_reconnects_total") == 1, "one reconnect")
    wait_for(lambda: running.metrics.value("ibpub_gateway_connected") == 1, "connected again")


def test_undecodable_frame_counts_a_decode_error(running: Stack) -> None:
    """A well-framed message the decoder rejects counts in ibpub_decode_errors_total."""
    assert running.metrics.value("ibpub_decode_errors_total") == 0
    body = struct.pack(">I", 201) + b"\xff" * 5  # a protobuf tickPrice that cannot parse
    frame = struct.pack(">I", len(body)) + body
    running.gateways[0].call(lambda core: core.sessions[0].send_raw(frame))
    wait_for(lambda: running.metrics.value("ibpub_decode_errors_total") == 1, "one decode error")
    assert running.metrics.value("ibpub_gateway_connected") == 1  # one bad frame is not fatal


def test_instrument_states_are_exported(running: Stack) -> None:
    """ibpub_instruments counts the streaming and the failed instruments."""
    assert running.metrics.value("ibpub_instruments", state="subscribed") == len(GOOD_KEYS)
    assert running.metrics.value("ibpub_instruments", state="failed") == 1
    assert running.metrics.value("ibpub_instruments", state="pending") == 0


def test_last_tick_age_is_exported_for_instruments_that_ticked(running: Stack) -> None:
    """Streaming instruments have a small last-tick age; the failed one has none."""
    for key in GOOD_KEYS:
        age = running.metrics.get("ibpub_last_tick_age_seconds", instrument=key)
        assert age is not None and 0 <= age < 60, (key, age)
    assert running.metrics.get("ibpub_last_tick_age_seconds", instrument="BOGUS") is None


def test_build_info_names_the_versions(running: Stack) -> None:
    """ibpub_build_info carries this package's version and schema 1."""
    _, text = http_get(f"{running.url}/metrics")
    infos = [dict(labels) for name, labels in samples(text) if name == "ibpub_build_info"]
    assert len(infos) == 1
    assert infos[0]["schema"] == "1"
    assert infos[0]["version"] and infos[0]["ibapi_version"].startswith("10.")


def test_per_instrument_off_exports_one_series(stack: Stack) -> None:
    """With per_instrument false, ticks and last-tick age carry only instrument="_all"."""
    stack.start_gateway(rate=200)
    publisher = stack.start_publisher(metrics={"per_instrument": False})
    metrics = publisher.metrics
    wait_for(lambda: metrics.count("ibpub_ticks_total", instrument="_all") > 0, "ticks")
    _, text = http_get(f"{publisher.url}/metrics")
    instruments = {
        dict(labels)["instrument"]
        for name, labels in samples(text)
        if name in ("ibpub_ticks_total", "ibpub_last_tick_age_seconds")
    }
    assert instruments == {"_all"}
