"""``ibpub demo``: the simulated gateway, the publisher and a live quote view in one process.

The view is ``ibsub quotes``'s own (:mod:`subscribers.quotes`) on an ordinary
:class:`~subscribers.client.Subscriber` of the publisher's endpoint, so what it shows is exactly
what any other subscriber receives, drawn the way ``ibsub quotes`` draws it.
"""

import sys
import threading
from typing import Final, TextIO

from publisher.config import Settings
from publisher.service.root import PublisherService
from publisher.signals import install_stop_handlers
from publisher.sim import SimulatedGateway
from subscribers.client import Subscriber
from subscribers.events import Event
from subscribers.quotes import PLAIN_INTERVAL, TTY_INTERVAL, QuotesView, show_quotes
from subscribers.wire import STATUS_PREFIX, TICK_PREFIX

DEMO_RATE: Final = 40.0
"""Simulated ticks per second across all instruments: lively but readable."""


def _banner(service: PublisherService, sim_port: int, out: TextIO) -> None:
    endpoint = service.bus.endpoints[0]
    metrics = service.metrics_server.address if service.metrics_server else "off"
    out.write(
        f"simulated IB Gateway on 127.0.0.1:{sim_port}; publisher {service.bus.name} "
        f"(sid {service.bus.sid}) on {endpoint}\n"
        f"metrics: http://{metrics}/metrics\n"
        f"control: {service.control.endpoint or 'off'}\n"
        f"subscribe from another terminal:  ibsub tail --endpoint {endpoint}\n"
        f"                                  ibsub tail --json --count 5 tick.AAPL\n"
        f"ask for more instruments:         ibsub quotes --request NVDA\n\n"
    )
    out.flush()


def run_demo(settings: Settings, out: TextIO = sys.stdout) -> int:
    """Run until SIGINT/SIGTERM; returns the exit code."""
    gw = settings.gateway
    sim = SimulatedGateway(gw.host, gw.port, rate=DEMO_RATE, seed=1)
    sim.start()
    try:
        service = PublisherService(settings)  # binds the bus and metrics endpoints
    except BaseException:
        sim.stop()
        raise
    stop = threading.Event()
    thread: threading.Thread | None = None
    try:
        thread = threading.Thread(target=service.run, name="ibpub-service", daemon=True)
        install_stop_handlers(stop.set)
        thread.start()
        _banner(service, sim.port, out)
        _watch(service.bus.endpoints[0], out, stop)
    finally:
        service.stop()
        if thread is not None:
            thread.join(timeout=10)
        sim.stop()
    out.write("stopped.\n")
    return 0


def _watch(endpoint: str, out: TextIO, stop: threading.Event) -> None:
    """The quote table of ``ibsub quotes`` (:class:`subscribers.quotes.QuotesView`), titled for
    the demo and noting the instruments' status messages, until ``stop`` is set.

    No snapshot: the view starts with the publisher, so there is nothing to catch up on.
    """
    view: QuotesView | None = None

    def on_event(event: Event) -> None:
        if view is not None:
            view.on_event(event)

    subscriber = Subscriber(endpoint, prefixes=(TICK_PREFIX, STATUS_PREFIX), on_event=on_event)
    view = QuotesView(subscriber, title="ibpub demo", statuses=True)
    interval = TTY_INTERVAL if out.isatty() else PLAIN_INTERVAL
    with subscriber:
        show_quotes(view, out, interval, endpoint, stop=stop.is_set)
