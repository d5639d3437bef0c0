"""The subscriber library: sequence tracking (pure) and a Subscriber on a real PUB socket."""

import time
from collections.abc import Callable, Iterator
from typing import Any

import msgpack
import pytest
import zmq
from hypothesis import given
from hypothesis import strategies as st

from subscribers.client import Subscriber
from subscribers.tracking import SeqStatus, SeqTracker
from subscribers.wire import Message, Status, Tick, WireError
from tests.support.waiting import DEADLINE, wait_for

# -- SeqTracker (pure) ---------------------------------------------------------------------------


def test_first_message_on_a_topic_is_not_a_gap() -> None:
    """The first (sid, seq) seen on a topic is recorded without counting anything."""
    tracker = SeqTracker()
    assert tracker.observe("tick.A", 7, 57).status is SeqStatus.FIRST
    assert (tracker.gaps, tracker.lost) == (0, 0)
    assert tracker.last("tick.A") == (7, 57)


def test_consecutive_seqs_are_in_order() -> None:
    """seq one above the last is in order."""
    tracker = SeqTracker()
    tracker.observe("tick.A", 7, 1)
    assert tracker.observe("tick.A", 7, 2).status is SeqStatus.NEXT
    assert tracker.gaps == 0


def test_gaps_count_events_and_lost_messages() -> None:
    """Each skip ahead is one gap event and adds the skipped seqs to the lost count."""
    tracker = SeqTracker()
    tracker.observe("tick.A", 7, 1)
    first = tracker.observe("tick.A", 7, 4)
    second = tracker.observe("tick.A", 7, 6)
    assert (first.status, first.missing) == (SeqStatus.GAP, 2)
    assert (second.status, second.missing) == (SeqStatus.GAP, 1)
    assert (tracker.gaps, tracker.lost) == (2, 3)


def test_new_sid_is_a_restart_not_a_gap() -> None:
    """A new sid on a topic resets its count and is not a gap, even when seq starts high."""
    tracker = SeqTracker()
    tracker.observe("tick.A", 7, 100)
    assert tracker.observe("tick.A", 8, 5).status is SeqStatus.RESTART
    assert tracker.observe("tick.A", 8, 6).status is SeqStatus.NEXT
    assert (tracker.gaps, tracker.lost, tracker.restarts) == (0, 0, 1)
    assert tracker.last("tick.A") == (8, 6)


def test_duplicates_and_old_messages_are_ignored() -> None:
    """A seq at or below the last one is stale and changes nothing."""
    tracker = SeqTracker()
    tracker.observe("tick.A", 7, 5)
    assert tracker.observe("tick.A", 7, 5).status is SeqStatus.STALE
    assert not tracker.observe("tick.A", 7, 3).fresh
    assert tracker.observe("tick.A", 7, 6).status is SeqStatus.NEXT
    assert (tracker.stale, tracker.gaps, tracker.lost) == (2, 0, 0)


def test_topics_are_tracked_independently() -> None:
    """Each topic has its own count."""
    tracker = SeqTracker()
    tracker.observe("tick.A", 7, 1)
    tracker.observe("tick.B", 7, 10)
    assert tracker.observe("tick.A", 7, 2).status is SeqStatus.NEXT
    assert tracker.observe("tick.B", 7, 11).status is SeqStatus.NEXT
    assert tracker.gaps == 0


@given(st.lists(st.integers(min_value=1, max_value=1000), min_size=1, max_size=50))
def test_lost_is_the_number_of_seqs_never_seen(steps: list[int]) -> None:
    """For any increasing seqs in one sid, lost counts exactly the seqs skipped after the first."""
    tracker = SeqTracker()
    seq = 0
    for step in steps:
        seq += step
        tracker.observe("tick.A", 1, seq)
    assert tracker.lost == seq - steps[0] - (len(steps) - 1)
    assert tracker.gaps == sum(1 for step in steps[1:] if step > 1)


# -- Subscriber on a real PUB socket -------------------------------------------------------------


class Publisher:
    """A test-side PUB socket sending contract v1 messages with per-topic seqs."""

    def __init__(self, context: zmq.Context[Any], sid: int = 4242) -> None:
        self.socket = context.socket(zmq.PUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        port = self.socket.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{port}"
        self.sid = sid
        self.seqs: dict[str, int] = {}

    def tick(self, key: str, *, seq: int | None = None) -> None:
        """Send a bid tick on ``tick.<key>`` with the topic's next seq (or the given one)."""
        topic = f"tick.{key}"
        body = {"key": key, "conid": 1, "field": "bid", "tick_type": 1, "price": 1.5}
        self.send(topic, "tick", {**body, "attrib": 0, "mdt": 1, "ts_recv": time.time_ns()}, seq)

    def status(self, name: str = "ibpub") -> None:
        """Send a gateway status of publisher ``name``."""
        body = {"scope": "gateway", "state": "connected", "key": None, "code": None}
        self.send(f"status.{name}", "status", {**body, "message": "ok"}, None, pub=name)

    def send(
        self, topic: str, kind: str, body: dict[str, Any], seq: int | None, pub: str = "ibpub"
    ) -> None:
        seq = self.seqs.get(topic, 0) + 1 if seq is None else seq
        self.seqs[topic] = seq
        payload = {"v": 1, "type": kind, "pub": pub, "sid": self.sid, "seq": seq}
        payload.update(ts=time.time_ns(), **body)
        self.raw(topic.encode(), msgpack.packb(payload))

    def raw(self, *frames: bytes) -> None:
        self.socket.send_multipart(list(frames))


@pytest.fixture
def context() -> Iterator[zmq.Context[Any]]:
    ctx: zmq.Context[Any] = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


@pytest.fixture
def publisher(context: zmq.Context[Any]) -> Iterator[Publisher]:
    pub = Publisher(context)
    yield pub
    pub.socket.close(linger=0)


def collect(
    sub: Subscriber,
    publish_round: Callable[[], None],
    done: Callable[[list[Message]], bool],
) -> list[Message]:
    """Publish rounds until ``done`` holds for what arrived (PUB/SUB joins slowly)."""
    received: list[Message] = []

    def arrived() -> bool:
        if done(received):
            return True
        publish_round()
        while (msg := sub.recv(timeout=0.02)) is not None:
            received.append(msg)
        return False

    wait_for(arrived, "the messages", every=0)
    return received


def receive_seq(sub: Subscriber, seq: int) -> list[Message]:
    """Receive until the message with ``seq`` arrives (earlier ones may still be in flight)."""
    received: list[Message] = []
    while not received or received[-1].seq < seq:
        msg = sub.recv(timeout=DEADLINE)
        assert msg is not None, f"nothing arrived; received {received}"
        received.append(msg)
    return received


def topics(messages: list[Message]) -> list[str]:
    return [m.topic for m in messages]


def test_prefix_subscription_delivers_only_matching_topics(
    context: zmq.Context[Any], publisher: Publisher
) -> None:
    """A prefix subscription receives the topics starting with it and nothing else."""

    def publish_round() -> None:
        publisher.tick("B")
        publisher.status()
        publisher.tick("AAPL")

    with Subscriber(publisher.endpoint, prefixes=["tick.A"], context=context) as sub:
        got = collect(sub, publish_round, lambda r: len(r) >= 3)
    assert set(topics(got)) == {"tick.AAPL"}


def test_default_subscription_receives_every_topic(
    context: zmq.Context[Any], publisher: Publisher
) -> None:
    """With no prefixes given, ticks and status both arrive."""

    def publish_round() -> None:
        publisher.tick("AAPL")
        publisher.status()

    with Subscriber(publisher.endpoint, context=context) as sub:
        got = collect(sub, publish_round, lambda r: {"tick.AAPL", "status.ibpub"} <= set(topics(r)))
    assert any(isinstance(m, Status) for m in got)


def test_exact_key_drops_longer_keys(context: zmq.Context[Any], publisher: Publisher) -> None:
    """Exact key ES delivers tick.ES and filters out tick.ESZ6, which ZeroMQ's prefix lets in."""

    def publish_round() -> None:
        publisher.tick("ESZ6")
        publisher.tick("ES")

    with Subscriber(publisher.endpoint, prefixes=(), exact_keys=["ES"], context=context) as sub:
        got = collect(sub, publish_round, lambda r: len(r) >= 3)
        stats = sub.stats
    assert set(topics(got)) == {"tick.ES"}
    assert stats.filtered >= 1


def test_exact_keys_alone_deliver_only_those_ticks(
    context: zmq.Context[Any], publisher: Publisher
) -> None:
    """Given exact keys and no prefixes, status messages and other keys are not delivered."""

    def publish_round() -> None:
        publisher.status()
        publisher.tick("ESZ6")
        publisher.tick("ES")

    with Subscriber(publisher.endpoint, exact_keys=["ES"], context=context) as sub:
        got = collect(sub, publish_round, lambda r: len(r) >= 3)
    assert set(topics(got)) == {"tick.ES"}


def test_unknown_schema_version_is_counted_and_skipped(
    context: zmq.Context[Any], publisher: Publisher
) -> None:
    """A message of schema version 2 is counted as malformed and the next v1 message arrives."""

    def publish_round() -> None:
        body = {"v": 2, "type": "tick", "pub": "ibpub", "sid": 1, "seq": 1, "ts": 1, "key": "A"}
        publisher.raw(b"tick.A", msgpack.packb(body))
        publisher.tick("A")

    with Subscriber(publisher.endpoint, context=context) as sub:
        got = collect(sub, publish_round, lambda r: len(r) >= 2)
        stats, error = sub.stats, sub.last_error
    assert all(m.v == 1 for m in got)
    assert stats.malformed >= 1
    assert error is not None and "unknown schema version 2" in error.reason


def test_exact_keys_let_subscribed_status_through(
    context: zmq.Context[Any], publisher: Publisher
) -> None:
    """With exact keys, status topics still arrive when a prefix subscribes to them."""

    def publish_round() -> None:
        publisher.tick("ESZ6")
        publisher.status()
        publisher.tick("ES")

    with Subscriber(
        publisher.endpoint, prefixes=["status."], exact_keys=["ES"], context=context
    ) as sub:
        got = collect(sub, publish_round, lambda r: {"tick.ES", "status.ibpub"} <= set(topics(r)))
    assert "tick.ESZ6" not in topics(got)


def test_malformed_message_is_counted_and_skipped(
    context: zmq.Context[Any], publisher: Publisher
) -> None:
    """A payload that is not a v1 message is counted as malformed and iteration goes on."""

    def publish_round() -> None:
        publisher.raw(b"tick.AAPL", b"\xc1 not msgpack")
        publisher.tick("AAPL")

    with Subscriber(publisher.endpoint, context=context) as sub:
        got = collect(sub, publish_round, lambda r: len(r) >= 2)
        stats = sub.stats
        error = sub.last_error
    assert all(isinstance(m, Tick) for m in got)
    assert stats.malformed >= 1
    assert isinstance(error, WireError)
    assert error.topic == "tick.AAPL"


def test_unknown_message_type_is_skipped_not_malformed(
    context: zmq.Context[Any], publisher: Publisher
) -> None:
    """A later contract's data kind (``news.AAPL``) is counted as unknown and skipped, as
    contract 1.1 asks; it is not malformed and the next tick arrives."""

    def publish_round() -> None:
        body = {"v": 1, "type": "news", "pub": "ibpub", "sid": 1, "seq": 1, "ts": 1, "key": "AAPL"}
        publisher.raw(b"news.AAPL", msgpack.packb(body))
        publisher.tick("AAPL")

    with Subscriber(publisher.endpoint, prefixes=["tick.", "news."], context=context) as sub:
        got = collect(sub, publish_round, lambda r: len(r) >= 2)
        stats = sub.stats
    assert all(isinstance(m, Tick) for m in got)
    assert stats.unknown >= 1
    assert stats.malformed == 0


def test_wrong_frame_count_is_malformed(context: zmq.Context[Any], publisher: Publisher) -> None:
    """A message of three frames is counted as malformed, not delivered."""

    def publish_round() -> None:
        publisher.raw(b"tick.AAPL", b"a", b"b")
        publisher.tick("AAPL")

    with Subscriber(publisher.endpoint, context=context) as sub:
        collect(sub, publish_round, lambda r: len(r) >= 2)
        assert sub.stats.malformed >= 1


def test_gap_is_counted_once_subscribed(context: zmq.Context[Any], publisher: Publisher) -> None:
    """Skipping two seqs on a topic shows as one gap and two lost messages."""
    with Subscriber(publisher.endpoint, context=context) as sub:
        collect(sub, lambda: publisher.tick("AAPL"), lambda r: len(r) >= 1)
        target = publisher.seqs["tick.AAPL"] + 3
        publisher.tick("AAPL", seq=target)
        receive_seq(sub, target)
        stats = sub.stats
    assert (stats.gaps, stats.lost) == (1, 2)


def test_duplicate_is_not_delivered(context: zmq.Context[Any], publisher: Publisher) -> None:
    """A message repeating a seq already seen is skipped and counted as stale."""
    with Subscriber(publisher.endpoint, context=context) as sub:
        collect(sub, lambda: publisher.tick("AAPL"), lambda r: len(r) >= 1)
        last = publisher.seqs["tick.AAPL"]
        publisher.tick("AAPL", seq=last)
        publisher.tick("AAPL", seq=last + 1)
        seen = receive_seq(sub, last + 1)
        stats = sub.stats
    assert stats.stale == 1
    assert [m.seq for m in seen] == sorted({m.seq for m in seen})


def test_recv_returns_none_after_timeout(context: zmq.Context[Any], publisher: Publisher) -> None:
    """recv gives None when nothing arrives within the timeout."""
    with Subscriber(publisher.endpoint, context=context) as sub:
        started = time.monotonic()
        assert sub.recv(timeout=0.1) is None
    assert time.monotonic() - started >= 0.09


def test_iteration_yields_decoded_messages(context: zmq.Context[Any], publisher: Publisher) -> None:
    """Iterating a Subscriber yields decoded messages as they arrive."""
    with Subscriber(publisher.endpoint, prefixes=["tick."], context=context) as sub:
        collect(sub, lambda: publisher.tick("AAPL"), lambda r: len(r) >= 1)
        publisher.tick("AAPL")
        msg = next(iter(sub))
    assert isinstance(msg, Tick)
    assert msg.key == "AAPL"


def test_shared_context_outlives_the_subscriber(context: zmq.Context[Any]) -> None:
    """Closing a Subscriber closes its socket but leaves a context it was given usable."""
    sub = Subscriber("tcp://127.0.0.1:9", context=context)
    sub.close()
    assert sub.closed
    assert not context.closed
    context.socket(zmq.PUB).close()


def test_own_context_is_terminated_on_close() -> None:
    """A Subscriber that made its own context terminates it when closed."""
    with Subscriber("tcp://127.0.0.1:9") as sub:
        context = sub.socket.context
    assert sub.closed
    assert context.closed


def test_bad_endpoint_raises_zmq_error() -> None:
    """An endpoint ZeroMQ cannot parse raises ZMQError at construction."""
    with pytest.raises(zmq.ZMQError):
        Subscriber("nonsense://x")


def test_single_string_prefixes_are_rejected() -> None:
    """Passing one str as prefixes (which would subscribe to each character) is a TypeError."""
    with pytest.raises(TypeError):
        Subscriber(prefixes="tick.")
