"""Sizes as the fast decoders hand them to the tick sink: ibapi's ``Decimal`` as a float.

ibapi decodes every size into a ``Decimal`` that the tick path turns into a float
(:func:`publisher.core.normalise.normal_size`); the fast decoders (:mod:`.fastpath`,
:mod:`.fastpath_kinds`) make the float straight from the text, with ibapi's "unset" spellings
giving None.
"""

from decimal import Decimal
from typing import Final

from publisher.core.normalise import UNSET_DECIMAL, UNSET_SIZE_FLOAT, Size

UNSET_SIZE_TEXTS: Final = frozenset(
    {b"2147483647", b"9223372036854775807", b"1.7976931348623157E308", b"-9223372036854775808"}
)
"""The texts ibapi's ``decode(Decimal, ...)`` reads as UNSET_DECIMAL (besides the empty field)."""


def size_value(text: bytes | str) -> Size:
    """``Decimal(text)`` as the tick path will publish it: a float, None for IB's unset value.

    ``float(text)`` is ``float(Decimal(text))`` for every text both accept (both round the
    exact decimal value correctly; ``Decimal.__float__`` goes through ``float(str(d))``). A text
    only Decimal accepts (a NaN payload, non-ASCII digits) stays a ``Decimal``, which the tick
    path converts exactly as it converts ibapi's; one neither accepts raises, and the frame is
    declined to ibapi. A float equal to the unset value's is settled by the Decimal comparison
    ``normal_size`` makes.
    """
    try:
        value = float(text)
    except ValueError:
        return Decimal(_text(text))
    if value == UNSET_SIZE_FLOAT and Decimal(_text(text)) == UNSET_DECIMAL:
        return None
    return value


def _text(text: bytes | str) -> str:
    return text.decode() if isinstance(text, bytes) else text


def classic_size(text: bytes) -> Size:
    """ibapi's ``decode(Decimal, ...)`` of one text field, then ``normal_size``."""
    if not text or text in UNSET_SIZE_TEXTS:
        return None
    return size_value(text)  # float() takes only ASCII bytes, which always decode
