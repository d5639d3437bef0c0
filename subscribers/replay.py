"""History from NATS JetStream (contract 1.1, "History"): the bus as ``ibpub bridge`` stored it.

::

    with ReplaySubscriber("nats://127.0.0.1:4222", since=parse_time("-10m")) as sub:
        for msg in sub:          # the same Tick/Status/Heartbeat objects the live bus gives
            print(msg.topic, msg.seq)

Messages come in JetStream stream order (the order the bridge published them), from an
ordered consumer that starts at ``since``. Without ``follow`` the replay ends at the last
message the stream held when it opened (or at ``until``); with ``follow`` the same consumer
carries on with live messages, so the seam has no gap and no duplicate. The bridge's ``gap``
messages are reported as :class:`~subscribers.events.Gap` events (``detected_by`` ``"history"``
is not a bus source: they say ``"seq"``), and counted in :attr:`stats`.

The NATS client is asyncio; this class runs its own event loop, driven from :meth:`recv`.
"""

import asyncio
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final, Self

import msgspec
import nats
from nats.js.api import ConsumerConfig, DeliverPolicy

from subscribers.events import Event, Gap
from subscribers.messages import Message, WireError
from subscribers.schema import GapPayload
from subscribers.stats import SubscriberStats
from subscribers.wire import decode_payload

__all__ = [
    "DEFAULT_NATS",
    "DEFAULT_STREAM",
    "GapRecord",
    "ReplaySubscriber",
    "TimeError",
    "parse_time",
]

DEFAULT_NATS: Final = "nats://127.0.0.1:4222"
DEFAULT_STREAM: Final = "IBPUB"
_RELATIVE: Final = re.compile(r"-([0-9]+(?:\.[0-9]+)?)(s|m|h|d)")
_UNIT: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_GAP_DECODER: Final = msgspec.msgpack.Decoder(GapPayload)


class TimeError(ValueError):
    """A ``--since``/``--until`` that is neither ISO 8601 nor relative (``-15m``)."""


def parse_time(text: str, now_ns: int | None = None) -> int:
    """``-15m`` (s, m, h, d before now) or an ISO 8601 time (UTC when no offset) -> ns."""
    now = now_ns if now_ns is not None else int(datetime.now(UTC).timestamp() * 1e9)
    found = _RELATIVE.fullmatch(text.strip())
    if found:
        return now - int(float(found[1]) * _UNIT[found[2]] * 1e9)
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise TimeError(f"expected an ISO time or -N[smhd], got {text!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1e9)


@dataclass(frozen=True, slots=True)
class GapRecord:
    """A ``gap`` message as stored by the bridge, with the publisher it belongs to."""

    pub: str
    payload: GapPayload

    def jsonable(self) -> dict[str, object]:
        p = self.payload
        return {
            "v": p.v,
            "type": "gap",
            "pub": self.pub,
            "topic": p.topic,
            "sid": p.sid,
            "from_seq": p.from_seq,
            "to_seq": p.to_seq,
            "reason": p.reason,
        }


def _ignore(event: Event | GapRecord) -> None:
    pass


async def _quiet(exc: Exception) -> None:
    pass  # a failure reaches the caller as the exception nats.connect raises


class ReplaySubscriber:
    """Messages from a JetStream stream, with the :class:`~subscribers.client.Subscriber`'s
    reading interface (``recv``, iteration, ``stats``, ``close``, a context manager)."""

    def __init__(
        self,
        servers: str | Sequence[str] = DEFAULT_NATS,
        *,
        since: int,
        until: int | None = None,
        follow: bool = False,
        prefixes: Sequence[str] = (),
        stream: str = DEFAULT_STREAM,
        on_event: Callable[[Any], None] = _ignore,
        credentials: str | None = None,
    ) -> None:
        self._servers = [servers] if isinstance(servers, str) else list(servers)
        self._since, self._until, self._follow = since, until, follow
        self._prefixes = tuple(prefixes)
        self._stream = stream
        self._on_event = on_event
        self._credentials = credentials
        self._loop = asyncio.new_event_loop()
        self._nc: Any = None
        self._sub: Any = None
        self._last_seq = 0
        self._done = False
        self._received = self._malformed = self._gaps = self._lost = 0
        try:
            self._loop.run_until_complete(self._open())
        except BaseException:
            self.close()
            raise

    async def _open(self) -> None:
        options: dict[str, Any] = {
            "servers": self._servers,
            "max_reconnect_attempts": 1,
            "error_cb": _quiet,  # nats-py's default prints a traceback per failed attempt
        }
        if self._credentials:
            options["user_credentials"] = self._credentials
        self._nc = await nats.connect(**options)
        js = self._nc.jetstream()
        info = await js.stream_info(self._stream)
        self._last_seq = info.state.last_seq
        if not self._follow and (info.state.messages == 0 or info.state.last_seq == 0):
            self._done = True
            return
        start = datetime.fromtimestamp(self._since / 1e9, UTC)
        if not self._follow:
            # Nothing at or after ``since``: the consumer would deliver nothing, and waiting for
            # the stream's last message would wait for ever.
            last = await js.get_msg(self._stream, seq=info.state.last_seq)
            if last.time is not None and last.time < start:
                self._done = True
                return
        self._sub = await self._subscribe(js, start)

    async def _subscribe(self, js: Any, start: datetime) -> Any:
        config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=start)
        return await js.subscribe(
            "ibpub.>", stream=self._stream, ordered_consumer=True, config=config
        )

    @property
    def stats(self) -> SubscriberStats:
        return SubscriberStats(
            received=self._received, malformed=self._malformed, gaps=self._gaps, lost=self._lost
        )

    @property
    def finished(self) -> bool:
        """True once a replay without ``follow`` has delivered its last message."""
        return self._done

    def recv(self, timeout: float | None = None) -> Message | None:
        """The next message, or ``None`` at the end of the replay or after ``timeout``."""
        while not self._done:
            msg = self._loop.run_until_complete(self._next(timeout))
            if msg is None:
                return None
            found = self._take(msg)
            if found is not None:
                return found
        return None

    async def _next(self, timeout: float | None) -> Any:
        try:
            return await self._sub.next_msg(timeout=timeout if timeout is not None else 3600.0)
        except (TimeoutError, nats.errors.TimeoutError):
            return None

    def _take(self, raw: Any) -> Message | None:
        meta = raw.metadata
        if not self._follow and (meta.sequence.stream >= self._last_seq or meta.num_pending == 0):
            self._done = True
        ts = int(meta.timestamp.timestamp() * 1e9) if meta.timestamp else 0
        if self._until is not None and ts > self._until:
            self._done = True
            return None
        parts = raw.subject.split(".", 2)
        if len(parts) < 3:
            self._malformed += 1
            return None
        pub, topic = parts[1], parts[2]
        if topic.startswith("gap."):
            self._gap(pub, raw.data)
            return None
        if self._prefixes and not topic.startswith(self._prefixes):
            return None
        try:
            message = decode_payload(topic, raw.data)
        except WireError:
            self._malformed += 1
            return None
        self._received += 1
        return message

    def _gap(self, pub: str, data: bytes) -> None:
        try:
            gap = _GAP_DECODER.decode(data)
        except msgspec.DecodeError:
            self._malformed += 1
            return
        if self._prefixes and not gap.topic.startswith(self._prefixes):
            return
        self._gaps += 1
        self._lost += gap.to_seq - gap.from_seq + 1
        self._on_event(GapRecord(pub, gap))
        self._on_event(Gap(gap.topic, gap.sid, gap.from_seq, gap.to_seq, "seq"))

    def __iter__(self) -> Iterator[Message]:
        while True:
            msg = self.recv()
            if msg is None:
                return
            yield msg

    def close(self) -> None:
        """Close the NATS connection and this replay's event loop (idempotent)."""
        if self._loop.is_closed():
            return
        try:
            if self._nc is not None and not self._nc.is_closed:
                self._loop.run_until_complete(self._nc.close())
        except Exception:  # closing after a failure: nothing left to save
            pass
        finally:
            pending = asyncio.all_tasks(self._loop)
            for task in pending:
                task.cancel()
            if pending:
                gathered = asyncio.gather(*pending, return_exceptions=True)
                self._loop.run_until_complete(gathered)
            self._loop.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
