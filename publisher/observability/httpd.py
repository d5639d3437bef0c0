"""The HTTP side: ``/metrics`` (Prometheus text), ``/healthz`` and ``/readyz``.

A small WSGI app on a threading server in a daemon thread. ``/readyz`` answers from a
readiness callable the service provides, so the rule lives next to the state it reads.

The server is a door anyone on the network can knock on, so its threads are bounded: at most
:data:`MAX_CONNECTIONS` connections are served at once (one more is answered 503 and closed),
and each connection gets :data:`CLIENT_TIMEOUT` seconds per read or write, so a client that
sends nothing, or never reads its answer, frees its thread. Both refusals, and requests that
fail mid-way, are counted in ``ibpub_refused_total{door="http"}``
(:mod:`publisher.observability.refusals`).

| path | answer |
| --- | --- |
| ``/metrics`` (and ``/``) | the registry in Prometheus text format (gzip when asked for) |
| ``/healthz`` | 200 ``{"status": "ok"}`` while the process serves HTTP at all |
| ``/readyz`` | 200 or 503 with ``{"ready": bool, "reason": str}`` |
| anything else | 404 with ``{"error": ...}`` |
"""

import contextlib
import json
import logging
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import Any, Final
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from publisher.endpoints import HostPort, parse_host_port
from publisher.observability.refusals import Counts, RefusalCollector, Tally

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
JOIN_TIMEOUT: Final = 5.0
SHUTDOWN_POLL: Final = 0.1
"""How often the server thread checks for :meth:`MetricsServer.close` (socketserver polls):
bounds how long a stop waits for it, at ten cheap wake-ups a second."""


@dataclass(frozen=True, slots=True)
class Readiness:
    """Whether the service is ready to be sent traffic, and a short reason either way."""

    ready: bool
    reason: str


class WithoutCreatedSeries(Collector):
    """The source's metrics minus prometheus-client's ``*_created`` samples.

    Every counter and histogram would otherwise export a second series (``ibpub_ticks_created``
    per instrument, ...) holding its creation time: nothing in the contract, and twice the
    series for a large universe. Filtering here keeps the library's global switch untouched.
    """

    def __init__(self, source: Any) -> None:
        self._source = source  # a CollectorRegistry, or the RestrictedRegistry it hands out

    def collect(self) -> Iterable[Metric]:
        for metric in self._source.collect():
            samples = [s for s in metric.samples if not s.name.endswith("_created")]
            if len(samples) == len(metric.samples):
                yield metric
                continue
            trimmed = Metric(metric.name, metric.documentation, metric.type, metric.unit)
            trimmed.samples = samples
            yield trimmed

    def restricted_registry(self, names: Iterable[str]) -> "WithoutCreatedSeries":
        """What ``/metrics?name[]=...`` asks for, still without ``*_created``."""
        return WithoutCreatedSeries(self._source.restricted_registry(names))


MAX_CONNECTIONS: Final = 16
"""Connections served at once: a scrape, a probe or two, and room for several stuck clients."""
CLIENT_TIMEOUT: Final = 5.0
"""Seconds a connection may take per read or write before it is dropped (a slow client)."""
_BUSY: Final = (
    b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Content-Length: 18\r\nConnection: close\r\n\r\n"
    b'{"error": "busy"}\n'
)


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64  # a burst of connects waits to be accepted (or refused busy)
    refused: Tally
    slots: threading.BoundedSemaphore

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve on a thread if one of the :data:`MAX_CONNECTIONS` slots is free, else 503."""
        if not self.slots.acquire(blocking=False):
            self.refused.bump("busy")
            _refuse_busy(request)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection that failed mid-way: timed out (a slow client), reset: count it."""
        failure = sys.exc_info()[1]
        self.refused.bump("timeout" if isinstance(failure, TimeoutError) else "error")
        log.debug("http request failed", exc_info=True)


def _refuse_busy(request: socket.socket) -> None:
    try:
        request.settimeout(0)  # never wait on a client we are turning away
        request.send(_BUSY)
    except OSError:
        pass


class _ThreadingServer6(_ThreadingServer):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    timeout = CLIENT_TIMEOUT  # socketserver sets it on the connection: bounded reads and writes

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per scrape would drown the structured logs


class MetricsServer:
    """Serves the registry and the health endpoints until :meth:`close`."""

    def __init__(
        self,
        listen: str,
        registry: CollectorRegistry,
        readiness: Callable[[], Readiness],
        refusals: dict[str, Counts] | None = None,
    ) -> None:
        """Serve on ``listen`` (``host:port``, :func:`publisher.endpoints.parse_host_port`;
        raises :class:`~publisher.errors.EndpointError` when it does not parse). ``refusals``
        adds other doors' counts to ``ibpub_refused_total`` beside this server's own."""
        self._metrics_app = make_wsgi_app(WithoutCreatedSeries(registry))
        self._readiness = readiness
        address = parse_host_port(listen)
        # WSGIServer binds IPv4 unless told otherwise; "[::1]:9700" needs an IPv6 socket.
        server_class = _ThreadingServer6 if address.ipv6 else _ThreadingServer
        self._server = make_server(
            address.host,
            address.port,
            self._app,
            server_class=server_class,
            handler_class=_QuietHandler,
        )
        self.refused = Tally()
        self._server.refused = self.refused
        self._server.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._registry = registry
        self._refusals = RefusalCollector({"http": self.refused.counts, **(refusals or {})})
        registry.register(self._refusals)
        self.port: int = self._server.server_port
        self.address = str(HostPort(address.host, self.port))
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL},
            name="ibpub-metrics",
            daemon=True,
        )
        self._thread.start()
        log.info("metrics listening", extra={"address": self.address})

    def _app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/healthz":
            return _json(start_response, "200 OK", {"status": "ok"})
        if path == "/readyz":
            state = self._readiness()
            status = "200 OK" if state.ready else "503 Service Unavailable"
            return _json(start_response, status, {"ready": state.ready, "reason": state.reason})
        if path in ("/metrics", "/"):
            result: Iterable[bytes] = self._metrics_app(environ, start_response)
            return result
        return _json(start_response, "404 Not Found", {"error": f"no such path: {path}"})

    def close(self) -> None:
        """Stop serving, close the listening socket and join the server thread."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=JOIN_TIMEOUT)
        with contextlib.suppress(KeyError):  # closed once already
            self._registry.unregister(self._refusals)


def _json(start_response: StartResponse, status: str, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status,
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(data))),
            ("Cache-Control", "no-store"),  # a cached readiness answer is a wrong one
        ],
    )
    return [data]
