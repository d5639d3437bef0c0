"""The contracts the simulated gateway knows, and how a client's request picks among them.

* :mod:`~publisher.sim.catalogue.contracts`: one contract (:class:`Instrument`), the builders,
  and the synthetic-conId rule,
* :mod:`~publisher.sim.catalogue.equities`, :mod:`~publisher.sim.catalogue.futures`,
  :mod:`~publisher.sim.catalogue.forex`: the built-in tables, one row per contract, joined in
  :mod:`~publisher.sim.catalogue.builtin` (:data:`BUILTIN`),
* :mod:`~publisher.sim.catalogue.lookup`: the :class:`Catalogue` and IB-like matching,
* :mod:`~publisher.sim.catalogue.files`: more contracts from a TOML or JSON file.
"""

from publisher.sim.catalogue.builtin import BUILTIN
from publisher.sim.catalogue.contracts import SYNTHETIC_CON_ID_BASE, Instrument, synthetic_con_id
from publisher.sim.catalogue.files import CatalogueError, load_catalogue, load_instruments
from publisher.sim.catalogue.lookup import Catalogue

__all__ = [
    "BUILTIN",
    "SYNTHETIC_CON_ID_BASE",
    "Catalogue",
    "CatalogueError",
    "Instrument",
    "load_catalogue",
    "load_instruments",
    "synthetic_con_id",
]
