"""The simulated IB Gateway: speaks the TWS API socket protocol with seeded random-walk quotes.

Start one in-process with :class:`SimulatedGateway` (its own thread) or :class:`AsyncGateway`
(on your event loop), or from the shell with ``ibpub sim``.
"""

from publisher.sim.catalogue import Catalogue, CatalogueError, Instrument, load_catalogue
from publisher.sim.market import Market
from publisher.sim.protocol import (
    MAX_SERVER_VERSION,
    MIN_SERVER_VERSION,
    ContractQuery,
    ContractSpec,
    Encoder,
    ProtocolError,
)
from publisher.sim.server import AsyncGateway, SimulatedGateway
from publisher.sim.session import Session

__all__ = [
    "MAX_SERVER_VERSION",
    "MIN_SERVER_VERSION",
    "AsyncGateway",
    "Catalogue",
    "CatalogueError",
    "ContractQuery",
    "ContractSpec",
    "Encoder",
    "Instrument",
    "Market",
    "ProtocolError",
    "Session",
    "SimulatedGateway",
    "load_catalogue",
]
