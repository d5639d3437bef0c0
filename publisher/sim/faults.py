"""Fault injection for the simulated gateway: the ways a real IB Gateway fails, on demand.

Every fault is a method of :class:`Faults` (one per gateway, as ``gateway.faults``), called on
the gateway's event loop: in tests through
``SimulatedGateway.call(lambda core: core.faults.drop_all())``, from the shell through
``ibpub sim --scenario AT:FAULT[=ARG]`` (see :mod:`publisher.sim.scenario`).

Faults act on the gateway only through :class:`FaultTarget` and :class:`FaultSession`, two small
Protocols the server implements, so this module imports nothing from the server (which imports
it) and reaches into none of its private state.

The server calls a few hooks (:meth:`Faults.admit_request`, :meth:`Faults.market_data_error`,
:meth:`Faults.client_id_reserved`, :meth:`Faults.stream_opened`, :meth:`Faults.stream_closed`,
:meth:`Faults.session_closed`) and skips ticks of :attr:`Faults.muted`; everything else lives here.

What a real gateway does that this does not reproduce is listed in ``docs/operations.md``.
"""

import asyncio
import collections
import logging
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from publisher.sim.protocol import DELAYED_MARKET_DATA_TYPES, V_PROTOBUF, ContractSpec, frame

log = logging.getLogger(__name__)

PACING_VIOLATION: Final = 100
PACING_WINDOW: Final = 1.0
IB_PACING_LIMIT: Final = 50
"""Messages per second a real gateway accepts from one client before error 100."""
_PACING_TEXT: Final = "Max rate of messages per second has been exceeded:max={limit} rec={got}"


class FaultSession(Protocol):
    """What a fault needs of one client connection (the server's ``Session``)."""

    conn_id: int
    silent: bool
    """While True, the session discards all output (the ``silent`` fault)."""

    @property
    def server_version(self) -> int | None:
        """The negotiated version, None before the handshake."""
        ...

    def send_raw(self, data: bytes) -> None:
        """Send bytes exactly as given."""
        ...

    def send_error(self, req_id: int, code: int, message: str) -> None:
        """Send an error/status message in the session's encoding."""
        ...

    def close(self) -> None:
        """Close after flushing what is queued."""
        ...

    def abort(self) -> None:
        """Drop the connection at once."""
        ...


class FaultTarget(Protocol):
    """What a fault needs of the gateway (the server's ``AsyncGateway``): its public seam."""

    @property
    def sessions(self) -> Sequence[FaultSession]:
        """Connected sessions, oldest first."""
        ...

    def burst(self, count: int) -> int:
        """Send ``count`` ticks at once beyond the paced rate; returns how many went out."""
        ...

    def stop_listening(self) -> bool:
        """Close the listener so connects are refused; False if it was not listening."""
        ...

    async def listen_again(self) -> bool:
        """Listen again on the same address and port; False if the gateway has closed."""
        ...


@dataclass(frozen=True, slots=True)
class _Stream:
    session: FaultSession
    req_id: int
    symbol: str


class Faults:
    """The fault switches of one simulated gateway and the hooks its sessions call."""

    def __init__(self, gateway: FaultTarget, clock: Callable[[], float] = time.monotonic):
        self._gateway = gateway
        self._clock = clock
        self.pacing_limit: int | None = None
        """Requests per second per client before error 100 and a disconnect (None: off)."""
        self.muted: set[int] = set()
        """Market subscription ids whose ticks are not sent (the instrument "stops ticking")."""
        self._muted_symbols: set[str] = set()
        self._reserved_ids: set[int] = set()
        self._market_data_errors: dict[str, tuple[int, str]] = {}
        self._streams: dict[int, _Stream] = {}
        self._requests: dict[int, collections.deque[float]] = {}
        self._timers: list[asyncio.TimerHandle] = []
        self._reopen: asyncio.Task[None] | None = None
        self.refused_until = 0.0

    # -- faults ------------------------------------------------------------------------------

    def drop_all(self) -> int:
        """Reset every client connection at once (a gateway crash); returns how many."""
        sessions = self._gateway.sessions
        for session in sessions:
            session.abort()
        log.warning("fault: dropped %d connections", len(sessions))
        return len(sessions)

    def refuse_for(self, seconds: float) -> None:
        """Drop every connection and stop listening for ``seconds`` (a gateway restart):
        connection attempts are refused, then the listener comes back on the same port."""
        if self._reopen is not None or not self._gateway.stop_listening():
            return  # already refusing, or not listening at all
        self.drop_all()
        self.refused_until = self._clock() + seconds
        self._reopen = asyncio.get_running_loop().create_task(self._listen_again(seconds))
        log.warning("fault: refusing connections for %.1f s", seconds)

    def go_silent(self, seconds: float | None = None) -> None:
        """Stop answering and stop ticking on every connection, without closing them; back to
        normal after ``seconds`` (never, when None)."""
        sessions = self._gateway.sessions
        for session in sessions:
            session.silent = True
        log.warning("fault: %d connections silent for %s s", len(sessions), seconds)
        if seconds is not None:
            self.call_later(seconds, lambda: self._speak_again(sessions))

    def send_error(self, code: int, message: str = "", symbol: str | None = None) -> int:
        """Send an error/status code to every client: globally (id -1) or, with ``symbol``, on
        each market data request for that symbol. Returns how many messages went out."""
        text = message or f"simulated error {code}"
        sent = 0
        if symbol is None:
            for session in self._gateway.sessions:
                session.send_error(-1, code, text)
                sent += 1
        else:
            for stream in list(self._streams.values()):
                if stream.symbol == symbol:
                    stream.session.send_error(stream.req_id, code, text)
                    sent += 1
        log.warning("fault: sent error %d (%s) %d times", code, symbol or "global", sent)
        return sent

    def reject_market_data(self, symbol: str, code: int, message: str = "") -> None:
        """Answer every later live-data reqMktData for ``symbol`` with ``code`` instead of data
        (354 no permission, 101 max tickers, ...). Delayed requests still stream."""
        self._market_data_errors[symbol] = (code, message or f"simulated error {code}")

    def reserve_client_id(self, client_id: int) -> None:
        """Treat ``client_id`` as held by another client: startApi with it gets error 326."""
        self._reserved_ids.add(client_id)

    def release_client_id(self, client_id: int) -> None:
        """Undo :meth:`reserve_client_id`."""
        self._reserved_ids.discard(client_id)

    def mute(self, symbol: str) -> None:
        """Stop sending ticks for ``symbol`` (its streams stay open); new streams stay mute."""
        self._muted_symbols.add(symbol)
        self.muted.update(s for s, stream in self._streams.items() if stream.symbol == symbol)

    def unmute(self, symbol: str) -> None:
        """Undo :meth:`mute`."""
        self._muted_symbols.discard(symbol)
        self.muted.difference_update(
            s for s, stream in self._streams.items() if stream.symbol == symbol
        )

    def send_garbage(self) -> int:
        """Send well-framed frames the client cannot decode: an unknown message id, a tick with
        a field that does not parse, non-UTF-8 bytes. Framing stays intact."""
        count = 0
        for session in self._gateway.sessions:
            if session.server_version is None:
                continue
            for payload in garbage_payloads(session.server_version):
                session.send_raw(frame(payload))
            count += 1
        log.warning("fault: sent garbage frames to %d connections", count)
        return count

    def flood(self, ticks: int) -> int:
        """Send ``ticks`` ticks at once on top of the paced stream, as a gateway replaying a
        backlog (market open, a reconnect) does: more than a client can read in a moment."""
        if ticks < 1:
            raise ValueError(f"flood needs a positive tick count, got {ticks}")
        sent = self._gateway.burst(ticks)
        log.warning("fault: flooded %d ticks at once", sent)
        return sent

    def send_oversized(self) -> int:
        """Send a length prefix no real frame has (2 GiB): the framing is lost for good."""
        sessions = self._gateway.sessions
        for session in sessions:
            session.send_raw(struct.pack(">I", 0x7FFFFFFF) + b"\x00" * 16)
        log.warning("fault: sent an oversized length to %d connections", len(sessions))
        return len(sessions)

    def send_truncated(self) -> int:
        """Send the start of a frame and close the connection in the middle of it."""
        sessions = self._gateway.sessions
        for session in sessions:
            session.send_raw(struct.pack(">I", 200) + b"1\x006\x00")
            session.close()
        log.warning("fault: truncated a frame on %d connections", len(sessions))
        return len(sessions)

    def cancel(self) -> None:
        """Cancel pending timers (the gateway is closing)."""
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._reopen is not None:
            self._reopen.cancel()

    # -- hooks the server calls --------------------------------------------------------------

    def admit_request(self, session: FaultSession) -> bool:
        """Count one request; False (after error 100 and a close) when the client is too fast."""
        limit = self.pacing_limit
        if limit is None:
            return True
        now = self._clock()
        stamps = self._requests.setdefault(session.conn_id, collections.deque())
        stamps.append(now)
        while stamps and now - stamps[0] >= PACING_WINDOW:
            stamps.popleft()
        if len(stamps) <= limit:
            return True
        log.warning(
            "fault: pacing violation conn=%d: %d requests in 1 s (max %d)",
            session.conn_id,
            len(stamps),
            limit,
        )
        session.send_error(-1, PACING_VIOLATION, _PACING_TEXT.format(limit=limit, got=len(stamps)))
        session.close()
        return False

    def market_data_error(self, symbol: str, market_data_type: int) -> tuple[int, str] | None:
        """The error to answer a live reqMktData for ``symbol`` with, if one is scripted."""
        if market_data_type in DELAYED_MARKET_DATA_TYPES:
            return None
        return self._market_data_errors.get(symbol)

    def client_id_reserved(self, client_id: int) -> bool:
        """Whether startApi with this id must be refused with 326."""
        return client_id in self._reserved_ids

    def stream_opened(
        self, sub_id: int, session: FaultSession, req_id: int, spec: ContractSpec
    ) -> None:
        """A market data stream opened; it is muted at once if its symbol is."""
        symbol = spec.local_symbol or spec.symbol
        self._streams[sub_id] = _Stream(session, req_id, symbol)
        if symbol in self._muted_symbols or spec.symbol in self._muted_symbols:
            self.muted.add(sub_id)

    def stream_closed(self, sub_id: int) -> None:
        """A market data stream closed."""
        self._streams.pop(sub_id, None)
        self.muted.discard(sub_id)

    def session_closed(self, session: FaultSession) -> None:
        """A connection closed: forget its request count."""
        self._requests.pop(session.conn_id, None)

    # -- internals ---------------------------------------------------------------------------

    def call_later(self, seconds: float, fn: Callable[[], None]) -> None:
        """Run ``fn`` after ``seconds`` on the running loop; cancelled by :meth:`cancel`."""
        self._timers.append(asyncio.get_running_loop().call_later(seconds, fn))

    @staticmethod
    def _speak_again(sessions: Sequence[FaultSession]) -> None:
        for session in sessions:
            session.silent = False
        log.warning("fault: silence over")

    async def _listen_again(self, seconds: float) -> None:
        try:
            await asyncio.sleep(seconds)
            if await self._gateway.listen_again():
                log.warning("fault: listening again")
        finally:
            self._reopen = None


def garbage_payloads(server_version: int) -> list[bytes]:
    """Frames a client cannot decode, in the encoding of ``server_version``."""

    def message(msg_id: int, fields: list[bytes]) -> bytes:
        body = b"".join(f + b"\0" for f in fields)
        if server_version >= V_PROTOBUF:  # raw 4-byte message ids
            return struct.pack(">I", msg_id) + body
        return str(msg_id).encode() + b"\0" + body

    return [
        message(9999, [b"1", b"junk"]),  # unknown message id
        message(1, [b"6", b"not-a-number", b"1", b"abc", b"xyz", b"7"]),  # tickPrice, bad fields
        message(4, [b"2", b"-1", b"\xff\xfe\xfd", b"\xc3\x28"]),  # error, not UTF-8
    ]
