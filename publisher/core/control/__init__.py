"""The control decider (contract 1.1, "Control: on-demand instruments"), pure: requests as
values (:mod:`.requests`), replies and outcomes (:mod:`.replies`), the holdings book over the
subscription machine (:mod:`.book`), retries of failed instruments (:mod:`.retries`) and
per-client rate limits (:mod:`.ratelimit`)."""

from publisher.core.control.book import Holdings
from publisher.core.control.ratelimit import RateLimiter
from publisher.core.control.replies import (
    AMBIGUOUS_CONTRACT,
    BUDGET_EXCEEDED,
    KEY_CONFLICT,
    RATE_LIMITED,
    UNAUTHORISED,
    UNKNOWN_CONTRACT,
    ControlPolicy,
    Outcome,
    Reply,
    error_body,
)
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
