"""A recording turned into what to send: the recorded requests with their answers, and the
unsolicited frames (pure).

* Each client frame is parsed with the simulator's own request parser. A server frame that
  carries a request id (:mod:`~publisher.sim.replay.requestids`) is an answer to the latest
  recorded request with that id that opened something (a cancel does not: ticks still in flight
  after a recorded cancel stay with the subscription). A current time (49) or next valid id (9)
  right after a reqCurrentTime / reqIds is that request's answer.
* Frames without a request id, or with id -1, are unsolicited (managed accounts, next valid id,
  farm status, account and order traffic): sent in order from startApi on, at their recorded
  offsets. Frames whose id belongs to no recorded request are dropped and counted.

Matching (:meth:`Script.claim`) takes a live request and finds the first unclaimed recorded one
with answers that has the same content apart from the request id; failing that, for market data
and contract details, the same contract (conId when both give one, else symbol, security type
and currency). Each recorded request answers once per connection.
"""

import dataclasses
from dataclasses import dataclass, field
from typing import Final

from publisher.sim.protocol import (
    CancelMktData,
    MalformedRequestError,
    ReqContractDetails,
    ReqCurrentTime,
    ReqIds,
    ReqMktData,
    Request,
    StartApi,
    parse_request,
)
from publisher.sim.protocol.contracts import ContractQuery
from publisher.sim.replay.recording import Recording
from publisher.sim.replay.requestids import message_id, read_req_id

UNSOLICITED_ID: Final = -1
_REPLY_OF: Final[dict[type, int]] = {ReqCurrentTime: 49, ReqIds: 9}


@dataclass(frozen=True, slots=True)
class Answer:
    """A recorded server frame answering a request, ``offset_ns`` after it."""

    offset_ns: int
    payload: bytes
    req_id: int | None


@dataclass(slots=True)
class RecordedRequest:
    """One recorded client request and what the server said to it."""

    request: Request
    ts_ns: int
    answers: list[Answer] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Unsolicited:
    """A frame the server sent of its own accord, ``offset_ns`` after the first one."""

    offset_ns: int
    payload: bytes


def req_id_of(request: Request) -> int | None:
    """The request's id, None for requests that carry none."""
    value = getattr(request, "req_id", None)
    return value if isinstance(value, int) else None


def content_key(request: Request) -> Request:
    """The request with its id zeroed: equal keys mean equal content."""
    if req_id_of(request) is None:
        return request
    changed: Request = dataclasses.replace(request, req_id=0)  # type: ignore[arg-type]
    return changed


def _contract(request: Request) -> ContractQuery | None:
    if isinstance(request, ReqMktData | ReqContractDetails):
        return request.contract
    return None


def same_contract(a: ContractQuery, b: ContractQuery) -> bool:
    """The looser match: conId when both give one, else symbol, security type and currency."""
    if a.con_id and b.con_id:
        return a.con_id == b.con_id
    return (a.symbol, a.sec_type, a.currency) == (b.symbol, b.sec_type, b.currency) and bool(
        a.symbol
    )


@dataclass(slots=True)
class Script:
    """The recording, ready to serve."""

    recording: Recording
    requests: list[RecordedRequest]
    unsolicited: list[Unsolicited]
    dropped: int
    """Server frames with a request id no recorded request opened: not replayed."""
    unparsed: int
    """Client frames the request parser could not read (their answers are unsolicited)."""

    @property
    def server_version(self) -> int:
        return self.recording.server_version

    def claim(self, live: Request, taken: set[int]) -> RecordedRequest | None:
        """The recorded request answering ``live``; its index goes into ``taken``."""
        index = self.find(live, taken)
        if index is None:
            return None
        taken.add(index)
        return self.requests[index]

    def find(self, live: Request, taken: set[int]) -> int | None:
        """The index of the recorded request that would answer ``live`` (nothing taken)."""
        key = content_key(live)
        candidates = [(i, r) for i, r in enumerate(self.requests) if i not in taken and r.answers]
        for i, recorded in candidates:
            if content_key(recorded.request) == key:
                return i
        wanted = _contract(live)
        if wanted is None:
            return None
        for i, recorded in candidates:
            have = _contract(recorded.request)
            if type(recorded.request) is type(live) and have and same_contract(have, wanted):
                return i
        return None


def build_script(recording: Recording) -> Script:
    """Attribute every server frame of ``recording`` (see the module docstring)."""
    version = recording.server_version
    requests: list[RecordedRequest] = []
    owners: dict[int, RecordedRequest] = {}
    unsolicited: list[Unsolicited] = []
    dropped = unparsed = 0
    last: RecordedRequest | None = None
    first_server_ts: int | None = None
    for frame in recording.frames:
        if frame.from_client:
            try:
                request = parse_request(frame.payload, version)
            except MalformedRequestError:
                unparsed += 1
                last = None
                continue
            if isinstance(request, StartApi):
                continue
            recorded = RecordedRequest(request, frame.ts_ns)
            requests.append(recorded)
            req_id = req_id_of(request)
            if req_id is not None and not isinstance(request, CancelMktData):
                owners[req_id] = recorded
            last = recorded
            continue
        if first_server_ts is None:
            first_server_ts = frame.ts_ns
        req_id = read_req_id(frame.payload, version)
        if req_id is not None and req_id != UNSOLICITED_ID:
            owner = owners.get(req_id)
            if owner is None:
                dropped += 1
            else:
                owner.answers.append(
                    Answer(max(0, frame.ts_ns - owner.ts_ns), frame.payload, req_id)
                )
            continue
        if (
            last is not None
            and not last.answers
            and _is_reply(last.request, frame.payload, version)
        ):
            last.answers.append(Answer(max(0, frame.ts_ns - last.ts_ns), frame.payload, None))
            continue
        unsolicited.append(Unsolicited(frame.ts_ns - first_server_ts, frame.payload))
    return Script(recording, requests, unsolicited, dropped, unparsed)


def _is_reply(request: Request, payload: bytes, version: int) -> bool:
    expected = _REPLY_OF.get(type(request))
    if expected is None:
        return False
    try:
        return message_id(payload, version)[0] == expected
    except ValueError:
        return False
