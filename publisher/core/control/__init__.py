"""The control decider (contract 1.1, "Control: on-demand instruments"), pure: requests as
values (:mod:`.requests`), the holdings book over the subscription machine (:mod:`.book`) and
per-client rate limits (:mod:`.ratelimit`)."""

from publisher.core.control.book import (
    AMBIGUOUS_CONTRACT,
    BUDGET_EXCEEDED,
    KEY_CONFLICT,
    UNAUTHORISED,
    UNKNOWN_CONTRACT,
    ControlPolicy,
    Holdings,
    Outcome,
    Reply,
    error_body,
)
from publisher.core.control.ratelimit import RateLimiter
from publisher.core.control.requests import (
    BAD_REQUEST,
    ListRequest,
    Refusal,
    RenewRequest,
    Request,
    SubscribeRequest,
    UnsubscribeRequest,
    parse_request,
)

RATE_LIMITED = "rate_limited"

__all__ = [
    "AMBIGUOUS_CONTRACT",
    "BAD_REQUEST",
    "BUDGET_EXCEEDED",
    "KEY_CONFLICT",
    "RATE_LIMITED",
    "UNAUTHORISED",
    "UNKNOWN_CONTRACT",
    "ControlPolicy",
    "Holdings",
    "ListRequest",
    "Outcome",
    "RateLimiter",
    "Refusal",
    "RenewRequest",
    "Reply",
    "Request",
    "SubscribeRequest",
    "UnsubscribeRequest",
    "error_body",
    "parse_request",
]
