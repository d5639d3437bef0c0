"""The upstream link states and the re-dial schedule: monitor events in, verdicts out (pure)."""

import zmq

from publisher.proxy.links import Link, Redials, UpstreamLinks

A = "tcp://10.0.0.11:7700"
B = "tcp://10.0.0.12:7700"


def feed(links: UpstreamLinks, endpoint: str, *events: int) -> None:
    for event in events:
        links.on_event(endpoint, event)


def test_a_link_is_up_only_after_its_handshake() -> None:
    """TCP connected is not up; the handshake makes it up; a disconnect takes it down."""
    links = UpstreamLinks()
    feed(links, A, zmq.EVENT_CONNECTED)
    assert (links.state(A), links.up) == (Link.CONNECTING, 0)
    feed(links, A, zmq.EVENT_HANDSHAKE_SUCCEEDED)
    assert (links.state(A), links.up) == (Link.UP, 1)
    change = links.on_event(A, zmq.EVENT_DISCONNECTED)
    assert change is not None and (change.before, change.after) == (Link.UP, Link.DOWN)
    assert (links.up, links.refusals) == (0, 0)


def test_each_failed_attempt_is_one_refusal_and_only_the_first_is_to_be_logged() -> None:
    """A failure event then its disconnect count once; a bare disconnect before the handshake
    (a wrong server key) counts too; only the first since the link was up is flagged."""
    links = UpstreamLinks()
    first = links.on_event(A, zmq.EVENT_CONNECTED)
    first = links.on_event(A, zmq.EVENT_HANDSHAKE_FAILED_AUTH)
    assert first is not None and first.refusal and first.first_refusal
    assert links.on_event(A, zmq.EVENT_DISCONNECTED) is None
    feed(links, A, zmq.EVENT_CONNECTED)
    again = links.on_event(A, zmq.EVENT_DISCONNECTED)
    assert again is not None and again.refusal and not again.first_refusal
    assert (links.refusals, links.up, links.state(A)) == (2, 0, Link.REFUSED)
    feed(links, A, zmq.EVENT_CONNECTED, zmq.EVENT_HANDSHAKE_SUCCEEDED, zmq.EVENT_DISCONNECTED)
    feed(links, A, zmq.EVENT_CONNECTED)
    after_up = links.on_event(A, zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL)
    assert after_up is not None and after_up.first_refusal
    assert links.refusals == 3


def test_links_are_counted_per_endpoint() -> None:
    """Two upstreams up count two; a repeated event cannot push the count off."""
    links = UpstreamLinks()
    for endpoint in (A, B):
        feed(links, endpoint, zmq.EVENT_CONNECTED, zmq.EVENT_HANDSHAKE_SUCCEEDED)
    feed(links, A, zmq.EVENT_HANDSHAKE_SUCCEEDED)
    assert links.up == 2
    feed(links, B, zmq.EVENT_DISCONNECTED, zmq.EVENT_DISCONNECTED)
    assert links.up == 1


def test_redials_back_off_and_reset_once_connected() -> None:
    """Each refusal schedules one re-dial, twice as late as the last (capped); up resets it."""
    redials = Redials(initial=2.0, maximum=5.0)
    assert redials.deadline() is None
    redials.refused(A, 100.0)
    assert redials.deadline() == 102.0
    assert redials.due(101.9) == []
    assert redials.due(102.0) == [A]
    assert redials.due(200.0) == []  # once per refusal
    redials.refused(A, 110.0)
    assert redials.deadline() == 114.0
    redials.due(114.0)
    redials.refused(A, 120.0)
    assert redials.deadline() == 125.0  # capped
    redials.connected(A)
    assert redials.deadline() is None
    redials.refused(A, 130.0)
    assert redials.deadline() == 132.0
