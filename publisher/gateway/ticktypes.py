"""ibapi's tick type names, as the value the pure core names its fields from.

The core (:func:`publisher.core.normalise.field_names`) imports no ibapi, so the gateway side
hands it ibapi's ``TickTypeEnum`` as a plain ``{id: lower-case name}`` mapping. Deriving it from
the installed ibapi, instead of keeping a copy, means a tick type a newer ibapi knows (110,
``odd_lot_ask_exch``, arrived at server version 225) gets its name without an edit here.
"""

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from ibapi.ticktype import TickTypeEnum

NOT_SET: Final = "NOT_SET"
"""ibapi's last enum member: a placeholder, not a tick type IB sends. An id IB sends that ibapi
calls ``NOT_SET`` is one this ibapi does not know, and is published as ``tick_<id>``."""


def ibapi_tick_names() -> Mapping[int, str]:
    """``{id: name.lower()}`` for every tick type of the installed ibapi's ``TickTypeEnum``."""
    idx2name: Mapping[int, str] = TickTypeEnum.idx2name
    return MappingProxyType(
        {tick_type: name.lower() for tick_type, name in idx2name.items() if name != NOT_SET}
    )


IBAPI_TICK_NAMES: Final = ibapi_tick_names()
