"""``[control]``: the on-demand control socket's settings, a frozen value object. Pure.

Its own module so :mod:`publisher.config.model` stays one screenful per section; the loader
treats it like every other section (a field here is a TOML key, an ``IBPUB_CONTROL_*`` variable
and a ``--control-*`` flag).
"""

import math
from dataclasses import dataclass
from typing import Final

from publisher.endpoints import endpoint_problem
from publisher.errors import ConfigError

__all__ = [
    "DEFAULT_CONTROL_GRACE",
    "DEFAULT_CONTROL_LEASE",
    "DEFAULT_CONTROL_LISTEN",
    "DEFAULT_MAX_REQUESTS_PER_SECOND",
    "ControlSettings",
]

DEFAULT_CONTROL_LISTEN: Final = "tcp://127.0.0.1:7702"
DEFAULT_CONTROL_LEASE: Final = 30.0
DEFAULT_CONTROL_GRACE: Final = 60.0
DEFAULT_MAX_REQUESTS_PER_SECOND: Final = 20.0

_MAX_SECONDS: Final = 86_400.0 * 7
"""A lease or grace beyond a week is a typo (ms for s), not a wish."""


@dataclass(frozen=True, slots=True)
class ControlSettings:
    """``[control]``: where clients ask for instruments, and how long what they hold lasts."""

    listen: str = DEFAULT_CONTROL_LISTEN
    """ROUTER endpoint to bind; ``""`` turns the control socket off."""
    lease: float = DEFAULT_CONTROL_LEASE
    """Seconds a holder's claim lasts unless renewed (a request may ask for less or more)."""
    grace: float = DEFAULT_CONTROL_GRACE
    """Seconds an instrument nobody holds stays subscribed before it is cancelled, so a
    client that restarts at once finds its line still there."""
    max_requests_per_second: float = DEFAULT_MAX_REQUESTS_PER_SECOND
    """Per client (CURVE key, else ``client`` name, else connection): beyond it, rate_limited."""

    def __post_init__(self) -> None:
        if self.listen:
            problem = endpoint_problem(self.listen, bind=True)
            if problem:
                raise ConfigError(type(self).__name__, "listen", problem + ' ("" disables)')
        for name in ("lease", "grace"):
            value = getattr(self, name)
            low = 0.0 if name == "grace" else 1e-3
            if not (math.isfinite(value) and low <= value <= _MAX_SECONDS):
                bound = ">= 0" if name == "grace" else "> 0"
                raise ConfigError(
                    type(self).__name__,
                    name,
                    f"must be {bound} and at most {_MAX_SECONDS:g} seconds, got {value}",
                )
        rate = self.max_requests_per_second
        if not (math.isfinite(rate) and rate > 0):
            raise ConfigError(
                type(self).__name__, "max_requests_per_second", f"must be > 0, got {rate}"
            )

    @property
    def enabled(self) -> bool:
        """Whether the control socket is bound at all."""
        return bool(self.listen)
