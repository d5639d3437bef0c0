"""The old subscriber-test harness's names, now a thin adapter over :mod:`tests.support.stack`.

Kept only for ``tests/snapshot/test_curve.py`` (owned elsewhere); new tests use the ``stack``
fixture with :data:`tests.support.config.LIVE`. Delete this module once nothing imports it.
"""

from pathlib import Path
from typing import Any

from publisher.sim import SimulatedGateway
from tests.support.config import FOUR_KEYS, LIVE
from tests.support.stack import Publisher

KEYS = FOUR_KEYS


def start_gateway(port: int = 0, rate: float = 300.0) -> SimulatedGateway:
    """A simulated gateway listening on ``port`` (0: any free one); stop it when done."""
    return SimulatedGateway(port=port, rate=rate, seed=7).start()


class LivePublisher(Publisher):
    """:class:`Publisher` with the subscriber tests' options; ``curve`` is (secret key file,
    authorised keys directory) for the bus's CURVE settings."""

    def __init__(
        self,
        directory: Path,
        gateway_port: int,
        *,
        curve: tuple[Path, Path] | None = None,
        **options: Any,
    ) -> None:
        bus = dict(options.pop("bus", {}))
        if curve is not None:
            bus.update(curve_secret_key=str(curve[0]), curve_authorized_keys=str(curve[1]))
        super().__init__(directory, gateway_port, **{**LIVE, **options, "bus": bus})
