"""The simulator's data kinds beyond top of book: tick-by-tick, depth, real-time bars, greeks.

Each kind is an observer of one :class:`~publisher.sim.market.Walk` (the instrument's feed, see
:meth:`~publisher.sim.market.Market.feed`), so it agrees with the L1 stream of that walk: the
trades tick-by-tick reports are the walk's trades, the book's best rows are the walk's bid and
ask, bars aggregate the walk's trades and quotes, option prices follow the walk's midpoint.
:class:`~publisher.sim.kinds.handler.DataKinds` answers a session's requests for them.
"""
