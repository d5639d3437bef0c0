"""The control socket: a ROUTER at ``control.listen`` (contract 1.1), its I/O only.

One frame in (a msgpack map), one frame out. This module reads requests within a per-turn
budget, decodes them and hands each on as ``(token, body, client)``: ``token`` numbers the
request so its reply can be sent whenever the decider produces it (a ``subscribe`` waits for
IB's qualification), ``client`` is who sent it for the rate limit and the holder binding (the
CURVE public key ZAP authenticated, else the connection's routing id). What the request means
is the decider's business (:mod:`publisher.core.control`).

A frame over :data:`MAX_REQUEST_BYTES` is answered ``bad_request`` without being decoded; one
over :data:`MAX_MESSAGE_BYTES` disconnects its sender (ZeroMQ's ``MAXMSGSIZE``), so memory stays
bounded. A frame that is not msgpack is answered ``bad_request`` too. A reply to a peer that is
gone or not reading is dropped (ROUTER never blocks).
"""

import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any, Final

import msgspec
import zmq

__all__ = [
    "MAX_MESSAGE_BYTES",
    "MAX_REQUEST_BYTES",
    "REQUESTS_PER_CALL",
    "ControlServer",
    "Garbage",
    "Handler",
]

log = logging.getLogger(__name__)

REQUESTS_PER_CALL: Final = 64
"""Requests read per service-loop turn at most: a flood waits for the next turns while the
gateway socket (and so the tick path) is served in between."""
MAX_REQUEST_BYTES: Final = 16_384
"""A request is a small map; a bigger one is refused (``bad_request``) undecoded."""
MAX_MESSAGE_BYTES: Final = 1 << 20
"""A message this big disconnects its sender before it is read (no reply: it is not a client)."""
MAX_PENDING: Final = 10_000
"""Requests waiting for a reply at most (a subscribe waits for IB); beyond, the oldest go."""
SEND_HWM: Final = 1000

Handler = Callable[[int, object, bytes], None]
"""Called with (token, decoded body or a :class:`Garbage`, client identity)."""


class Garbage:
    """A request frame that is not msgpack (the handler answers it ``bad_request``)."""

    __slots__ = ("problem",)

    def __init__(self, problem: str) -> None:
        self.problem = problem


class ControlServer:
    """A bound ROUTER answering control requests; only the service thread may use it."""

    def __init__(
        self,
        endpoint: str,
        handler: Handler,
        *,
        context: zmq.Context[Any],
        before_bind: Callable[[zmq.Socket[Any]], None] | None = None,
        curve: bool = False,
    ) -> None:
        self._handler = handler
        self._curve = curve
        self._decode = msgspec.msgpack.Decoder().decode
        self._encode = msgspec.msgpack.Encoder().encode
        self._next = 0
        self._envelopes: dict[int, list[bytes]] = {}
        self.refused: dict[str, int] = {}
        """Frames refused by reason (``too_large``, ``garbage``, ``slow_client``, ``overflow``):
        ibpub_refused_total{door="control"}."""
        self._socket: zmq.Socket[Any] = context.socket(zmq.ROUTER)
        try:
            self._socket.setsockopt(zmq.LINGER, 0)
            self._socket.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
            self._socket.setsockopt(zmq.SNDHWM, SEND_HWM)
            self._socket.setsockopt(zmq.ROUTER_MANDATORY, 1)  # a full queue tells us (counted)
            if before_bind is not None:
                before_bind(self._socket)
            self._socket.bind(endpoint)
            self.endpoint = self._socket.getsockopt_string(zmq.LAST_ENDPOINT)
        except BaseException:
            self._socket.close(linger=0)
            raise

    @property
    def socket(self) -> zmq.Socket[Any]:
        return self._socket

    @property
    def pending(self) -> int:
        """Requests read and not answered yet."""
        return len(self._envelopes)

    def on_readable(self) -> None:
        """Read and hand on waiting requests within this turn's budget; never blocks."""
        for _ in range(REQUESTS_PER_CALL):
            try:
                frames = self._socket.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            self._take(frames)

    def _take(self, frames: list[zmq.Frame]) -> None:
        *envelope, last = frames
        if not envelope:
            return  # cannot happen on a ROUTER
        client = envelope[0].bytes
        if self._curve:  # ZAP's User-Id: the client's authenticated public key (z85)
            with contextlib.suppress(zmq.ZMQError):
                client = str(last.get("User-Id")).encode()
        self._next += 1
        token = self._next
        self._envelopes[token] = [f.bytes for f in envelope]
        if len(self._envelopes) > MAX_PENDING:
            self._envelopes.pop(next(iter(self._envelopes)))
            self._refuse("overflow")
        body: object
        if len(last) > MAX_REQUEST_BYTES:
            body = Garbage(f"request too large ({len(last)} bytes; at most {MAX_REQUEST_BYTES})")
            self._refuse("too_large")
        else:
            try:
                body = self._decode(last.bytes)
            except (msgspec.DecodeError, ValueError) as exc:
                body = Garbage(f"not a msgpack map ({exc})")
                self._refuse("garbage")
        self._handler(token, body, client)

    def reply(self, token: int, body: Mapping[str, Any]) -> None:
        """Send the reply to request ``token`` (once; an unknown token is ignored)."""
        envelope = self._envelopes.pop(token, None)
        if envelope is None:
            return
        try:
            self._socket.send_multipart([*envelope, self._encode(body)], zmq.NOBLOCK)
        except zmq.Again:
            log.debug("control reply dropped: the client is not reading")
            self._refuse("slow_client")
        except zmq.ZMQError as exc:  # the client has gone (ROUTER_MANDATORY says so)
            if exc.errno != zmq.EHOSTUNREACH:
                raise

    def _refuse(self, reason: str) -> None:
        self.refused[reason] = self.refused.get(reason, 0) + 1

    def close(self) -> None:
        self._socket.close(linger=0)
