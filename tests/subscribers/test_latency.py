"""`ibsub latency`: the pure recorder and reports, then the command as a subprocess against a
test-side PUB socket that sends contract v1 messages with chosen sequence numbers."""

import json
import math
import queue
import signal
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
import zmq
from hypothesis import given
from hypothesis import strategies as st

from subscribers.latency import parse_listen
from subscribers.latency_report import (
    LatencyRecorder,
    format_duration,
    format_report,
    make_report,
    report_json,
)
from tests.support.metrics import http_get, samples
from tests.support.processes import BIN, LineReader, Processes, free_port
from tests.support.waiting import wait_for

# -- the recorder and the reports ----------------------------------------------------------------


def exact_quantile(values: list[int], q: float) -> int:
    """Nearest-rank quantile, the definition LatencyRecorder approximates."""
    ordered = sorted(values)
    return ordered[math.ceil(q * len(ordered)) - 1]


@given(
    st.lists(st.integers(min_value=0, max_value=10**11), min_size=1, max_size=300),
    st.sampled_from([0.5, 0.9, 0.99, 0.999, 1.0]),
)
def test_quantiles_are_within_half_a_percent(values: list[int], q: float) -> None:
    """For any latencies, a recorded quantile is within 0.5 % of the exact nearest-rank one."""
    recorder = LatencyRecorder()
    for value in values:
        recorder.record(value)
    exact = exact_quantile(values, q)
    assert recorder.quantile(q) == pytest.approx(exact, rel=0.005, abs=1e-9)


@given(st.lists(st.integers(min_value=-(10**6), max_value=10**9), min_size=1, max_size=100))
def test_min_max_and_count_are_exact(values: list[int]) -> None:
    """count, max and negative are exact; negatives are recorded as 0."""
    recorder = LatencyRecorder()
    for value in values:
        recorder.record(value)
    assert recorder.count == len(values)
    assert recorder.max_ns == max(0, max(values))
    assert recorder.negative == sum(1 for v in values if v < 0)


@given(st.lists(st.integers(0, 10**9)), st.lists(st.integers(0, 10**9)))
def test_merging_equals_recording_everything(first: list[int], second: list[int]) -> None:
    """Merging two recorders gives the quantiles of recording both lists in one."""
    a, b, both = LatencyRecorder(), LatencyRecorder(), LatencyRecorder()
    for value in first:
        a.record(value)
        both.record(value)
    for value in second:
        b.record(value)
        both.record(value)
    a.merge(b)
    assert a.count == both.count and a.max_ns == both.max_ns
    if both.count:
        assert [a.quantile(q) for q in (0.5, 0.99)] == [both.quantile(q) for q in (0.5, 0.99)]


def test_an_empty_recorder_has_no_quantiles() -> None:
    """Without data a quantile is NaN and the report line says "latency -"."""
    recorder = LatencyRecorder()
    assert math.isnan(recorder.quantile(0.5))
    line = format_report(make_report("interval", 5.0, recorder, 0, 0))
    assert line.endswith("latency -")


def test_quantile_outside_0_1_is_refused() -> None:
    """quantile(0) and quantile(1.5) raise ValueError."""
    with pytest.raises(ValueError):
        LatencyRecorder().quantile(0)
    with pytest.raises(ValueError):
        LatencyRecorder().quantile(1.5)


@pytest.mark.parametrize(
    ("ns", "text"),
    [(850, "850ns"), (45_100, "45.1us"), (1_200_000, "1.20ms"), (2_500_000_000, "2.500s")],
)
def test_durations_are_formatted_for_people(ns: int, text: str) -> None:
    """Latencies print in ns, us, ms or s as their size suggests."""
    assert format_duration(ns) == text


def test_report_line_has_rates_loss_and_the_four_quantiles() -> None:
    """A report line shows messages, rate, gaps, lost, p50 p90 p99 p99.9 and max."""
    recorder = LatencyRecorder()
    for us in range(1, 1001):
        recorder.record(us * 1000)
    line = format_report(make_report("interval", 2.0, recorder, 3, 7))
    for part in ("msgs 1000", "500.0/s", "gaps 3", "lost 7", "p50 ", "p90 ", "p99 ", "p99.9 "):
        assert part in line, part
    assert "max 1.00ms" in line


def test_report_json_has_the_same_figures() -> None:
    """The JSON form carries the figures, latencies in microseconds."""
    recorder = LatencyRecorder()
    recorder.record(40_000)
    body = json.loads(report_json(make_report("total", 1.0, recorder, 1, 2)))
    assert body["window"] == "total" and body["messages"] == 1
    assert (body["gaps"], body["lost"]) == (1, 2)
    assert body["p50_us"] == pytest.approx(40.0, rel=0.005)
    assert set(body) >= {"p90_us", "p99_us", "p99.9_us", "max_us", "rate", "seconds"}


def test_listen_address_is_parsed() -> None:
    """HOST:PORT and [IPv6]:PORT parse; anything else is a ValueError."""
    assert parse_listen("127.0.0.1:9701") == ("127.0.0.1", 9701)
    assert parse_listen("[::1]:0") == ("::1", 0)
    for bad in ("9701", "host:", "host:99999", ":9701"):
        with pytest.raises(ValueError):
            parse_listen(bad)


# -- the command -----------------------------------------------------------------------------------


class Feed:
    """A test-side publisher: a PUB socket on its own thread sending a contract v1 heartbeat
    every few milliseconds, and any ticks the test queues (the thread owns the socket)."""

    PACE = 0.005  # seconds between heartbeats: a steady trickle, not a wait for anything

    def __init__(self) -> None:
        self.context: zmq.Context[Any] = zmq.Context()
        self.socket = self.context.socket(zmq.PUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        port = self.socket.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{port}"
        self._ticks: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-feed", daemon=True)
        self._thread.start()

    def tick(self, seq: int) -> None:
        """Queue a tick on tick.X with this seq."""
        self._ticks.put(seq)

    def _send(self, topic: str, kind: str, seq: int, body: dict[str, Any]) -> None:
        payload = {"v": 1, "type": kind, "pub": "t", "sid": 99, "seq": seq, "ts": time.time_ns()}
        self.socket.send_multipart([topic.encode(), msgpack.packb({**payload, **body})])

    def _run(self) -> None:
        hb_seq = 0
        while not self._stop.is_set():
            while not self._ticks.empty():
                body = {"key": "X", "conid": 1, "field": "bid", "tick_type": 1, "price": 1.5}
                body |= {"attrib": 0, "mdt": 1, "ts_recv": time.time_ns()}
                self._send("tick.X", "tick", self._ticks.get(), body)
            hb_seq += 1
            self._send("hb.t", "hb", hb_seq, {"gateway": "connected", "seqs": {}})
            self._stop.wait(self.PACE)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.socket.close()
        self.context.term()


@pytest.fixture
def feed() -> Iterator[Feed]:
    feed = Feed()
    yield feed
    feed.close()


def start_latency(procs: Processes, feed: Feed, *args: str) -> Any:
    return procs.start([str(BIN / "ibsub"), "latency", "--endpoint", feed.endpoint, *args])


def probe_value(port: int, name: str) -> float | None:
    """The sum of a metric's samples on the probe's /metrics; None while it is not serving."""
    try:
        status, text = http_get(f"http://127.0.0.1:{port}/metrics")
    except OSError:
        return None
    assert status == 200
    return sum(v for (sample, _), v in samples(text).items() if sample == name)


def reports(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines if line.strip()]


def test_gaps_and_lost_messages_are_exported(procs: Processes, feed: Feed) -> None:
    """seq 1, 2, 5 on one topic is one gap of two lost messages, on /metrics."""
    port = free_port()
    start_latency(procs, feed, "--metrics-listen", f"127.0.0.1:{port}")
    wait_for(lambda: (probe_value(port, "ibsub_messages_total") or 0) > 0, "the probe to receive")
    assert probe_value(port, "ibsub_gaps_total") == 0
    for seq in (1, 2, 5):
        feed.tick(seq)
    wait_for(lambda: probe_value(port, "ibsub_lost_messages_total") == 2, "two lost messages")
    assert probe_value(port, "ibsub_gaps_total") == 1
    assert (probe_value(port, "ibsub_latency_seconds_count") or 0) > 0


def test_ctrl_c_prints_the_total_and_exits_0(procs: Processes, feed: Feed) -> None:
    """SIGINT stops the command with status 0 after a final "total" report."""
    proc = start_latency(procs, feed, "--json", "--interval", "0.2")
    out = LineReader(proc.stdout)
    out.until(lambda lines: any(r["messages"] > 0 for r in reports(lines)))
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0
    final = reports(out.rest())[-1]
    assert final["window"] == "total"
    assert final["messages"] > 0 and final["p99.9_us"] is not None


def test_sigterm_also_exits_0(procs: Processes, feed: Feed) -> None:
    """SIGTERM is a clean stop too."""
    proc = start_latency(procs, feed, "--json", "--interval", "0.2")
    LineReader(proc.stdout).until(lambda lines: bool(reports(lines)))  # running, handlers set
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0


def test_count_stops_after_n_messages(procs: Processes, feed: Feed) -> None:
    """--count N exits 0 once N messages were measured; the total says N."""
    proc = start_latency(procs, feed, "--count", "20", "--json")
    final = reports(LineReader(proc.stdout).rest())[-1]
    assert proc.wait(timeout=30) == 0
    assert (final["window"], final["messages"]) == ("total", 20)


def test_duration_stops_the_run(procs: Processes, feed: Feed) -> None:
    """--duration SECONDS exits 0 on its own, with the text report's four quantiles."""
    proc = start_latency(procs, feed, "--duration", "0.5", "--interval", "0.2")
    lines = LineReader(proc.stdout).rest()
    assert proc.wait(timeout=30) == 0
    total = [line for line in lines if line.startswith("total")]
    assert len(total) == 1
    assert all(f" {q} " in total[0] for q in ("p50", "p90", "p99", "p99.9"))


def test_bad_metrics_listen_is_a_usage_error(procs: Processes, feed: Feed) -> None:
    """--metrics-listen without a port exits 2 and says what is expected."""
    proc = start_latency(procs, feed, "--metrics-listen", "localhost")
    assert proc.wait(timeout=30) == 2
    assert any("expected HOST:PORT" in line for line in LineReader(proc.stderr).rest())


def test_metrics_port_in_use_exits_1(procs: Processes, feed: Feed) -> None:
    """An occupied --metrics-listen port exits 1 with a message naming it."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = start_latency(procs, feed, "--metrics-listen", f"127.0.0.1:{port}")
        assert proc.wait(timeout=30) == 1
    assert any(f"127.0.0.1:{port}" in line for line in LineReader(proc.stderr).rest())
