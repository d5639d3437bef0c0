"""The client side of the control socket (contract 1.1): ask the publisher for instruments.

The publisher answers on a ROUTER socket (``control.listen``, default ``tcp://127.0.0.1:7702``):
one msgpack map frame each way, ``v`` and ``op`` in every request. The requests and replies are
Structs of :mod:`subscribers.schema` (the one wire schema of both ends).

* Pure: :func:`instrument_from` (a config-style mapping, or a bare symbol meaning a US stock),
  the request encoders (:func:`encode_subscribe` ...), and :func:`decode_reply`, which returns the
  typed ok reply or raises :class:`ControlError`.
* :class:`ControlClient` is the blocking shell (scripts, ``ibsub request``, ``sub.request``);
  :class:`BackgroundCalls` never blocks: a :class:`~subscribers.client.Subscriber` polls it
  beside its SUB socket to renew leases and ask again after a publisher restart.

The contract has no request id, and a ``subscribe`` reply waits for IB to qualify the contract
while a ``renew`` is answered at once, so two requests in flight on one socket could be answered
out of order. Each socket here therefore has at most one request in flight.

Exceptions::

    Exception
     +-- ControlError        the publisher refused (``error`` is a contract code), or its reply
          |                  broke the contract (``error`` "bad_reply")
          +-- ControlTimeoutError no reply within the timeout (``error`` "timeout")
"""

import math
import os
import secrets
import socket as _socket
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Literal, Self, TypeAlias

import msgspec
import zmq

from subscribers.curve import CurveKeys
from subscribers.schema import (
    DEFAULT_DATA,
    SCHEMA_VERSION,
    Candidate,
    ControlInstrument,
    ControlReplyHead,
    ErrorReply,
    ListReply,
    ListRequest,
    RenewReply,
    RenewRequest,
    SubscribeReply,
    SubscribeRequest,
    UnsubscribeReply,
    UnsubscribeRequest,
)

DEFAULT_CONTROL_ENDPOINT: Final = "tcp://127.0.0.1:7702"
DEFAULT_CONTROL_TIMEOUT: Final = 10.0
"""Seconds to wait for a reply: a ``subscribe`` is answered once IB has qualified the contract."""
MAX_WAIT_MS: Final = 250
"""The longest single wait in ZeroMQ (a signal is handled within it; see client.MAX_POLL_MS)."""
BAD_REPLY: Final = "bad_reply"
TIMEOUT: Final = "timeout"

Op: TypeAlias = Literal["subscribe", "renew", "unsubscribe", "list"]
Reply: TypeAlias = SubscribeReply | RenewReply | UnsubscribeReply | ListReply
InstrumentLike: TypeAlias = Mapping[str, Any] | str | ControlInstrument
"""What a caller may name an instrument by: a config ``[[instruments]]`` table as a mapping,
a bare symbol (a US stock on SMART), or a :class:`~subscribers.schema.ControlInstrument`."""


class ControlError(Exception):
    """A control request that did not succeed: ``error`` is the contract's code (or
    ``bad_reply``/``timeout`` for failures on this side), ``candidates`` the contracts an
    ``ambiguous_contract`` description matched."""

    def __init__(self, error: str, message: str, candidates: Sequence[Candidate] = ()) -> None:
        super().__init__(f"{error}: {message}")
        self.error = error
        self.message = message
        self.candidates = tuple(candidates)

    @property
    def refused(self) -> bool:
        """True when the publisher answered with a refusal (not a timeout or a broken reply)."""
        return self.error not in (BAD_REPLY, TIMEOUT)


class ControlTimeoutError(ControlError):
    """No reply within the timeout (the publisher is down, or its control socket disabled)."""

    def __init__(self, endpoint: str, timeout: float) -> None:
        super().__init__(TIMEOUT, f"no reply from {endpoint} within {timeout:g} s")
        self.endpoint = endpoint


def default_client_name() -> str:
    """A holder name unique to this process and readable in ``ibsub lines``:
    ``host:pid:random``."""
    return f"{_socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def instrument_from(instrument: InstrumentLike) -> ControlInstrument:
    """The request's instrument; a bare symbol ``S`` means ``{"sec_type": "STK", "symbol": S,
    "exchange": "SMART", "currency": "USD"}``. ValueError for an unknown key or a wrong type."""
    if isinstance(instrument, ControlInstrument):
        return instrument
    if isinstance(instrument, str):
        if not instrument:
            raise ValueError("an instrument symbol cannot be empty")
        return ControlInstrument(
            sec_type="STK", symbol=instrument, exchange="SMART", currency="USD"
        )
    unknown = sorted(set(instrument) - set(ControlInstrument.__struct_fields__))
    if unknown:
        raise ValueError(f"unknown instrument keys: {', '.join(unknown)}")
    try:
        return msgspec.convert(dict(instrument), ControlInstrument)
    except msgspec.ValidationError as exc:
        raise ValueError(f"bad instrument: {exc}") from None


def describe_instrument(instrument: ControlInstrument) -> str:
    """A short name for messages: the key if given, else its sec_type, symbol and so on."""
    fields = msgspec.structs.asdict(instrument)
    if isinstance(fields.get("key"), str):
        return str(fields["key"])
    parts = [f"{value}" for value in fields.values() if value is not msgspec.UNSET]
    return " ".join(parts) or "(empty instrument)"


_encode: Final = msgspec.msgpack.Encoder().encode


def encode_subscribe(
    client: str,
    instrument: InstrumentLike,
    data: Sequence[str] = DEFAULT_DATA,
    lease: float | None = None,
) -> bytes:
    """A ``subscribe`` request (``lease`` None: the publisher's default)."""
    if isinstance(data, str):
        raise TypeError("data is a sequence of kind names, not one str")
    if lease is not None and not 0 < lease < math.inf:
        raise ValueError(f"a lease is a positive number of seconds, not {lease}")
    return _encode(
        SubscribeRequest(
            v=SCHEMA_VERSION,
            client=client,
            instrument=instrument_from(instrument),
            data=list(data),
            lease=msgspec.UNSET if lease is None else float(lease),
        )
    )


def encode_renew(client: str, keys: Sequence[str]) -> bytes:
    """A ``renew`` request for ``client``'s leases on ``keys``."""
    return _encode(RenewRequest(v=SCHEMA_VERSION, client=client, keys=list(keys)))


def encode_unsubscribe(client: str, keys: Sequence[str]) -> bytes:
    """An ``unsubscribe`` request releasing ``client``'s holds on ``keys``."""
    return _encode(UnsubscribeRequest(v=SCHEMA_VERSION, client=client, keys=list(keys)))


def encode_list() -> bytes:
    """A ``list`` request."""
    return _encode(ListRequest(v=SCHEMA_VERSION))


_decode_head: Final = msgspec.msgpack.Decoder(ControlReplyHead).decode
_decode_error: Final = msgspec.msgpack.Decoder(ErrorReply).decode
_REPLY_DECODERS: Final[dict[str, Callable[[bytes], Reply]]] = {
    "subscribe": msgspec.msgpack.Decoder(SubscribeReply).decode,
    "renew": msgspec.msgpack.Decoder(RenewReply).decode,
    "unsubscribe": msgspec.msgpack.Decoder(UnsubscribeReply).decode,
    "list": msgspec.msgpack.Decoder(ListReply).decode,
}


def decode_reply(op: Op, body: bytes) -> Reply:
    """The typed ok reply to an ``op`` request; :class:`ControlError` for a refusal (with the
    publisher's code, message and candidates) or a reply that breaks the contract."""
    try:
        head = _decode_head(body)
        if head.ok:
            return _REPLY_DECODERS[op](body)
        refusal = _decode_error(body)
    except msgspec.MsgspecError as exc:
        raise ControlError(BAD_REPLY, f"malformed {op} reply ({exc})") from None
    candidates = () if refusal.candidates is msgspec.UNSET else refusal.candidates
    raise ControlError(refusal.error, refusal.message, candidates)


def _dealer(endpoint: str, context: zmq.Context[Any], curve: CurveKeys | None) -> zmq.Socket[Any]:
    sock: zmq.Socket[Any] = context.socket(zmq.DEALER)
    try:
        sock.setsockopt(zmq.LINGER, 0)
        if curve is not None:
            curve.apply(sock)
        sock.connect(endpoint)
    except BaseException:
        sock.close(linger=0)
        raise
    return sock


class ControlClient:
    """A blocking client of the control socket: each call sends one request and waits up to
    ``timeout`` seconds for its reply (:class:`ControlTimeoutError` after; the socket is then
    replaced, so a late reply cannot be taken for the next request's)."""

    def __init__(
        self,
        endpoint: str = DEFAULT_CONTROL_ENDPOINT,
        *,
        context: zmq.Context[Any] | None = None,
        curve: CurveKeys | None = None,
        timeout: float = DEFAULT_CONTROL_TIMEOUT,
    ) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._curve = curve
        self._own_context = context is None
        self._context: zmq.Context[Any] = zmq.Context() if context is None else context
        self._socket: zmq.Socket[Any] | None = None

    def call_raw(self, body: bytes, timeout: float | None = None) -> bytes:
        """Send one request frame and return the reply frame."""
        limit = self.timeout if timeout is None else timeout
        if self._socket is None:
            self._socket = _dealer(self.endpoint, self._context, self._curve)
        sock = self._socket
        sock.send_multipart([b"", body])  # the empty delimiter: a REQ socket's envelope
        deadline = time.monotonic() + limit
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._reset()
                raise ControlTimeoutError(self.endpoint, limit)
            if sock.poll(min(MAX_WAIT_MS, math.ceil(remaining * 1000))):
                return bytes(sock.recv_multipart()[-1])

    def call(self, op: Op, body: bytes, timeout: float | None = None) -> Reply:
        """Send ``body`` (an ``op`` request) and decode the reply (raises ControlError)."""
        return decode_reply(op, self.call_raw(body, timeout))

    def subscribe(
        self,
        client: str,
        instrument: InstrumentLike,
        data: Sequence[str] = DEFAULT_DATA,
        lease: float | None = None,
    ) -> SubscribeReply:
        """Hold ``instrument`` for ``client``; the reply names its key and topics."""
        reply = self.call("subscribe", encode_subscribe(client, instrument, data, lease))
        assert isinstance(reply, SubscribeReply)  # decode_reply's type for "subscribe"
        return reply

    def renew(self, client: str, keys: Sequence[str]) -> RenewReply:
        """Extend ``client``'s leases on ``keys``."""
        reply = self.call("renew", encode_renew(client, keys))
        assert isinstance(reply, RenewReply)
        return reply

    def unsubscribe(
        self, client: str, keys: Sequence[str], timeout: float | None = None
    ) -> UnsubscribeReply:
        """Release ``client``'s holds on ``keys``."""
        reply = self.call("unsubscribe", encode_unsubscribe(client, keys), timeout)
        assert isinstance(reply, UnsubscribeReply)
        return reply

    def list(self) -> ListReply:
        """What the publisher holds, by whom, against its line budget."""
        reply = self.call("list", encode_list())
        assert isinstance(reply, ListReply)
        return reply

    def _reset(self) -> None:
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None

    def close(self) -> None:
        """Close the socket, and the context if this client made it."""
        self._reset()
        if self._own_context:
            self._context.term()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one background request ended: its ``reply``, or the ``error`` it met."""

    op: Op
    tag: object
    """What the caller attached to the request (e.g. the keys being renewed)."""
    reply: Reply | None = None
    error: ControlError | None = None


class BackgroundCalls:
    """Requests sent one at a time without ever blocking, for a caller with its own poll loop.

    :meth:`submit` queues a request; the caller polls :attr:`socket` (it changes after a
    timeout: see :attr:`generation`), calls :meth:`on_readable` when it is readable and
    :meth:`overdue` at :meth:`next_deadline`; both return the :class:`Outcome` of what ended.
    """

    def __init__(
        self,
        endpoint: str,
        context: zmq.Context[Any],
        curve: CurveKeys | None = None,
        timeout: float = DEFAULT_CONTROL_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._context = context
        self._curve = curve
        self._clock = clock
        self._socket: zmq.Socket[Any] | None = None
        self._queue: deque[tuple[Op, bytes, object]] = deque()
        self._in_flight: tuple[Op, object, float] | None = None

    @property
    def socket(self) -> zmq.Socket[Any]:
        """The DEALER socket (created on first use; replaced after a timeout)."""
        if self._socket is None:
            self._socket = _dealer(self.endpoint, self._context, self._curve)
        return self._socket

    @property
    def busy(self) -> bool:
        """True while a request is in flight or queued."""
        return self._in_flight is not None or bool(self._queue)

    def submit(self, op: Op, body: bytes, tag: object = None) -> None:
        """Queue one request; it is sent once every earlier one has ended."""
        self._queue.append((op, body, tag))
        self._send_next()

    def next_deadline(self) -> float:
        """When the request in flight times out (infinity when none is)."""
        return math.inf if self._in_flight is None else self._in_flight[2]

    def on_readable(self) -> list[Outcome]:
        """Read the waiting reply, if any, and send the next request."""
        if self._socket is None or self._in_flight is None:
            return []
        try:
            frames = self._socket.recv_multipart(zmq.NOBLOCK)
        except zmq.Again:
            return []
        op, tag, _ = self._in_flight
        self._in_flight = None
        try:
            outcome = Outcome(op, tag, reply=decode_reply(op, frames[-1]))
        except ControlError as exc:
            outcome = Outcome(op, tag, error=exc)
        self._send_next()
        return [outcome]

    def overdue(self, now: float) -> list[Outcome]:
        """The request in flight if it has timed out at ``now`` (the socket is then replaced)."""
        if self._in_flight is None or now < self._in_flight[2]:
            return []
        op, tag, _ = self._in_flight
        self._in_flight = None
        self._reset()
        outcome = Outcome(op, tag, error=ControlTimeoutError(self.endpoint, self.timeout))
        self._send_next()
        return [outcome]

    def _send_next(self) -> None:
        if self._in_flight is not None or not self._queue:
            return
        op, body, tag = self._queue.popleft()
        self.socket.send_multipart([b"", body])
        self._in_flight = (op, tag, self._clock() + self.timeout)

    def _reset(self) -> None:
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None

    def close(self) -> None:
        """Drop whatever is queued or in flight and close the socket."""
        self._queue.clear()
        self._in_flight = None
        self._reset()
