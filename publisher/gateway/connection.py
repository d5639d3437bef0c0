"""The gateway connection's state machine: pure transitions from (state, event) to actions.

No sockets, no clocks, no randomness: :func:`transition` takes the current time and a jitter
draw as arguments and returns the next :class:`ConnState` with the :data:`Action` values the
service must carry out, in order. The service owns the I/O; this module owns every decision
about connecting, timing out, backing off, probing and rotating client ids.

::

    IDLE --Start--> CONNECTING --ApiReady--> CONNECTED <--LinkRestored-- DEGRADED
                        |                      |   \\--LinkLost------------^  |
                        | Dropped / timeout    | Dropped / probe timeout      |
                        v                      v                              |
                     BACKOFF <-----------------+------------------------------+
                        |  (capped exponential delay with jitter)
                        +--timer--> CONNECTING
    ClientIdRejected: reconnect at once with the next client id; all rejected -> FAILED
    Stop: any state -> STOPPED

The published gateway state (contract v1) is :attr:`ConnState.gateway_state`.
"""

from dataclasses import dataclass, replace
from enum import Enum


class Phase(Enum):
    """Where the connection stands."""

    IDLE = "idle"  # not started
    CONNECTING = "connecting"  # TCP connect and API handshake under way
    CONNECTED = "connected"  # API session up, IB reachable
    DEGRADED = "degraded"  # API session up, the gateway lost IB (1100)
    BACKOFF = "backoff"  # waiting before the next connection attempt
    FAILED = "failed"  # gave up (every client id in use)
    STOPPED = "stopped"


_GATEWAY_STATES = {
    Phase.IDLE: "disconnected",
    Phase.CONNECTING: "connecting",
    Phase.CONNECTED: "connected",
    Phase.DEGRADED: "degraded",
    Phase.BACKOFF: "disconnected",
    Phase.FAILED: "disconnected",
    Phase.STOPPED: "disconnected",
}
_SESSION_UP = frozenset({Phase.CONNECTED, Phase.DEGRADED})
_HAS_SOCKET = frozenset({Phase.CONNECTING, Phase.CONNECTED, Phase.DEGRADED})


@dataclass(frozen=True, slots=True)
class Policy:
    """The timing and identity settings the machine runs by (from ``[gateway]``)."""

    client_ids: tuple[int, ...]
    """The configured client id first, then the fallbacks tried after error 326."""
    connect_timeout: float = 10.0
    backoff_initial: float = 1.0
    backoff_max: float = 30.0
    probe_interval: float = 5.0
    probe_timeout: float = 15.0
    jitter: float = 0.2
    """Each backoff delay is scaled by a factor in [1 - jitter, 1 + jitter]."""

    def __post_init__(self) -> None:
        if not self.client_ids:
            raise ValueError("at least one client id is needed")
        if not 0 < self.backoff_initial <= self.backoff_max:
            raise ValueError("need 0 < backoff_initial <= backoff_max")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")


@dataclass(frozen=True, slots=True)
class ConnState:
    """Everything the machine remembers between events."""

    phase: Phase = Phase.IDLE
    deadline: float = 0.0
    """CONNECTING: give up at; BACKOFF: reconnect at."""
    backoff: float = 0.0
    """The base of the next backoff delay (0: not started yet)."""
    client_index: int = 0
    rejected: int = 0
    """Client ids rejected (326) in a row."""
    ever_connected: bool = False
    next_probe: float = 0.0
    probe_sent_at: float | None = None

    @property
    def gateway_state(self) -> str:
        """``connecting``, ``connected``, ``degraded`` or ``disconnected``."""
        return _GATEWAY_STATES[self.phase]

    @property
    def session_up(self) -> bool:
        """Whether requests may be sent (API session established)."""
        return self.phase in _SESSION_UP


# -- events --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Start:
    """Begin connecting."""


@dataclass(frozen=True, slots=True)
class TimerFired:
    """The loop's clock reached :func:`next_deadline` (or later)."""


@dataclass(frozen=True, slots=True)
class Dropped:
    """The connection failed or closed: refused, reset, closed, unframeable, not connected."""

    reason: str
    code: int | None = None


@dataclass(frozen=True, slots=True)
class ApiReady:
    """The gateway accepted the session (nextValidId arrived)."""

    server_version: int


@dataclass(frozen=True, slots=True)
class ProbeAnswered:
    """The gateway answered reqCurrentTime."""


@dataclass(frozen=True, slots=True)
class LinkLost:
    """The gateway lost its connection to IB (1100)."""

    code: int
    message: str


@dataclass(frozen=True, slots=True)
class LinkRestored:
    """The gateway is back in touch with IB (1101: data lost, 1102: data kept)."""

    code: int
    message: str
    data_lost: bool


@dataclass(frozen=True, slots=True)
class ClientIdRejected:
    """The gateway refused our client id (326)."""

    message: str


@dataclass(frozen=True, slots=True)
class Stop:
    """The publisher is shutting down."""


Event = (
    Start
    | TimerFired
    | Dropped
    | ApiReady
    | ProbeAnswered
    | LinkLost
    | LinkRestored
    | ClientIdRejected
    | Stop
)

# -- actions -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpenConnection:
    """Open a new connection to the gateway with this client id."""

    client_id: int


@dataclass(frozen=True, slots=True)
class CloseConnection:
    """Close the current connection (if any)."""


@dataclass(frozen=True, slots=True)
class ForgetRequests:
    """Every request of the closed connection is void: clear queues, instruments wait."""


@dataclass(frozen=True, slots=True)
class Report:
    """Publish a gateway status message and set ``ibpub_gateway_connected``."""

    state: str
    message: str
    code: int | None = None


@dataclass(frozen=True, slots=True)
class CountReconnect:
    """Increment ``ibpub_gateway_reconnects_total``."""


@dataclass(frozen=True, slots=True)
class SubscribeAll:
    """Set the market data type, qualify and subscribe every instrument (a new session)."""


@dataclass(frozen=True, slots=True)
class ResubscribeAll:
    """Cancel and re-request every subscription on the same session (1101)."""


@dataclass(frozen=True, slots=True)
class SendProbe:
    """Send reqCurrentTime."""


@dataclass(frozen=True, slots=True)
class GiveUp:
    """Nothing more can be tried: stop the publisher with an error."""

    message: str


Action = (
    OpenConnection
    | CloseConnection
    | ForgetRequests
    | Report
    | CountReconnect
    | SubscribeAll
    | ResubscribeAll
    | SendProbe
    | GiveUp
)
Step = tuple[ConnState, tuple[Action, ...]]


# -- transitions ---------------------------------------------------------------------------


def transition(
    state: ConnState, event: Event, policy: Policy, now: float, jitter: float = 0.5
) -> Step:
    """The next state and the actions to carry out, in order.

    ``now`` is a monotonic time in seconds; ``jitter`` is a uniform draw from [0, 1) that
    spreads backoff delays (so many publishers do not reconnect in lockstep).
    """
    if state.phase in (Phase.STOPPED, Phase.FAILED):
        return state, ()
    match event:
        case Stop():
            closing: tuple[Action, ...] = (CloseConnection(),) if _has_socket(state) else ()
            return replace(state, phase=Phase.STOPPED), closing
        case Start():
            if state.phase is Phase.IDLE:
                return _connect(replace(state, backoff=policy.backoff_initial), policy, now)
            return state, ()
        case TimerFired():
            return _on_timer(state, policy, now, jitter)
        case Dropped(reason=reason, code=code):
            if not _has_socket(state):
                return state, ()
            return _back_off(state, policy, now, jitter, reason, code)
        case ApiReady(server_version=version):
            if state.phase is not Phase.CONNECTING:
                return state, ()
            actions: list[Action] = []
            if state.ever_connected:
                actions.append(CountReconnect())
            actions += [
                Report("connected", f"API session up (server version {version})"),
                SubscribeAll(),
            ]
            up = replace(
                state,
                phase=Phase.CONNECTED,
                backoff=policy.backoff_initial,
                rejected=0,
                ever_connected=True,
                next_probe=now + policy.probe_interval,
                probe_sent_at=None,
            )
            return up, tuple(actions)
        case ProbeAnswered():
            return replace(state, probe_sent_at=None), ()
        case LinkLost(code=code, message=message):
            if state.phase is not Phase.CONNECTED:
                return state, ()
            return replace(state, phase=Phase.DEGRADED), (Report("degraded", message, code),)
        case LinkRestored(code=code, message=message, data_lost=data_lost):
            if not state.session_up:
                return state, ()
            restored: tuple[Action, ...] = (Report("connected", message, code),)
            if data_lost:
                restored += (ResubscribeAll(),)
            return replace(state, phase=Phase.CONNECTED), restored
        case ClientIdRejected(message=message):
            if not _has_socket(state):
                return state, ()
            return _next_client_id(state, policy, now, message)
    return state, ()  # pragma: no cover  # every event type is matched above


def next_deadline(state: ConnState, policy: Policy) -> float | None:
    """When :class:`TimerFired` must next be delivered (None: no timer pending)."""
    if state.phase in (Phase.CONNECTING, Phase.BACKOFF):
        return state.deadline
    if state.session_up:
        if state.probe_sent_at is not None:
            return state.probe_sent_at + policy.probe_timeout
        return state.next_probe
    return None


def _has_socket(state: ConnState) -> bool:
    return state.phase in _HAS_SOCKET


def _connect(state: ConnState, policy: Policy, now: float) -> Step:
    client_id = policy.client_ids[state.client_index]
    connecting = replace(
        state, phase=Phase.CONNECTING, deadline=now + policy.connect_timeout, probe_sent_at=None
    )
    return connecting, (
        Report("connecting", f"connecting with client id {client_id}"),
        OpenConnection(client_id),
    )


def _on_timer(state: ConnState, policy: Policy, now: float, jitter: float) -> Step:
    if state.phase is Phase.BACKOFF and now >= state.deadline:
        return _connect(state, policy, now)
    if state.phase is Phase.CONNECTING and now >= state.deadline:
        reason = f"no API session within {policy.connect_timeout:g} s"
        return _back_off(state, policy, now, jitter, reason, None)
    if not state.session_up:
        return state, ()
    if state.probe_sent_at is not None:
        if now - state.probe_sent_at >= policy.probe_timeout:
            reason = f"the gateway did not answer reqCurrentTime within {policy.probe_timeout:g} s"
            return _back_off(state, policy, now, jitter, reason, None)
        return state, ()
    if now >= state.next_probe:
        probing = replace(state, probe_sent_at=now, next_probe=now + policy.probe_interval)
        return probing, (SendProbe(),)
    return state, ()


def _back_off(
    state: ConnState, policy: Policy, now: float, jitter: float, reason: str, code: int | None
) -> Step:
    spread = 1.0 + policy.jitter * (2.0 * jitter - 1.0)
    delay = state.backoff * spread
    waiting = replace(
        state,
        phase=Phase.BACKOFF,
        deadline=now + delay,
        backoff=min(state.backoff * 2.0, policy.backoff_max),
        probe_sent_at=None,
    )
    return waiting, (
        CloseConnection(),
        ForgetRequests(),
        Report("disconnected", f"{reason}; retrying in {delay:.1f} s", code),
    )


def _next_client_id(state: ConnState, policy: Policy, now: float, message: str) -> Step:
    ids = policy.client_ids
    rejected_id = ids[state.client_index]
    rejected = state.rejected + 1
    if rejected >= len(ids):
        text = (
            f"every configured client id is in use ({', '.join(map(str, ids))}): {message}. "
            "Another program (or a previous ibpub that the gateway has not noticed is gone) "
            "holds them; set gateway.client_id or gateway.fallback_client_ids"
        )
        failed = replace(state, phase=Phase.FAILED, rejected=rejected)
        return failed, (
            CloseConnection(),
            ForgetRequests(),
            Report("disconnected", text, 326),
            GiveUp(text),
        )
    index = (state.client_index + 1) % len(ids)
    retry = replace(state, phase=Phase.BACKOFF, deadline=now, client_index=index, rejected=rejected)
    return retry, (
        CloseConnection(),
        ForgetRequests(),
        Report(
            "disconnected",
            f"client id {rejected_id} in use; retrying with client id {ids[index]}",
            326,
        ),
    )
