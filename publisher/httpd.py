"""The HTTP side: ``/metrics`` (Prometheus text), ``/healthz`` and ``/readyz``.

A small WSGI app on a threading server in a daemon thread. ``/readyz`` answers from a
readiness callable the service provides, so the rule lives next to the state it reads.
"""

import json
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    reason: str


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def parse_listen(listen: str) -> tuple[str, int]:
    """``"host:port"`` (IPv6 as ``[::1]:9700``) to a (host, port) pair."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)


class MetricsServer:
    """Serves the registry and the health endpoints until :meth:`close`."""

    def __init__(
        self, listen: str, registry: CollectorRegistry, readiness: Callable[[], Readiness]
    ) -> None:
        self._metrics_app = make_wsgi_app(registry)
        self._readiness = readiness
        host, port = parse_listen(listen)
        self._server = make_server(
            host, port, self._app, server_class=_ThreadingServer, handler_class=_QuietHandler
        )
        self.port = self._server.server_port
        self.address = f"{host}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="ibpub-metrics", daemon=True
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
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _json(start_response: StartResponse, status: str, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]
