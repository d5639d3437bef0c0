"""``host:port`` listen addresses for the ``ibsub`` commands (``--metrics-listen``). Pure.

The grammar is the publisher's (:func:`publisher.endpoints.parse_host_port`): a host (IPv6 in
brackets, ``[::1]:9701``) and a port 0..65535, 0 picking a free one. It is repeated here rather
than imported because the subscriber library may not import ``publisher`` (it ships to hosts
that run no publisher; an import-linter contract enforces it); a test checks that the two accept
exactly the same addresses and read them alike.
"""

import re
from typing import Final

MAX_PORT: Final = 65535
_PORT: Final = re.compile(r"[0-9]{1,5}")


def _unbracket(host: str) -> str | None:
    """The host without IPv6 brackets; None when it is empty, or an IPv6 address without
    brackets (where ``::1:9701`` would be ambiguous)."""
    if host.startswith("[") and host.endswith("]"):
        inner = host[1:-1]
        return inner if inner else None
    if not host or ":" in host or "[" in host or "]" in host:
        return None
    return host


def parse_listen(text: str) -> tuple[str, int]:
    """``"host:port"`` (IPv6 as ``[::1]:9701``) to (host, port); ValueError when malformed."""
    host, sep, port = text.rpartition(":")
    bare = _unbracket(host) if sep else None
    if bare is None or not _PORT.fullmatch(port) or int(port) > MAX_PORT:
        raise ValueError(f"expected HOST:PORT (e.g. 127.0.0.1:9701), got {text!r}")
    return bare, int(port)


def format_listen(host: str, port: int) -> str:
    """``host:port``, with brackets around an IPv6 host: the inverse of :func:`parse_listen`."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
