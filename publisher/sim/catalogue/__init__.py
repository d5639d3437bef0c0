"""The contracts the simulated gateway knows, and how a client's request picks among them.

* :mod:`~publisher.sim.catalogue.contracts`: one contract (:class:`Instrument`) and the
  built-in set (:data:`BUILTIN`),
* :mod:`~publisher.sim.catalogue.lookup`: the :class:`Catalogue` and IB-like matching,
* :mod:`~publisher.sim.catalogue.files`: more contracts from a TOML or JSON file.
"""

from publisher.sim.catalogue.contracts import BUILTIN, Instrument
from publisher.sim.catalogue.files import CatalogueError, load_catalogue, load_instruments
from publisher.sim.catalogue.lookup import Catalogue

__all__ = [
    "BUILTIN",
    "Catalogue",
    "CatalogueError",
    "Instrument",
    "load_catalogue",
    "load_instruments",
]
