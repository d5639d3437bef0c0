"""A fault schedule from a seed (pure): the same seed gives the same faults, in the same order,
with the same arguments, so a failing seed replays exactly (``python -m tests.chaos.run
--seed N``).

Each :class:`Fault` is one of :data:`KINDS`; the driver (:mod:`tests.chaos.driver`) carries it
out through the simulated gateway's :class:`~publisher.sim.faults.Faults` (or, for
``sigterm``, on the publisher process) and waits for recovery before the next one.
"""

import random
from dataclasses import dataclass
from typing import Final

KINDS: Final = (
    "drop",  # every connection reset (a gateway crash)
    "refuse",  # connections refused for a while (a gateway restart)
    "silent",  # the gateway stalls: no answers, no ticks, connection open
    "truncated",  # half a frame, then the connection closes
    "garbage",  # well-framed frames nobody can decode
    "oversized",  # a length prefix no frame has: framing lost
    "1100-1101",  # connectivity lost, restored with data lost (re-subscribe)
    "1100-1102",  # connectivity lost, restored with data kept
    "farm",  # market data farm notices 2103/2104/2105/2106
    "326",  # client id in use on the reconnect, freed later
    "10197",  # competing live session on one instrument
    "flood",  # a burst far above the paced rate
    "slow_reader",  # a subscriber that stops reading
    "sigterm",  # the publisher is stopped (SIGTERM) and started again
)
FARM_CODES: Final = (2103, 2104, 2105, 2106)
SYMBOLS: Final = ("AAPL", "MSFT")


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault: its kind and its argument (seconds, a code, a tick count or a symbol)."""

    kind: str
    arg: str = ""

    def __str__(self) -> str:
        return f"{self.kind}={self.arg}" if self.arg else self.kind


def make_schedule(seed: int, count: int) -> list[Fault]:
    """``count`` faults drawn from ``seed``."""
    rng = random.Random(seed)
    faults = []
    for _ in range(count):
        kind = rng.choice(KINDS)
        arg = ""
        if kind in ("refuse", "silent"):
            arg = f"{rng.uniform(0.5, 2.0):.2f}"
        elif kind == "farm":
            arg = str(rng.choice(FARM_CODES))
        elif kind == "10197":
            arg = rng.choice(SYMBOLS)
        elif kind == "flood":
            arg = str(rng.randrange(2_000, 20_000))
        elif kind == "326":
            arg = f"{rng.uniform(0.5, 1.5):.2f}"
        faults.append(Fault(kind, arg))
    return faults
