"""The connection state machine, driven without sockets: events in, states and actions out."""

import pytest

from publisher.gateway.connection import (
    ApiReady,
    ClientIdRejected,
    CloseConnection,
    ConnState,
    CountReconnect,
    Dropped,
    Event,
    ForgetRequests,
    GiveUp,
    LinkLost,
    LinkRestored,
    OpenConnection,
    Phase,
    Policy,
    ProbeAnswered,
    Report,
    ResubscribeAll,
    SendProbe,
    Start,
    Stop,
    SubscribeAll,
    TimerFired,
    next_deadline,
    transition,
)

POLICY = Policy(
    client_ids=(7, 8),
    connect_timeout=5.0,
    backoff_initial=1.0,
    backoff_max=8.0,
    probe_interval=2.0,
    probe_timeout=6.0,
)


def run(
    events: list[tuple[float, Event]], state: ConnState | None = None, jitter: float = 0.5
) -> tuple[ConnState, list[object]]:
    """Apply timed events in order; return the final state and every action."""
    current = state or ConnState()
    actions: list[object] = []
    for now, event in events:
        current, step = transition(current, event, POLICY, now, jitter)
        actions.extend(step)
    return current, actions


def connected() -> ConnState:
    state, _ = run([(0.0, Start()), (0.1, ApiReady(187))])
    return state


def reports(actions: list[object]) -> list[str]:
    return [a.state for a in actions if isinstance(a, Report)]


def test_start_reports_connecting_and_opens_with_the_first_client_id() -> None:
    """Start reports `connecting` and opens a connection with the configured client id."""
    state, actions = run([(0.0, Start())])
    assert state.phase is Phase.CONNECTING
    assert actions == [Report("connecting", "connecting with client id 7"), OpenConnection(7)]
    assert next_deadline(state, POLICY) == 5.0


def test_api_ready_reports_connected_and_subscribes_everything() -> None:
    """ApiReady moves to `connected` and asks for every subscription, without a reconnect."""
    state, actions = run([(0.0, Start()), (0.1, ApiReady(187))])
    assert state.gateway_state == "connected"
    assert SubscribeAll() in actions
    assert not any(isinstance(a, CountReconnect) for a in actions)


def test_connect_timeout_backs_off() -> None:
    """No API session within connect_timeout closes the attempt and schedules a retry."""
    state, actions = run([(0.0, Start()), (5.0, TimerFired())])
    assert state.phase is Phase.BACKOFF
    assert actions[2:4] == [CloseConnection(), ForgetRequests()]
    assert reports(actions)[-1] == "disconnected"
    assert next_deadline(state, POLICY) == pytest.approx(6.0)


def test_timer_before_the_deadline_does_nothing() -> None:
    """A timer that fires early changes nothing."""
    state, actions = run([(0.0, Start()), (4.9, TimerFired())])
    assert state.phase is Phase.CONNECTING
    assert actions[2:] == []


def test_backoff_doubles_up_to_the_cap() -> None:
    """Refused connections back off 1, 2, 4, 8, 8 seconds (jitter at its midpoint)."""
    state, _ = run([(0.0, Start())])
    delays = []
    now = 0.0
    for _ in range(5):
        state, _ = transition(state, Dropped("refused"), POLICY, now, 0.5)
        delays.append(state.deadline - now)
        now = state.deadline
        state, _ = transition(state, TimerFired(), POLICY, now, 0.5)
    assert delays == pytest.approx([1.0, 2.0, 4.0, 8.0, 8.0])


@pytest.mark.parametrize(("jitter", "factor"), [(0.0, 0.8), (0.999999, 1.2)])
def test_jitter_spreads_the_delay_by_twenty_percent(jitter: float, factor: float) -> None:
    """The jitter draw scales each delay within [0.8, 1.2] of the base."""
    state, _ = run([(0.0, Start()), (0.0, Dropped("refused"))], jitter=jitter)
    assert state.deadline == pytest.approx(factor, rel=1e-5)


def test_reconnect_after_a_session_counts_and_resets_the_backoff() -> None:
    """A drop after a session reconnects after the initial delay and counts one reconnect."""
    state = connected()
    state, actions = run([(10.0, Dropped("closed by the gateway"))], state)
    assert state.deadline == pytest.approx(11.0)
    state, actions = run([(11.0, TimerFired()), (11.1, ApiReady(187))], state)
    assert actions[0] == Report("connecting", "connecting with client id 7")
    assert CountReconnect() in actions
    assert state.backoff == POLICY.backoff_initial


def test_drop_reports_the_reason_and_code() -> None:
    """The disconnected status carries the reason and the IB code behind it."""
    _, actions = run([(1.0, Dropped("Not connected", 504))], connected())
    (report,) = [a for a in actions if isinstance(a, Report)]
    assert report.state == "disconnected" and report.code == 504
    assert report.message.startswith("Not connected; retrying in")


def test_probe_is_sent_every_interval_and_cleared_by_the_answer() -> None:
    """A probe goes out at probe_interval and its answer re-arms the next one."""
    state = connected()
    state, actions = run([(2.1, TimerFired())], state)
    assert actions == [SendProbe()]
    state, _ = run([(2.2, ProbeAnswered())], state)
    assert state.probe_sent_at is None
    assert next_deadline(state, POLICY) == pytest.approx(4.1)


def test_unanswered_probe_drops_the_connection() -> None:
    """A probe unanswered for probe_timeout means a dead gateway: back off and reconnect."""
    state, _ = run([(2.1, TimerFired())], connected())
    state, actions = run([(8.1, TimerFired())], state)
    assert state.phase is Phase.BACKOFF
    assert CloseConnection() in actions
    assert "reqCurrentTime" in next(a for a in actions if isinstance(a, Report)).message


def test_link_lost_degrades_and_1102_restores_without_resubscribing() -> None:
    """1100 reports `degraded`; 1102 reports `connected` and keeps the subscriptions."""
    state, actions = run(
        [(1.0, LinkLost(1100, "lost")), (2.0, LinkRestored(1102, "kept", data_lost=False))],
        connected(),
    )
    assert reports(actions) == ["degraded", "connected"]
    assert ResubscribeAll() not in actions
    assert state.phase is Phase.CONNECTED


def test_1101_restores_and_resubscribes() -> None:
    """1101 reports `connected` with its code and re-subscribes everything."""
    state, actions = run(
        [(1.0, LinkLost(1100, "lost")), (2.0, LinkRestored(1101, "data lost", data_lost=True))],
        connected(),
    )
    assert actions[-2:] == [Report("connected", "data lost", 1101), ResubscribeAll()]
    assert state.gateway_state == "connected"


def test_client_id_in_use_retries_at_once_with_the_next_id() -> None:
    """326 closes the attempt and reconnects immediately with the next configured id."""
    state, actions = run([(0.0, Start()), (0.1, ClientIdRejected("in use"))])
    assert state.phase is Phase.BACKOFF and state.deadline == 0.1
    assert reports(actions)[-1] == "disconnected"
    state, actions = run([(0.1, TimerFired())], state)
    assert actions[-1] == OpenConnection(8)


def test_every_client_id_in_use_gives_up_with_a_clear_message() -> None:
    """When every configured id is refused the machine fails and says which ids it tried."""
    state, actions = run(
        [
            (0.0, Start()),
            (0.1, ClientIdRejected("in use")),
            (0.1, TimerFired()),
            (0.2, ClientIdRejected("in use")),
        ]
    )
    assert state.phase is Phase.FAILED
    give_up = actions[-1]
    assert isinstance(give_up, GiveUp) and "7, 8" in give_up.message
    assert run([(9.0, TimerFired()), (9.0, Start())], state)[1] == []


def test_a_session_resets_the_client_id_rejections() -> None:
    """After a successful session, a later 326 starts counting from zero again."""
    state, _ = run([(0.0, Start()), (0.1, ClientIdRejected("in use")), (0.1, TimerFired())])
    state, _ = run([(0.2, ApiReady(187)), (5.0, Dropped("closed"))], state)
    assert state.rejected == 0


def test_stop_closes_from_any_connected_phase_and_ends_the_machine() -> None:
    """Stop closes the socket and ignores every later event."""
    state, actions = run([(1.0, Stop())], connected())
    assert actions == [CloseConnection()]
    assert run([(2.0, Dropped("x")), (3.0, TimerFired())], state)[1] == []


def test_stop_during_backoff_has_nothing_to_close() -> None:
    """Stopping while waiting to reconnect needs no action."""
    state, _ = run([(0.0, Start()), (0.0, Dropped("refused"))])
    assert run([(0.5, Stop())], state)[1] == []


def test_drop_while_not_connected_is_ignored() -> None:
    """A late close notification during backoff does not schedule a second retry."""
    state, _ = run([(0.0, Start()), (0.0, Dropped("refused"))])
    again, actions = run([(0.1, Dropped("refused again"))], state)
    assert (again, actions) == (state, [])


def test_policy_rejects_nonsense() -> None:
    """A policy without client ids or with inverted backoff bounds is refused."""
    with pytest.raises(ValueError):
        Policy(client_ids=())
    with pytest.raises(ValueError):
        Policy(client_ids=(1,), backoff_initial=5.0, backoff_max=1.0)
