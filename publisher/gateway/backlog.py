"""How far the reader is behind the gateway, and when that is worth saying out loud.

Most of a backlog is out of the publisher's sight: it waits in the gateway's send queue and
socket buffer, while the local receive buffer (``FIONREAD``, reported as
``ibpub_gateway_backlog_bytes``) stays near one TCP window. What the reader does see is whether
more data arrived while it decoded a read. A publisher that keeps up often finds the socket
empty once it has decoded a read; one that is behind (or reading flat out, at its limit) finds
data waiting after every read, and has been since the last read after which the socket was
empty. :class:`BacklogWatch` measures that time
(``ibpub_gateway_behind_seconds``) and turns it into two events: "behind" once it passes
:data:`BEHIND_AFTER`, and "caught up" at the next read after which the socket is empty.

The lag itself is bounded by TCP flow control (the gateway cannot send more than the buffers
hold) and by the liveness probe: a reqCurrentTime answer queued behind more than the probe
timeout's worth of backlog ends the connection, with a status saying so.
"""

from dataclasses import dataclass
from typing import Final

BEHIND_AFTER: Final = 1.0
"""Seconds of reads that all leave data waiting before the reader counts as behind (a burst that
drains faster is only a burst; docs/performance.md)."""


@dataclass(frozen=True, slots=True)
class BacklogChange:
    """The reader fell ``behind`` (True), or caught up (False), ``seconds`` after it last
    emptied the socket."""

    behind: bool
    seconds: float

    def message(self, unread_bytes: int) -> str:
        """The status message, given the bytes waiting here now."""
        if self.behind:
            return (
                f"reading the gateway flat out: data was waiting after every read for "
                f"{self.seconds:.1f} s, so ticks are delayed ({_amount(unread_bytes)} "
                f"waiting here, more may be queued at the gateway)"
            )
        return f"keeping up with the gateway again after {self.seconds:.1f} s flat out"


class BacklogWatch:
    """Tracks how long every read has left data waiting; feed it every read."""

    __slots__ = ("_after", "_behind", "_since")

    def __init__(self, behind_after: float = BEHIND_AFTER) -> None:
        if not behind_after > 0:
            raise ValueError(f"behind_after must be > 0 seconds, got {behind_after}")
        self._after = behind_after
        self._since: float | None = None  # the first read of the current run with data
        self._behind = False

    @property
    def behind(self) -> bool:
        return self._behind

    def behind_seconds(self, now: float) -> float:
        """How long every read has left data waiting (0 right after one emptied the socket)."""
        since = self._since
        return 0.0 if since is None else max(0.0, now - since)

    def observe(self, now: float, more_waiting: bool) -> BacklogChange | None:
        """One read at ``now`` (a monotonic clock) that left ``more_waiting`` in the socket or
        emptied it. Returns the change it makes, if any."""
        since = self._since
        if not more_waiting:
            self._since = None
            if self._behind:
                self._behind = False
                return BacklogChange(False, 0.0 if since is None else now - since)
            return None
        if since is None:
            self._since = now
            return None
        if not self._behind and now - since >= self._after:
            self._behind = True
            return BacklogChange(True, now - since)
        return None


def _amount(count: int) -> str:
    if count >= 1 << 20:
        return f"{count / (1 << 20):.1f} MiB"
    if count >= 1 << 10:
        return f"{count / (1 << 10):.0f} KiB"
    return f"{count} bytes"
