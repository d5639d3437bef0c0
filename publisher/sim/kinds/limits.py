"""IB's limits on the data kinds, shared by every session of one gateway, and their errors."""

from dataclasses import dataclass, field
from typing import Final

DEFAULT_MAX_TICK_BY_TICK: Final = 5
DEFAULT_MAX_DEPTH: Final = 3
DEFAULT_BAR_SECONDS: Final = 5.0
BAR_SIZE: Final = 5
"""The only real-time bar size IB serves (seconds)."""

MAX_TBT_CODE: Final = 10190
MAX_TBT_TEXT: Final = "Max number of tick-by-tick requests has been reached."
MAX_DEPTH_CODE: Final = 309
NO_DEPTH_CODE: Final = 10092
NO_DEPTH_TEXT: Final = (
    "Deep market data is not supported for this combination of security type/exchange"
)
BAD_TBT_TYPE_CODE: Final = 321
BAD_BAR_CODE: Final = 321


def max_depth_text(limit: int) -> str:
    """Error 309's text, which names the limit."""
    return f"Max number ({limit}) of market depth requests has been reached"


@dataclass(slots=True)
class DataLimits:
    """How many tick-by-tick and depth subscriptions may be live at once, and the bar period.

    ``bar_seconds`` is the wall-clock period of real-time bars; bars are labelled 5 s apart
    whatever it is (a test can ask for a bar every 0.2 s).
    """

    max_tick_by_tick: int = DEFAULT_MAX_TICK_BY_TICK
    max_depth: int = DEFAULT_MAX_DEPTH
    bar_seconds: float = DEFAULT_BAR_SECONDS
    tick_by_tick_live: int = field(default=0)
    depth_live: int = field(default=0)

    def __post_init__(self) -> None:
        if self.max_tick_by_tick < 0 or self.max_depth < 0:
            raise ValueError("max_tick_by_tick and max_depth must be >= 0")
        if not self.bar_seconds > 0:  # also rejects NaN
            raise ValueError(f"bar_seconds must be > 0, not {self.bar_seconds}")
