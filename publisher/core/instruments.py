"""Instrument records: one configured instrument and where it stands.

Mutable and owned by the service thread; the scrape-time metrics read them under the GIL.
"""

from dataclasses import dataclass, field
from typing import Final

from prometheus_client import Counter

from publisher.config import InstrumentSpec
from publisher.gateway.adapter import ContractMatch

PENDING: Final = "pending"
SUBSCRIBED: Final = "subscribed"
DELAYED: Final = "delayed"
STALE: Final = "stale"
FAILED: Final = "failed"
STREAMING: Final = frozenset({SUBSCRIBED, DELAYED})


@dataclass(slots=True, eq=False)
class Instrument:
    """One configured instrument: its spec, qualification, request ids and last tick."""

    spec: InstrumentSpec
    counter: Counter
    topic: str = ""
    state: str = PENDING
    con_id: int = 0
    details_req: int = 0
    data_req: int = 0
    mdt: int = 1
    matches: list[ContractMatch] = field(default_factory=list)
    last_tick_ns: int = 0

    def __post_init__(self) -> None:
        self.topic = f"tick.{self.spec.key}"
        self.con_id = self.spec.con_id

    @property
    def key(self) -> str:
        return self.spec.key
