"""The holdings book: who holds which instrument, for how long, against the line budget. Pure.

The control decider of contract 1.1 ("Control: on-demand instruments"). It owns the
subscription machine (:class:`~publisher.core.subscriptions.Subscriptions`): control requests
(:meth:`Holdings.request`), the gateway's events (:meth:`Holdings.handle`) and time
(:meth:`Holdings.expire`) go in; the machine's actions and the replies to send come out as an
:class:`Outcome`. No sockets, no clocks: ``now`` (monotonic seconds) and ``wall_ns`` (epoch ns,
for ``lease_expires``) are passed in.

Rules, in the contract's words:

* A ``subscribe`` for a contract already held shares its subscription: same key and the same
  description, or the same ``con_id`` (given, or found by qualification). A key that would name
  another contract than the one using it is ``key_conflict``.
* A new contract is qualified first (asynchronous: the reply waits for ``DetailsEnded``); one
  match subscribes it, none is ``unknown_contract``, several ``ambiguous_contract`` with the
  candidates. A refused contract is removed at once and holds nothing.
* ``gateway.max_lines`` counts the lines in use (every instrument not failed, pinned ones too);
  a new contract beyond it is ``budget_exceeded`` at once and never reaches IB.
* A holder's lease runs out unless renewed; an instrument without holders is cancelled after
  ``control.grace``. Configured instruments are pinned: never cancelled.
* A client name is bound to the first CURVE key that uses it: another key gets
  ``unauthorised``, so one key cannot release another's lease.
"""

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from publisher.config import InstrumentSpec
from publisher.core.control.replies import (
    AMBIGUOUS_CONTRACT,
    BUDGET_EXCEEDED,
    KEY_CONFLICT,
    LIMIT_EXCEEDED,
    UNAUTHORISED,
    UNKNOWN_CONTRACT,
    ControlPolicy,
    Outcome,
    Reply,
    candidate,
    error_body,
    ok_body,
)
from publisher.core.control.requests import (
    ListRequest,
    Refusal,
    RenewRequest,
    Request,
    SubscribeRequest,
    UnsubscribeRequest,
)
from publisher.core.control.retries import Retries, RetryPolicy
from publisher.core.instruments import FAILED, PENDING, STREAMING, Instrument
from publisher.core.subscriptions import (
    Add,
    DetailsEnded,
    Extend,
    InstrumentStatus,
    Qualify,
    Remove,
    RequestCode,
    SessionLost,
    SubscriptionAction,
    SubscriptionEvent,
    Subscriptions,
)

__all__ = ["Holdings"]

_NS: Final = 1_000_000_000


@dataclass(frozen=True, slots=True)
class _Hold:
    expires: float
    expires_ns: int
    lease: float


@dataclass(frozen=True, slots=True)
class _Waiting:
    token: int
    client: str
    lease: float


def _contract(spec: InstrumentSpec) -> InstrumentSpec:
    """The spec without its data kinds: what names the contract."""
    return dataclasses.replace(spec, data=("l1",))


def _describe(spec: InstrumentSpec, con_id: int = 0) -> str:
    parts = [spec.sec_type, spec.symbol, spec.local_symbol, spec.last_trade_date]
    parts += [spec.exchange, spec.currency]
    conid = con_id or spec.con_id
    text = " ".join(p for p in parts if p)
    return f"{text} (conid {conid})" if conid else text


class Holdings:
    """Holders, leases and the line budget over one subscription machine."""

    def __init__(
        self,
        machine: Subscriptions,
        policy: ControlPolicy,
        pinned: Iterable[str] = (),
        *,
        retry: RetryPolicy | None = None,
        jitter: Callable[[], float] = lambda: 0.5,
    ) -> None:
        self.machine = machine
        self.retries = Retries(retry or RetryPolicy(), jitter)
        self.policy = policy
        self._pinned = frozenset(pinned)
        self._holders: dict[str, dict[str, _Hold]] = {}
        self._idle_since: dict[str, float] = {}
        self._waiting: dict[str, list[_Waiting]] = {}
        self._details: dict[int, str] = {}
        self._owners: dict[str, bytes] = {}

    # -- queries ---------------------------------------------------------------------------

    @property
    def lines_used(self) -> int:
        """IB market-data lines in use or asked for: every instrument not failed."""
        return sum(1 for inst in self.machine.instruments if inst.state != FAILED)

    @property
    def leases_active(self) -> int:
        return sum(len(holds) for holds in self._holders.values())

    def holders(self, key: str) -> tuple[str, ...]:
        return tuple(sorted(self._holders.get(key, {})))

    # -- gateway events ----------------------------------------------------------------------

    def handle(self, event: SubscriptionEvent, now: float, wall_ns: int) -> Outcome:
        """One event for the machine; a qualification it ends answers its waiting requests."""
        return self._watch(self._handle(event, now, wall_ns), now)

    def _handle(self, event: SubscriptionEvent, now: float, wall_ns: int) -> Outcome:
        if isinstance(event, SessionLost):  # its requests are void; the next session asks anew
            self._details.clear()
        key = None
        if isinstance(event, DetailsEnded | RequestCode):
            key = self._details.pop(event.req_id, None)
        if key is None:
            return self._machine(event, now)
        inst = self.machine.get(key)
        if inst is None:  # removed meanwhile
            return self._machine(event, now)
        if isinstance(event, RequestCode):  # 200 and friends answer a contract-details request
            actions = self.machine.handle(event, now)
            message = f"{_describe(inst.spec)}: IB error {event.code}: {event.message}"
            return self._refuse_waiting(key, UNKNOWN_CONTRACT, message, now, actions)
        matches = list(inst.matches)
        if len(matches) == 1:
            other = self._by_con_id(matches[0].con_id, besides=key)
            if other is not None:  # the same contract under another key: share it
                return self._join(key, other, now, wall_ns)
            actions = self.machine.handle(event, now)
            return self._answer_waiting(key, now, wall_ns, actions)
        if not matches:
            message = f"no contract matches {_describe(inst.spec)}"
            return self._refuse_waiting(key, UNKNOWN_CONTRACT, message, now, ())
        message = f"{len(matches)} contracts match {_describe(inst.spec)}: choose one by con_id"
        found = [candidate(m) for m in matches]
        return self._refuse_waiting(key, AMBIGUOUS_CONTRACT, message, now, (), candidates=found)

    # -- requests ----------------------------------------------------------------------------

    def request(
        self, token: int, req: Request, principal: bytes | None, now: float, wall_ns: int
    ) -> Outcome:
        """One parsed request from a client (``principal``: its CURVE key, if any)."""
        return self._watch(self._request(token, req, principal, now, wall_ns), now)

    def _request(
        self, token: int, req: Request, principal: bytes | None, now: float, wall_ns: int
    ) -> Outcome:
        if isinstance(req, ListRequest):
            return Outcome(replies=(Reply(token, req.op, self._list()),))
        bound = self._bind(req.client, principal)
        if bound is not None:
            return Outcome(replies=(Reply(token, req.op, error_body(bound.code, bound.message)),))
        if isinstance(req, RenewRequest):
            return Outcome(replies=(Reply(token, req.op, self._renew(req, now, wall_ns)),))
        if isinstance(req, UnsubscribeRequest):
            for key in req.keys:
                self._release(key, req.client, now)
            return Outcome(replies=(Reply(token, req.op, ok_body()),))
        return self._subscribe(token, req, now, wall_ns)

    def expire(self, now: float) -> Outcome:
        """Drop run-out leases; cancel what nobody has held for ``control.grace``; retry the
        failed instruments whose retry is due."""
        actions: list[SubscriptionAction] = self._retry(now)
        removed: list[str] = []
        for key, holds in list(self._holders.items()):
            for client in [c for c, hold in holds.items() if hold.expires <= now]:
                del holds[client]
            if holds or key in self._waiting:
                self._idle_since.pop(key, None)
                continue
            since = self._idle_since.setdefault(key, now)
            if now - since >= self.policy.grace:
                actions += self._forget(key, now)
                removed.append(key)
        return self._watch(Outcome(actions=tuple(actions), removed=tuple(removed)), now)

    # -- internals ---------------------------------------------------------------------------

    def _watch(self, outcome: Outcome, now: float) -> Outcome:
        """Note the failures to retry and the recoveries in what the machine said."""
        for action in outcome.actions:
            if isinstance(action, InstrumentStatus) and action.key in self.machine:
                if action.state == FAILED:
                    self.retries.failed(action.key, action.code, now)
                elif action.state in STREAMING:
                    self.retries.recovered(action.key)
        return outcome

    def _retry(self, now: float) -> list[SubscriptionAction]:
        actions: list[SubscriptionAction] = []
        lines_free = self.lines_used < self.policy.max_lines
        for key, code, attempt in self.retries.due(now, lines_free=lines_free):
            inst = self.machine.get(key)
            if inst is None or inst.state != FAILED:
                continue
            if code == 101 and self.lines_used >= self.policy.max_lines:
                self.retries.failed(key, code, now)  # the free line went to another retry
                continue
            text = f"retrying after IB code {code} (attempt {attempt})"
            actions += self.machine.handle(Remove(key), now)
            actions.append(InstrumentStatus(key, PENDING, text))
            actions += self.machine.handle(Add(inst.spec), now)
        return actions

    def _machine(self, event: SubscriptionEvent, now: float) -> Outcome:
        actions = self.machine.handle(event, now)
        self._note_qualifies(actions)
        return Outcome(actions=tuple(actions))

    def _note_qualifies(self, actions: Iterable[SubscriptionAction]) -> None:
        for action in actions:
            if isinstance(action, Qualify) and action.spec.key in self._waiting:
                self._details[action.req_id] = action.spec.key

    def _bind(self, client: str, principal: bytes | None) -> Refusal | None:
        if principal is None:
            return None
        owner = self._owners.setdefault(client, principal)
        if owner != principal:
            return Refusal(UNAUTHORISED, f"client {client!r} belongs to another key")
        return None

    def _by_con_id(self, con_id: int, *, besides: str = "") -> Instrument | None:
        if not con_id:
            return None
        for inst in self.machine.instruments:
            if inst.key != besides and inst.con_id == con_id and inst.state != FAILED:
                return inst
        return None

    def _hold(self, key: str, client: str, lease: float, now: float, wall_ns: int) -> _Hold:
        hold = _Hold(now + lease, wall_ns + int(lease * _NS), lease)
        self._holders.setdefault(key, {})[client] = hold
        self._idle_since.pop(key, None)
        return hold

    def _release(self, key: str, client: str, now: float) -> None:
        holds = self._holders.get(key)
        if holds is not None and holds.pop(client, None) is not None and not holds:
            self._idle_since.setdefault(key, now)

    def _forget(self, key: str, now: float) -> list[SubscriptionAction]:
        self.retries.forget(key)
        self._holders.pop(key, None)
        self._idle_since.pop(key, None)
        return self.machine.handle(Remove(key), now)

    def _subscribed(self, key: str, hold: _Hold) -> dict[str, Any]:
        inst = self.machine.get(key)
        assert inst is not None
        return ok_body(
            key=key,
            conid=inst.con_id,
            topics=inst.topics,
            state=str(inst.state),
            lease_expires=hold.expires_ns,
        )

    def _subscribe(self, token: int, req: SubscribeRequest, now: float, wall_ns: int) -> Outcome:
        spec, lease = req.spec, req.lease or self.policy.lease
        inst = self.machine.get(spec.key) or self._by_con_id(spec.con_id)
        actions: list[SubscriptionAction] = []
        if inst is not None:
            same = _contract(inst.spec) == _contract(spec) or bool(
                spec.con_id and spec.con_id == inst.con_id
            )
            if not same:
                message = (
                    f"key {inst.key!r} already names {_describe(inst.spec, inst.con_id)}; "
                    f"this request names {_describe(spec)} (give it another key)"
                )
                return Outcome(replies=(Reply(token, req.op, error_body(KEY_CONFLICT, message)),))
            if inst.key in self._waiting:  # still qualifying: answered with the first
                self._waiting[inst.key].append(_Waiting(token, req.client, lease))
                return Outcome()
            if inst.state != FAILED or inst.key in self._pinned:  # pinned: the config decides
                refused = self._over_limits(spec, inst)
                if refused is not None:
                    return Outcome(replies=(Reply(token, req.op, refused),))
                actions += self.machine.handle(Extend(inst.key, spec.kinds), now)
                hold = self._hold(inst.key, req.client, lease, now, wall_ns)
                reply = Reply(token, req.op, self._subscribed(inst.key, hold))
                return Outcome(actions=tuple(actions), replies=(reply,))
            # failed: a new request tries again, keeping its holders
            held = self._holders.get(inst.key, {})
            actions += self.machine.handle(Remove(inst.key), now)
            self._holders[spec.key] = held
        refused = self._over_limits(spec, None)
        if refused is not None:
            return Outcome(actions=tuple(actions), replies=(Reply(token, req.op, refused),))
        used, budget = self.lines_used, self.policy.max_lines
        if used >= budget:
            message = f"{used} of {budget} market-data lines in use (gateway.max_lines)"
            body = error_body(BUDGET_EXCEEDED, message)
            return Outcome(actions=tuple(actions), replies=(Reply(token, req.op, body),))
        self._waiting[spec.key] = [_Waiting(token, req.client, lease)]
        # Qualified first, a con_id too: the reply comes once IB has confirmed the contract.
        added = self.machine.handle(Add(spec, qualify=True), now)
        self._note_qualifies(added)
        actions += added
        return Outcome(actions=tuple(actions))

    def _over_limits(self, spec: InstrumentSpec, inst: Instrument | None) -> dict[str, Any] | None:
        """The ``limit_exceeded`` reply when ``spec``'s new streams would pass IB's per-kind
        limits (tick-by-tick, depth), else None. Streams ``inst`` already has are not new."""
        have = set(inst.streams) if inst is not None else set()
        for family, limit, name in (
            ("tbt", self.policy.max_tick_by_tick, "gateway.max_tick_by_tick"),
            ("depth", self.policy.max_depth, "gateway.max_depth"),
        ):
            new = [k.name for k in spec.kinds if k.family == family and k.name not in have]
            if not new:
                continue
            used = self.machine.streams_in_use(family)
            if used + len(new) > limit:
                message = (
                    f"{', '.join(new)}: {used} of {limit} {family} streams in use ({name}); "
                    "IB refuses more"
                )
                return error_body(LIMIT_EXCEEDED, message)
        return None

    def _answer_waiting(
        self, key: str, now: float, wall_ns: int, actions: Iterable[SubscriptionAction]
    ) -> Outcome:
        replies = []
        for waiting in self._waiting.pop(key, []):
            hold = self._hold(key, waiting.client, waiting.lease, now, wall_ns)
            replies.append(Reply(waiting.token, "subscribe", self._subscribed(key, hold)))
        return Outcome(actions=tuple(actions), replies=tuple(replies))

    def _join(self, key: str, other: Instrument, now: float, wall_ns: int) -> Outcome:
        """Answer ``key``'s waiting requests with ``other`` (the same contract, qualified),
        which takes on the data kinds they asked for."""
        waiting = self._waiting.pop(key, [])
        joining = self.machine.get(key)
        kinds = joining.spec.kinds if joining is not None else ()
        actions = self._forget(key, now)
        actions += self.machine.handle(Extend(other.key, kinds), now)
        replies = []
        for w in waiting:
            hold = self._hold(other.key, w.client, w.lease, now, wall_ns)
            replies.append(Reply(w.token, "subscribe", self._subscribed(other.key, hold)))
        return Outcome(actions=tuple(actions), replies=tuple(replies), removed=(key,))

    def _refuse_waiting(
        self,
        key: str,
        code: str,
        message: str,
        now: float,
        actions: Iterable[SubscriptionAction],
        **extra: Any,
    ) -> Outcome:
        """Remove a contract that did not qualify; answer its waiting requests ``code``."""
        waiting = self._waiting.pop(key, [])
        out = [*actions, *self._forget(key, now)]
        body = error_body(code, message, **extra)
        replies = tuple(Reply(w.token, "subscribe", body) for w in waiting)
        return Outcome(actions=tuple(out), replies=replies, removed=(key,))

    def _renew(self, req: RenewRequest, now: float, wall_ns: int) -> dict[str, Any]:
        missing = [k for k in req.keys if req.client not in self._holders.get(k, {})]
        if missing:
            return error_body(
                "bad_request", f"not held by {req.client!r}: {', '.join(missing)} (subscribe)"
            )
        expires = wall_ns + int(self.policy.lease * _NS)
        for key in req.keys:
            lease = self._holders[key][req.client].lease
            expires = self._hold(key, req.client, lease, now, wall_ns).expires_ns
        return ok_body(lease_expires=expires)

    def _list(self) -> dict[str, Any]:
        instruments = []
        for inst in self.machine.instruments:
            holds = self._holders.get(inst.key, {})
            instruments.append(
                {
                    "key": inst.key,
                    "conid": inst.con_id,
                    "data": inst.data,
                    "state": str(inst.state),
                    "pinned": inst.key in self._pinned,
                    "holders": sorted(holds),
                    "lease_expires": max((h.expires_ns for h in holds.values()), default=None),
                }
            )
        return ok_body(
            lines_used=self.lines_used, lines_budget=self.policy.max_lines, instruments=instruments
        )
