"""Pieces for test tick sinks that record only what their test is about."""

from publisher.core.normalise import Size


class KindsIgnored:
    """The TickSink methods of the other data kinds (tick-by-tick, depth, bars, greeks), as
    no-ops: a test sink of L1 ticks subclasses this to remain a whole TickSink."""

    def on_tbt_last(
        self,
        req_id: int,
        tick_type: int,
        time: int,
        price: float,
        size: Size,
        past_limit: bool,
        unreported: bool,
        exchange: str,
        special_conditions: str,
    ) -> None: ...

    def on_tbt_bid_ask(
        self,
        req_id: int,
        time: int,
        bid: float,
        ask: float,
        bid_size: Size,
        ask_size: Size,
        bid_past_low: bool,
        ask_past_high: bool,
    ) -> None: ...

    def on_tbt_midpoint(self, req_id: int, time: int, mid: float) -> None: ...

    def on_depth(
        self,
        req_id: int,
        position: int,
        market_maker: str | None,
        operation: int,
        side: int,
        price: float,
        size: Size,
        is_smart: bool,
    ) -> None: ...

    def on_bar(
        self,
        req_id: int,
        time: int,
        open_: float,
        high: float,
        low: float,
        close: float,
        volume: Size,
        wap: Size,
        count: int,
    ) -> None: ...

    def on_option(
        self,
        req_id: int,
        tick_type: int,
        implied_vol: float | None,
        delta: float | None,
        opt_price: float | None,
        pv_dividend: float | None,
        gamma: float | None,
        vega: float | None,
        theta: float | None,
        und_price: float | None,
    ) -> None: ...
