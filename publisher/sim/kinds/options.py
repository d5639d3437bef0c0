"""Option market data (reqMktData of an OPT contract): quotes and greeks from the underlying.

The option follows its underlying's feed walk (:meth:`~publisher.sim.market.Market.feed`):
at every change of the underlying's midpoint its Black-Scholes value is recomputed with the
catalogue's model (:data:`~publisher.sim.catalogue.options.OPTION_MODELS`) and sent as
tickPrice bid/ask around it and tickOptionComputation for the bid (10), ask (11), last (12)
and model (13), or their delayed twins (80-83) under a delayed market data type. Now and then
an underlying trade brings an option trade (last price and size, with computation 12).
"""

import random
from collections.abc import Callable
from typing import Final

from publisher.sim.catalogue import Instrument
from publisher.sim.catalogue.options import OPTION_MODELS, RATE, OptionModel, option_years
from publisher.sim.greeks import Greeks, black_scholes
from publisher.sim.kinds.tbt import mid_price
from publisher.sim.market import Walk
from publisher.sim.protocol import PriceTick, SizeTick, TickEvent, TickType
from publisher.sim.protocol.data_events import OptionComputation

BID_OPTION: Final = 10
ASK_OPTION: Final = 11
LAST_OPTION: Final = 12
MODEL_OPTION: Final = 13
DELAYED_OPTION: Final = {10: 80, 11: 81, 12: 82, 13: 83}
"""tickOptionComputation's live types and their delayed twins."""
_DEFAULT_MODEL: Final = OptionModel(vol=0.30, smile=1.0, dividend_yield=0.0)
_TRADE_SHARE: Final = 0.2
"""Share of underlying trades that bring an option trade."""


class OptionStream:
    """One option's L1 and greeks, following the underlying walk."""

    __slots__ = (
        "_ask",
        "_bid",
        "_clock",
        "_computations",
        "_greeks",
        "_last",
        "_model",
        "_reference",
        "_rng",
        "_spot",
        "_ticks",
        "delayed",
        "instrument",
        "req_id",
        "walk",
    )

    def __init__(
        self,
        req_id: int,
        instrument: Instrument,
        walk: Walk,
        ticks: Callable[[list[TickEvent]], None],
        computations: Callable[[list[OptionComputation]], None],
        clock: Callable[[], float],
        *,
        reference: float,
        delayed: bool = False,
    ) -> None:
        self.req_id = req_id
        self.instrument = instrument
        self.walk = walk
        self.delayed = delayed
        self._ticks = ticks
        self._computations = computations
        self._clock = clock
        self._model = OPTION_MODELS.get(instrument.spec.symbol, _DEFAULT_MODEL)
        self._reference = reference
        """The underlying's catalogue price: the centre of the vol smile."""
        self._rng = random.Random(instrument.con_id * 31 + req_id)
        self._spot = 0.0
        self._greeks: Greeks | None = None
        self._bid = self._ask = self._last = 0.0

    # -- the model ---------------------------------------------------------------------------

    @property
    def vol(self) -> float:
        """The option's implied vol (the model's smile at its strike)."""
        return self._model.vol_at(self.instrument.spec.strike, self._reference)

    def model(self, spot: float) -> Greeks:
        """Black-Scholes for this option at underlying price ``spot`` now."""
        spec = self.instrument.spec
        return black_scholes(
            spec.right == "C",
            spot,
            spec.strike,
            option_years(spec.last_trade_date, self._clock()),
            self.vol,
            RATE,
            self._model.dividend_yield,
        )

    @property
    def greeks(self) -> Greeks | None:
        """The values last sent."""
        return self._greeks

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Send the first quote and computations; then follow the underlying."""
        self._reprice(self.walk, initial=True)
        self.walk.observers.append(self)

    def on_quote(self, walk: Walk) -> None:
        self._reprice(walk, initial=False)

    def on_trade(self, walk: Walk) -> None:
        if self._bid <= 0 or self._rng.random() >= _TRADE_SHARE:
            return
        self._last = self._bid if self._rng.random() < 0.5 else self._ask
        size = self._rng.randint(1, 20)
        self._ticks([PriceTick(self.req_id, TickType.LAST, self._last, size)])
        self._computations([self._computation(LAST_OPTION, self._last)])

    # -- changes -----------------------------------------------------------------------------

    def _reprice(self, walk: Walk, *, initial: bool) -> None:
        spot = mid_price(walk)
        if spot == self._spot and not initial:
            return
        self._spot = spot
        greeks = self.model(spot)
        self._greeks = greeks
        value = max(0.01, greeks.price)
        spread = max(0.01, round(value * 0.02, 2))
        bid = max(0.01, round(value - spread / 2, 2))
        ask = round(bid + spread, 2)
        ticks: list[TickEvent] = []
        if bid != self._bid or initial:
            ticks.append(PriceTick(self.req_id, TickType.BID, bid, self._rng.randint(1, 50)))
        if ask != self._ask or initial:
            ticks.append(PriceTick(self.req_id, TickType.ASK, ask, self._rng.randint(1, 50)))
        if ask > self._ask and not initial:
            ticks.reverse()  # lift the ask first so the quote never crosses
        self._bid, self._ask = bid, ask
        if initial:
            self._last = bid
            ticks += [
                PriceTick(self.req_id, TickType.LAST, bid, 1),
                SizeTick(self.req_id, TickType.VOLUME, self._rng.randint(100, 20_000)),
                PriceTick(self.req_id, TickType.CLOSE, round(value, 2)),
            ]
        self._ticks(ticks)
        self._computations(
            [
                self._computation(BID_OPTION, bid),
                self._computation(ASK_OPTION, ask),
                self._computation(LAST_OPTION, self._last),
                self._computation(MODEL_OPTION, greeks.price),
            ]
        )

    def _computation(self, tick_type: int, price: float) -> OptionComputation:
        greeks = self._greeks
        assert greeks is not None  # set by the first reprice
        return OptionComputation(
            self.req_id,
            DELAYED_OPTION[tick_type] if self.delayed else tick_type,
            implied_vol=self.vol,
            delta=greeks.delta,
            opt_price=price,
            pv_dividend=greeks.pv_dividend,
            gamma=greeks.gamma,
            vega=greeks.vega,
            theta=greeks.theta,
            und_price=self._spot,
        )
