"""The latest status of every (scope, key): what ``sub.states`` shows (pure).

Contract 1.1 puts the latest status message of the gateway, the publisher and each instrument in
the snapshot reply (``states``), because a subscriber that joins late misses the status messages
sent before its subscription took effect (ZeroMQ's slow joiner): an instrument that ``failed``
before it joined would otherwise look merely quiet. Live status messages then update the table.

Newer wins: within one session the higher ``seq`` (status messages of one publisher share one
topic and so one sequence), across sessions the later ``ts``, so a held-back or repeated message
never overwrites a newer state.
"""

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final, TypeAlias

from subscribers.messages import Status

StateKey: TypeAlias = tuple[str, str | None]
"""(scope, key): ``("instrument", "AAPL")``, ``("gateway", None)``, ``("publisher", None)``."""
DELAYED: Final = "delayed"
FAILED: Final = "failed"
TROUBLE: Final = frozenset({FAILED, DELAYED, "stale"})
"""Instrument states worth showing beside quotes."""


class StateTable:
    """The latest :class:`~subscribers.messages.Status` per (scope, key)."""

    def __init__(self) -> None:
        self._states: dict[StateKey, Status] = {}
        self.view: Mapping[StateKey, Status] = MappingProxyType(self._states)
        """A read-only, live view of the table."""

    def apply(self, status: Status) -> bool:
        """Take ``status`` if it is newer than the one held for its (scope, key); True if so."""
        key = (status.scope, status.key)
        held = self._states.get(key)
        if held is not None:
            if held.sid == status.sid and held.pub == status.pub:
                if status.seq <= held.seq:
                    return False
            elif status.ts <= held.ts:
                return False
        self._states[key] = status
        return True

    def apply_all(self, statuses: Iterable[Status]) -> None:
        """Take each of ``statuses`` that is newer than what is held."""
        for status in statuses:
            self.apply(status)

    def instruments(self, states: Iterable[str] = TROUBLE) -> list[Status]:
        """Instrument statuses whose state is one of ``states``, by key."""
        return instruments_in(self.view, states)


def instruments_in(
    table: Mapping[StateKey, Status], states: Iterable[str] = TROUBLE
) -> list[Status]:
    """The instrument statuses of ``table`` (e.g. ``sub.states``) whose state is one of
    ``states`` (by default failed, delayed or stale), by key."""
    wanted = frozenset(states)
    found = [s for (scope, _), s in table.items() if scope == "instrument" and s.state in wanted]
    return sorted(found, key=lambda s: s.key or "")
