"""The control decider's vocabulary: error codes, the reply and outcome values, its policy.
Pure."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from publisher.core.instruments import ContractMatch
from publisher.core.subscriptions import SubscriptionAction

__all__ = [
    "AMBIGUOUS_CONTRACT",
    "BUDGET_EXCEEDED",
    "KEY_CONFLICT",
    "LIMIT_EXCEEDED",
    "RATE_LIMITED",
    "UNAUTHORISED",
    "UNKNOWN_CONTRACT",
    "ControlPolicy",
    "Outcome",
    "Reply",
    "candidate",
    "error_body",
    "ok_body",
]

UNKNOWN_CONTRACT: Final = "unknown_contract"
AMBIGUOUS_CONTRACT: Final = "ambiguous_contract"
BUDGET_EXCEEDED: Final = "budget_exceeded"
KEY_CONFLICT: Final = "key_conflict"
LIMIT_EXCEEDED: Final = "limit_exceeded"
UNAUTHORISED: Final = "unauthorised"
RATE_LIMITED: Final = "rate_limited"


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The contract's error reply map."""
    return {"v": 1, "ok": False, "error": code, "message": message, **extra}


def ok_body(**keys: Any) -> dict[str, Any]:
    return {"v": 1, "ok": True, **keys}


@dataclass(frozen=True, slots=True)
class Reply:
    """One reply to send: to the request numbered ``token``, the map ``body``."""

    token: int
    op: str
    body: Mapping[str, Any]

    @property
    def outcome(self) -> str:
        """``ok`` or the error code (the request counter's label)."""
        return "ok" if self.body.get("ok") else str(self.body.get("error"))


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one input decided: the machine's actions, the replies, the keys cancelled."""

    actions: tuple[SubscriptionAction, ...] = ()
    replies: tuple[Reply, ...] = ()
    removed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ControlPolicy:
    """``control.lease``, ``control.grace``, ``gateway.max_lines`` and the per-kind limits
    ``gateway.max_tick_by_tick`` and ``gateway.max_depth``."""

    lease: float = 30.0
    grace: float = 60.0
    max_lines: int = 100
    max_tick_by_tick: int = 5
    max_depth: int = 3


def candidate(match: ContractMatch) -> dict[str, Any]:
    """One ``ambiguous_contract`` candidate (contract 1.1)."""
    return {
        "conid": match.con_id,
        "sec_type": match.sec_type,
        "symbol": match.symbol,
        "local_symbol": match.local_symbol,
        "last_trade_date": match.last_trade_date,
        "exchange": match.exchange,
        "currency": match.currency,
    }
