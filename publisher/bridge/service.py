"""``ibpub bridge``: the ZeroMQ bus copied into a JetStream stream, nothing lost silently.

Two asyncio tasks on one loop. The reader receives every bus message from the upstreams (one
SUB socket connected to each), turns it into messages to store (:class:`~.copier.Copier`) and
queues them (:class:`~.copier.OutageBuffer`, bounded). The sender publishes the queue in order
with ``publish_async``, at most ``nats.max_pending`` unacknowledged, awaits the batch's
acknowledgements and puts any that failed back at the front of the queue (same
``Nats-Msg-Id``, so a publish that was in fact stored is not stored twice). While NATS is away
the queue grows to ``bridge.max_buffered``, then the oldest are dropped, counted, and a ``gap``
is stored for them once NATS is back; the ``behind`` gauge and a log line say how far behind
the bridge is.

At start, a NATS that cannot be reached, refuses the credentials, or has a stream of that name
with other subjects is a configuration error (exit 2 naming the setting): a bridge that never
connected has nothing to keep. Once running, NATS going away is a reported state (metric, log,
``/readyz`` 503), and the client reconnects by itself.
"""

import asyncio
import contextlib
import functools
import logging
import ssl
import time
from typing import Any, Final

import msgspec
import zmq
import zmq.asyncio
from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from prometheus_client import CollectorRegistry

from publisher.bridge.copier import Copier, OutageBuffer, Stored, subject_for
from publisher.bridge.metrics import BridgeMetrics
from publisher.bridge.settings import BridgeConfig
from publisher.bridge.stream import ensure_stream
from publisher.errors import ConfigError
from publisher.observability.httpd import MetricsServer, Readiness

__all__ = ["EXIT_FATAL", "EXIT_OK", "BridgeService"]

EXIT_OK: Final = 0
EXIT_FATAL: Final = 1
ACK_TIMEOUT: Final = 5.0
"""Seconds an acknowledgement may take before the message is published again (same id)."""
SEND_BATCH: Final = 512
"""Messages the sender takes from the queue at a time (it yields between takes)."""
RETRY_PAUSE: Final = 0.2
CONNECT_TIMEOUT: Final = 3.0
DRAIN_TIMEOUT: Final = 10.0
"""Seconds a stop waits for what is queued to be stored."""
BEHIND_LOG_EVERY: Final = 5.0
RCVHWM: Final = 1_000_000
YIELD_EVERY: Final = 64
"""Messages the reader takes before it yields to the sender (see :meth:`BridgeService._read`)."""
SEED_TIMEOUT: Final = 2.0
"""Seconds to look up a topic's last stored message at its first sight after a start."""

log = logging.getLogger("publisher.bridge")


def _tls(config: BridgeConfig) -> ssl.SSLContext | None:
    n = config.nats
    if not (n.tls_ca or n.tls_cert):
        return None
    context = ssl.create_default_context(cafile=n.tls_ca or None)
    if n.tls_cert:
        context.load_cert_chain(n.tls_cert, n.tls_key)
    return context


class BridgeService:
    """Runs the bridge until :meth:`stop`; :meth:`run` returns the exit code."""

    def __init__(self, config: BridgeConfig, registry: CollectorRegistry | None = None) -> None:
        self.config = config
        self.registry = registry or CollectorRegistry()
        self.metrics = BridgeMetrics.create(self.registry, config.bridge.name)
        self.copier = Copier()
        self.buffer = OutageBuffer(config.bridge.max_buffered)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._wake: asyncio.Event | None = None
        self._in_flight = 0
        self._connected = False
        self._stop_requested = False
        self.server: MetricsServer | None = None
        self._label = config.bridge.name
        # computed at scrape time: what was received and is not yet acknowledged
        self.metrics.behind.labels(self._label).set_function(self._behind)
        m, label = self.metrics, self._label
        self._copied = m.copied.labels(label)
        self._acknowledged = m.acknowledged.labels(label)
        self._duplicates = m.duplicates.labels(label)
        self._publish_errors = m.publish_errors.labels(label)

    # -- control --------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the bridge to stop (from a signal handler or another thread)."""
        self._stop_requested = True
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)

    def run(self) -> int:
        return asyncio.run(self._main())

    def _readiness(self) -> Readiness:
        if self._connected:
            return Readiness(True, "connected to NATS")
        return Readiness(False, "not connected to NATS")

    # -- NATS -----------------------------------------------------------------------------
    async def _connect(self) -> NatsClient:
        n = self.config.nats
        source = self.config.source

        async def disconnected() -> None:
            self._set_connected(False)
            if not self._stop_requested:  # closing the connection at a stop reports it too
                log.warning("nats disconnected", extra={"behind": self._behind()})

        async def reconnected() -> None:
            self._set_connected(True)
            log.info("nats reconnected", extra={"behind": self._behind()})
            self._poke()

        async def error(exc: Exception) -> None:
            log.warning("nats error", extra={"error": type(exc).__name__})

        options: dict[str, Any] = {
            "servers": list(n.servers),
            "name": f"ibpub-bridge-{self.config.bridge.name}",
            "connect_timeout": CONNECT_TIMEOUT,
            "reconnect_time_wait": 0.5,
            "max_reconnect_attempts": -1,
            "allow_reconnect": True,
            "disconnected_cb": disconnected,
            "reconnected_cb": reconnected,
            "error_cb": error,
            "pending_size": 64 * 1024 * 1024,
        }
        if n.credentials:
            options["user_credentials"] = n.credentials
        if n.nkeys_seed:
            options["nkeys_seed"] = n.nkeys_seed
        tls = _tls(self.config)
        if tls is not None:
            options["tls"] = tls
        seen: list[Exception] = []

        async def first_error(exc: Exception) -> None:
            seen.append(exc)

        # First connection: each server tried twice, then a start error; after it, forever.
        client = NatsClient()
        try:
            await client.connect(
                **{**options, "max_reconnect_attempts": 1, "error_cb": first_error}
            )
        except (TimeoutError, NatsError, OSError) as exc:
            with contextlib.suppress(Exception):
                await client.close()
            raise self._start_error([*seen, exc], source) from None
        client.options["max_reconnect_attempts"] = -1
        client._error_cb = error  # nats-py keeps the callback here
        self._set_connected(True)
        return client

    def _start_error(self, errors: list[Exception], source: str) -> ConfigError:
        """The start error for every error the first connection met. A refusal of the
        credentials on any attempt wins: the server then closes the socket, so a later attempt
        (or the final exception) may only show a reset connection."""
        last = errors[-1]
        if any(
            "authorization" in str(exc).lower() or "auth" in type(exc).__name__.lower()
            for exc in errors
        ):
            key = next(
                (
                    k
                    for k, v in (
                        ("nats.credentials", self.config.nats.credentials),
                        ("nats.nkeys_seed", self.config.nats.nkeys_seed),
                    )
                    if v
                ),
                "nats.servers",
            )
            return ConfigError(
                source, key, "NATS refused the credentials (authorization violation)"
            )
        shown = self.config.nats.shown_servers
        return ConfigError(
            source, "nats.servers", f"cannot reach NATS at {shown} ({type(last).__name__})"
        )

    def _set_connected(self, up: bool) -> None:
        self._connected = up
        self.metrics.connected.labels(self._label).set(1 if up else 0)

    def _behind(self) -> int:
        return len(self.buffer) + self._in_flight

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    # -- the two tasks --------------------------------------------------------------------
    async def _main(self) -> int:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        if self._stop_requested:
            return EXIT_OK
        client = await self._connect()
        ctx = zmq.asyncio.Context()
        sock = ctx.socket(zmq.SUB)
        try:
            js = client.jetstream(publish_async_max_pending=self.config.nats.max_pending)
            verdict = await ensure_stream(js, self.config.nats, self.config.source)
            log.info(
                "stream ready",
                extra={"stream": self.config.nats.stream, "verdict": verdict},
            )
            self.server = MetricsServer(self.config.metrics.listen, self.registry, self._readiness)
            sock.setsockopt(zmq.RCVHWM, RCVHWM)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.SUBSCRIBE, b"")
            for endpoint in self.config.bridge.upstream:
                sock.connect(endpoint)
            log.info(
                "bridge running",
                extra={
                    "upstream": ",".join(self.config.bridge.upstream),
                    "nats": self.config.nats.shown_servers,
                },
            )
            reader = asyncio.create_task(self._read(sock, js))
            sender = asyncio.create_task(self._send(js))
            await self._stop.wait()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            await self._drain()
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            log.info("bridge stopped", extra={"unsent": self._behind()})
            return EXIT_OK
        finally:
            sock.close(0)
            ctx.term()
            if self.server is not None:
                self.server.close()
            with contextlib.suppress(Exception):
                await client.close()

    async def _drain(self) -> None:
        deadline = time.monotonic() + DRAIN_TIMEOUT
        while self._behind() and self._connected and time.monotonic() < deadline:
            self._poke()
            await asyncio.sleep(0.05)

    async def _seed(self, js: JetStreamContext, pub: str, topic: str, sid: int) -> None:
        """Look up the stream's last stored message of ``topic`` once, at its first sight."""
        try:
            last = await asyncio.wait_for(
                js.get_last_msg(self.config.nats.stream, subject_for(pub, topic)), SEED_TIMEOUT
            )
            head = msgspec.msgpack.decode(last.data or b"")
            stored_sid, stored_seq = int(head["sid"]), int(head["seq"])
        except (TimeoutError, NatsError, msgspec.DecodeError, KeyError, TypeError):
            return  # nothing stored yet (or unreadable): the topic starts here
        if stored_sid == sid:
            self.copier.seed(pub, topic, stored_sid, stored_seq)

    async def _read(self, sock: "zmq.asyncio.Socket", js: JetStreamContext) -> None:
        m = self.metrics
        label = self._label
        received, malformed = m.received.labels(label), m.malformed.labels(label)
        gaps, lost = m.gaps.labels(label), m.lost.labels(label)
        count = 0
        while True:
            frames = await sock.recv_multipart()
            count += 1
            if count % YIELD_EVERY == 0:
                # a ready socket's recv completes without suspending: let the sender run
                await asyncio.sleep(0)
            received.inc()
            if len(frames) != 2:
                malformed.inc()
                continue
            head = self.copier.head(frames[0], frames[1])
            if head is not None and not self.copier.knows(head[0], head[1]):
                await self._seed(js, *head)
            before_gaps, before_lost = self.copier.gaps, self.copier.lost
            items = self.copier.copy(frames[0], frames[1])
            if not items:
                malformed.inc()
                continue
            if self.copier.gaps != before_gaps:
                gaps.inc(self.copier.gaps - before_gaps)
                lost.inc(self.copier.lost - before_lost)
            dropped = self.buffer.dropped
            for item in items:
                self.buffer.put(item)
            if self.buffer.dropped != dropped:
                m.dropped.labels(label).inc(self.buffer.dropped - dropped)
            self._poke()

    async def _send(self, js: JetStreamContext) -> None:
        """Publish the queue in order, keeping up to ``nats.max_pending`` unacknowledged
        (``publish_async``'s own bound); each acknowledgement is handled as it comes."""
        assert self._wake is not None
        last_log = 0.0
        while True:
            if not len(self.buffer) and not self.buffer.has_gaps:
                self._wake.clear()
                await self._wake.wait()
                continue
            if not self._connected:
                now = time.monotonic()
                if now - last_log >= BEHIND_LOG_EVERY:
                    last_log = now
                    log.warning(
                        "nats away: buffering",
                        extra={"behind": self._behind(), "dropped": self.buffer.dropped},
                    )
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), 1.0)
                continue
            batch = self.buffer.take(SEND_BATCH)
            for index, item in enumerate(batch):
                try:
                    future = await js.publish_async(
                        item.subject, item.payload, headers=item.headers
                    )
                except NatsError:
                    self._failed(batch[index:])
                    await asyncio.sleep(RETRY_PAUSE)
                    break
                self._in_flight += 1
                self._copied.inc()
                handle = asyncio.get_running_loop().call_later(ACK_TIMEOUT, future.cancel)
                future.add_done_callback(functools.partial(self._done, item, handle))

    def _done(
        self, item: Stored, timer: asyncio.TimerHandle, future: "asyncio.Future[Any]"
    ) -> None:
        """One publish's outcome: acknowledged (maybe as a duplicate), or back in the queue."""
        timer.cancel()
        self._in_flight -= 1
        if future.cancelled() or future.exception() is not None:
            self._failed([item])
            return
        self._acknowledged.inc()
        if future.result().duplicate:
            self._duplicates.inc()

    def _failed(self, items: list[Stored]) -> None:
        self._publish_errors.inc(len(items))
        self.buffer.put_back(items)
        self._poke()
