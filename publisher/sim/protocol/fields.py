"""Text field formatting shared by every text message we build."""

import math
from decimal import Decimal


def decimal_text(value: float) -> str:
    """A float as plain decimal text (``5e-05`` -> ``0.00005``), for minTick and sizes."""
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def text_field(value: object) -> str:
    """One text field as TWS writes it: bools as 0/1, floats by repr, infinity spelled out."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    return str(value)
