"""The hot path: ibapi tick callbacks -> normalised contract v1 ticks -> the bus.

Everything here runs once per tick on the service thread, so it does the minimum: one dict
lookup for the instrument, the pure normalisers, one ``Bus.publish``, and pre-bound metric
children. State changes (first tick of a pending instrument) are handed back to the service.
"""

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from prometheus_client import Histogram

from publisher.bus import Bus
from publisher.instruments import DELAYED, PENDING, STALE, SUBSCRIBED, Instrument
from publisher.normalise import (
    field_name,
    generic_value,
    market_data_type,
    normal_price,
    normal_size,
    string_value,
)

StateChange = Callable[[Instrument, str, str], None]


def _discard(topic: str, payload: dict[str, Any]) -> None:
    """No last-value cache: published payloads are not kept."""


class TickPath:
    """Publishes the ticks of subscribed instruments, keyed by market-data request id."""

    def __init__(
        self,
        bus: Bus,
        latency: Histogram,
        receive_time: Callable[[], int],
        on_state: StateChange,
        record_last: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self.by_req: dict[int, Instrument] = {}
        self._publish = bus.publish
        # The last-value cache (publisher/snapshot.py) keeps each payload exactly as sent.
        self._record_last = record_last or _discard
        self._observe = latency.observe
        self._receive_time = receive_time
        self._on_state = on_state

    def on_price(self, req_id: int, tick_type: int, price: float, mask: int) -> None:
        inst = self.by_req.get(req_id)
        if inst is None:
            return  # a late tick for a cancelled request
        self._send(
            inst,
            {
                "key": inst.spec.key,
                "conid": inst.con_id,
                "field": field_name(tick_type),
                "tick_type": tick_type,
                "price": normal_price(price),
                "attrib": mask,
                "mdt": market_data_type(tick_type, inst.mdt),
            },
        )

    def on_size(self, req_id: int, tick_type: int, size: Decimal) -> None:
        inst = self.by_req.get(req_id)
        if inst is None:
            return
        self._send(
            inst,
            {
                "key": inst.spec.key,
                "conid": inst.con_id,
                "field": field_name(tick_type),
                "tick_type": tick_type,
                "size": normal_size(size),
                "mdt": market_data_type(tick_type, inst.mdt),
            },
        )

    def on_generic(self, req_id: int, tick_type: int, value: float) -> None:
        inst = self.by_req.get(req_id)
        if inst is None:
            return
        self._send(
            inst,
            {
                "key": inst.spec.key,
                "conid": inst.con_id,
                "field": field_name(tick_type),
                "tick_type": tick_type,
                "value": generic_value(tick_type, value),
                "mdt": market_data_type(tick_type, inst.mdt),
            },
        )

    def on_string(self, req_id: int, tick_type: int, value: str) -> None:
        inst = self.by_req.get(req_id)
        if inst is None:
            return
        self._send(
            inst,
            {
                "key": inst.spec.key,
                "conid": inst.con_id,
                "field": field_name(tick_type),
                "tick_type": tick_type,
                "value": string_value(tick_type, value),
                "mdt": market_data_type(tick_type, inst.mdt),
            },
        )

    def _send(self, inst: Instrument, body: dict[str, Any]) -> None:
        ts_recv = self._receive_time()
        body["ts_recv"] = ts_recv
        self._record_last(inst.topic, self._publish(inst.topic, "tick", body))
        self._observe((time.time_ns() - ts_recv) * 1e-9)
        inst.counter.inc()
        inst.last_tick_ns = ts_recv
        if inst.state == PENDING or inst.state == STALE:
            delayed = inst.mdt in (3, 4)
            self._on_state(
                inst,
                DELAYED if delayed else SUBSCRIBED,
                f"streaming (conid {inst.con_id}, market data type {inst.mdt})",
            )
