"""The composition root: built in one step, and a failed build leaves nothing bound."""

import threading
from typing import Any

import pytest
import zmq
from prometheus_client import CollectorRegistry

from publisher.config import (
    BusSettings,
    GatewaySettings,
    InstrumentSpec,
    MetricsSettings,
    PublisherSettings,
    Settings,
)
from publisher.service.root import PublisherService


def settings(snapshot: str) -> Settings:
    return Settings(
        source="tests/service",
        publisher=PublisherSettings(name="root"),
        gateway=GatewaySettings(port=1),
        bus=BusSettings(pub=("tcp://127.0.0.1:0",), snapshot=snapshot),
        metrics=MetricsSettings(listen="127.0.0.1:0"),
        instruments=(InstrumentSpec(key="AAPL", sec_type="STK", symbol="AAPL"),),
    )


def test_construction_binds_and_holds_every_instrument() -> None:
    """After construction the bus endpoints are resolved and the instruments pending."""
    context: zmq.Context[Any] = zmq.Context()
    service = PublisherService(
        settings("tcp://127.0.0.1:0"),
        context=context,
        registry=CollectorRegistry(),
        serve_metrics=False,
    )
    assert service.bus.endpoints[0].startswith("tcp://127.0.0.1:")
    assert [(i.key, i.state) for i in service.instruments] == [("AAPL", "pending")]
    service.stop()
    assert service.run() == 0
    context.term()


def test_a_bind_that_fails_closes_what_was_already_bound() -> None:
    """A snapshot endpoint in use raises, and the bus socket bound before it is closed."""
    context: zmq.Context[Any] = zmq.Context()
    busy = context.socket(zmq.ROUTER)
    port = busy.bind_to_random_port("tcp://127.0.0.1")
    with pytest.raises(zmq.ZMQError):
        PublisherService(
            settings(f"tcp://127.0.0.1:{port}"),
            context=context,
            registry=CollectorRegistry(),
            serve_metrics=False,
        )
    busy.close(linger=0)
    terminated = threading.Thread(target=context.term, daemon=True)
    terminated.start()
    terminated.join(timeout=30)
    assert not terminated.is_alive(), "a socket was left open"
