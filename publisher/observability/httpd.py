"""The HTTP side: ``/metrics`` (Prometheus text), ``/healthz`` and ``/readyz``.

A small WSGI app on a threading server in a daemon thread. ``/readyz`` answers from a
readiness callable the service provides, so the rule lives next to the state it reads.

| path | answer |
| --- | --- |
| ``/metrics`` (and ``/``) | the registry in Prometheus text format (gzip when asked for) |
| ``/healthz`` | 200 ``{"status": "ok"}`` while the process serves HTTP at all |
| ``/readyz`` | 200 or 503 with ``{"ready": bool, "reason": str}`` |
| anything else | 404 with ``{"error": ...}`` |
"""

import json
import logging
import socket
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


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _ThreadingServer6(_ThreadingServer):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per scrape would drown the structured logs


class MetricsServer:
    """Serves the registry and the health endpoints until :meth:`close`."""

    def __init__(
        self, listen: str, registry: CollectorRegistry, readiness: Callable[[], Readiness]
    ) -> None:
        """Serve on ``listen`` (``host:port``, :func:`publisher.endpoints.parse_host_port`;
        raises :class:`~publisher.errors.EndpointError` when it does not parse)."""
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
