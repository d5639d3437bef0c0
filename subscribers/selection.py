"""Which topics one subscriber's caller asked for: pure, no sockets.

The SUB socket's subscriptions are ZeroMQ byte prefixes, so ``tick.ES`` also brings
``tick.ESZ6``; exact keys (and the instruments held on demand) must therefore be enforced here,
after the socket. The subscriber also subscribes, for itself, to status (for ``sub.states``) and
heartbeats (for liveness and lost tails): those are read but only delivered when one of the
caller's prefixes asks for them. :class:`Selection` answers both questions, per topic, and
remembers the answers (the set of topics is small, the message rate is not).
"""

from collections.abc import Iterable, Sequence
from typing import Final

from subscribers.schema import (
    BAR_PREFIX,
    DATA_PREFIXES,
    DEPTH_PREFIX,
    GREEKS_PREFIX,
    TBT_PREFIX,
    TICK_PREFIX,
)
from subscribers.snapshot import request_prefixes

DATA_NAMES: Final[dict[str, str]] = {
    "tick": TICK_PREFIX,
    "l1": TICK_PREFIX,
    "tbt": TBT_PREFIX,
    "depth": DEPTH_PREFIX,
    "bar": BAR_PREFIX,
    "bars": BAR_PREFIX,
    "greeks": GREEKS_PREFIX,
}
"""The names ``Subscriber(data=...)`` takes and the topic prefix each stands for (the topic
prefix without its dot, or the data kind's family: ``l1`` for ``tick``, ``bars`` for ``bar``)."""
DEFAULT_DATA_NAMES: Final = ("tick",)
_TICK_BYTES: Final = TICK_PREFIX.encode()
_NOT_FAST: Final = ("", "")


def data_prefixes(names: Iterable[str]) -> tuple[str, ...]:
    """The topic prefixes of ``data`` names; ValueError naming an unknown one."""
    if isinstance(names, str):
        raise TypeError("data is a sequence of names, not one str")
    out: list[str] = []
    for name in names:
        prefix = DATA_NAMES.get(name.split(":", 1)[0].strip().lower().rstrip("."))
        if prefix is None and name.startswith("tbt_"):
            prefix = TBT_PREFIX
        if prefix is None and name.startswith("bars_"):
            prefix = BAR_PREFIX
        if prefix is None:
            known = ", ".join(sorted(DATA_NAMES))
            raise ValueError(f"unknown data {name!r} (one of {known})")
        if prefix not in out:
            out.append(prefix)
    return tuple(out)


class Selection:
    """The caller's ``prefixes``, ``exact_keys`` and the topics held on demand."""

    __slots__ = (
        "_prefix_passes",
        "_wanted",
        "data",
        "exact_bytes",
        "exact_topics",
        "fast_ticks",
        "only_exact",
        "prefixes",
        "requested",
    )

    def __init__(
        self,
        prefixes: Sequence[str],
        exact_keys: Sequence[str],
        data: Sequence[str] = (TICK_PREFIX,),
    ) -> None:
        self.prefixes = tuple(dict.fromkeys(prefixes))
        self.data = tuple(data)
        """The data topic prefixes the exact keys are subscribed on (``tick.`` by default)."""
        self.exact_topics = frozenset(p + key for p in self.data for key in exact_keys)
        self.only_exact = bool(exact_keys)
        """Data topics are restricted to the exact keys (and the requested instruments)."""
        self.requested: set[str] = set()
        """Topics of instruments held on demand."""
        self.exact_bytes = {t.encode() for t in self.exact_topics}
        """Data topics always delivered: the exact keys' and the requested instruments'."""
        self._prefix_passes: dict[bytes, bool] = {}
        self._wanted: dict[str, bool] = {}
        self.fast_ticks: dict[bytes, tuple[str, str]] = {}
        """:meth:`fast_tick`'s answers (forgotten when the requested topics change; read
        directly on the hot path, falling back to :meth:`fast_tick` when a topic is new)."""

    def subscriptions(self) -> list[str]:
        """The caller's own SUB subscriptions: its prefixes, then its exact keys' topics."""
        return [*self.prefixes, *sorted(self.exact_topics)]

    def snapshot_prefixes(self) -> list[str]:
        """What to ask a snapshot for: every cached topic the caller subscribes to."""
        return request_prefixes([*self.prefixes, *self.exact_topics, *self.requested])

    def passes_prefix(self, topic: bytes) -> bool:
        """Whether a data topic outside the exact and requested ones is still wanted: only
        when no exact keys restrict data topics and one of the caller's prefixes matches it."""
        passes = self._prefix_passes.get(topic)
        if passes is None:
            passes = not self.only_exact and any(
                topic.startswith(p.encode()) for p in self.prefixes
            )
            self._prefix_passes[topic] = passes
        return passes

    def tracks(self, topic: str) -> bool:
        """Whether the caller's subscriptions (not the subscriber's own ``hb.``) ask for
        ``topic``: the topics it delivers and accounts for."""
        wanted = self._wanted.get(topic)
        if wanted is None:
            if topic in self.requested or topic in self.exact_topics:
                wanted = True
            elif self.only_exact and topic.startswith(DATA_PREFIXES):
                wanted = False
            else:
                wanted = any(topic.startswith(p) for p in self.prefixes)
            self._wanted[topic] = wanted
        return wanted

    def fast_tick(self, topic: bytes) -> tuple[str, str]:
        """(text, key) of a ``tick.`` topic the caller wants delivered and accounted for (not
        filtered out, tracked); ``("", "")`` for any other topic, or one that is not UTF-8 or
        has no key (those take the full path, which reports them). Remembered per topic."""
        known = self.fast_ticks.get(topic)
        if known is not None:
            return known
        answer = _NOT_FAST
        if topic.startswith(_TICK_BYTES) and len(topic) > len(_TICK_BYTES):
            try:
                text = topic.decode("utf-8")
            except UnicodeDecodeError:
                text = ""
            exact = self.exact_bytes  # as the intake's filter: exact topics, or a prefix's
            passes = not exact or topic in exact or self.passes_prefix(topic)
            if text and passes and self.tracks(text):
                answer = (text, text[len(TICK_PREFIX) :])
        self.fast_ticks[topic] = answer
        return answer

    def grant(self, topics: Iterable[str]) -> list[str]:
        """Add the topics of an instrument granted on demand; those not already requested."""
        joined = [topic for topic in dict.fromkeys(topics) if topic not in self.requested]
        for topic in joined:
            self.requested.add(topic)
            self.exact_bytes.add(topic.encode())
        self._wanted.clear()
        self.fast_ticks.clear()
        return joined

    def drop(self, topics: Iterable[str]) -> list[str]:
        """Remove a released instrument's topics; those to unsubscribe from (the ones the
        caller did not also ask for by ``exact_keys``)."""
        gone: list[str] = []
        for topic in topics:
            self.requested.discard(topic)
            if topic not in self.exact_topics:
                self.exact_bytes.discard(topic.encode())
                gone.append(topic)
        self._wanted.clear()
        self.fast_ticks.clear()
        return gone
