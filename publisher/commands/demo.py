"""``ibpub demo``: the simulated gateway, the publisher and a live quote view in one process.

The view is an ordinary bus subscriber (a SUB socket on the publisher's endpoint), so what it
shows is exactly what any other subscriber receives.
"""

import sys
import threading
import time
from typing import Any, Final, TextIO

import msgpack
import zmq

from publisher.config import Settings
from publisher.service.root import PublisherService
from publisher.sim import SimulatedGateway
from subscribers.book import Book, Quote

DEMO_RATE: Final = 40.0
"""Simulated ticks per second across all instruments: lively but readable."""
REDRAW_EVERY: Final = 0.5
PLAIN_LINE_EVERY: Final = 5.0


def _price(value: float | None, width: int) -> str:
    """Prices with enough places for FX (5 below 10) and 2 otherwise."""
    if value is None:
        return "-".rjust(width)
    places = 5 if abs(value) < 10 else 2
    return f"{value:>{width}.{places}f}"


def _size(value: float | None, width: int) -> str:
    """Sizes compactly: 1900, 8.73M, 5.00B (FX volumes run to billions)."""
    if value is None:
        return "-".rjust(width)
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M")):
        if abs(value) >= limit:
            return f"{value / limit:>{width - 1}.2f}{suffix}"
    if float(value).is_integer():
        return f"{int(value):>{width}d}"
    return f"{value:>{width}.4g}"


class QuoteView:
    """Renders the book: a redrawn table on a terminal, periodic plain lines otherwise."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()
        self.book = Book()
        self.gateway = "unknown"
        self.statuses: list[str] = []
        self._rate_base: dict[str, tuple[float, int]] = {}
        self._rates: dict[str, float] = {}
        self._last_draw = 0.0

    def on_message(self, topic: bytes, payload: dict[str, Any]) -> None:
        kind = payload.get("type")
        if kind == "tick":
            self.book.apply_payload(payload)
        elif kind == "hb":
            self.gateway = str(payload.get("gateway"))
        elif kind == "status":
            if payload.get("scope") == "gateway":
                self.gateway = str(payload.get("state"))
            key = payload.get("key")
            what = f"{payload.get('scope')} {key + ' ' if key else ''}{payload.get('state')}"
            self.statuses = [*self.statuses[-3:], f"{what}: {payload.get('message', '')}"]

    def maybe_draw(self, now: float) -> None:
        every = REDRAW_EVERY if self.tty else PLAIN_LINE_EVERY
        if now - self._last_draw < every:
            return
        self._update_rates(now)
        self._last_draw = now
        if self.tty:
            self._draw_table(now)
        else:
            self._draw_line()

    def _update_rates(self, now: float) -> None:
        for key, quote in self.book.quotes.items():
            then, count = self._rate_base.get(key, (now, quote.ticks))
            if now - then >= 2.0:
                self._rates[key] = (quote.ticks - count) / (now - then)
                self._rate_base[key] = (now, quote.ticks)
            elif key not in self._rate_base:
                self._rate_base[key] = (now, quote.ticks)

    def _row(self, quote: Quote, now_ns: int) -> str:
        age = (now_ns - quote.updated_ns) / 1e9 if quote.updated_ns else 0.0
        delayed = " delayed" if quote.mdt in (3, 4) else ""
        return (
            f"{quote.key:<10}{_size(quote.bid_size, 8)} {_price(quote.bid, 11)}"
            f" {_price(quote.ask, 11)}{_size(quote.ask_size, 8)}"
            f" {_price(quote.last, 11)}{_size(quote.last_size, 7)}{_size(quote.volume, 11)}"
            f"{self._rates.get(quote.key, 0.0):>9.1f}{age:>7.1f}s{delayed}"
        )

    def _draw_table(self, now: float) -> None:
        now_ns = time.time_ns()
        lines = [
            f"ibpub demo  gateway: {self.gateway}   (Ctrl-C to stop)",
            "",
            f"{'KEY':<10}{'BIDSZ':>8} {'BID':>11} {'ASK':>11}{'ASKSZ':>8} {'LAST':>11}"
            f"{'LASTSZ':>7}{'VOLUME':>11}{'TICKS/S':>9}{'AGE':>8}",
        ]
        lines += [self._row(q, now_ns) for _, q in sorted(self.book.quotes.items())]
        lines += ["", "recent status:"] + [f"  {s}" for s in self.statuses]
        self.out.write("\x1b[H\x1b[2J" + "\n".join(lines) + "\n")
        self.out.flush()

    def _draw_line(self) -> None:
        parts = [
            f"{k} {_price(q.bid, 0).strip()}/{_price(q.ask, 0).strip()}"
            for k, q in sorted(self.book.quotes.items())
        ]
        total = sum(self._rates.values())
        self.out.write(f"gateway {self.gateway}; {total:.0f} ticks/s; " + "  ".join(parts) + "\n")
        self.out.flush()


def _banner(service: PublisherService, sim_port: int, out: TextIO) -> None:
    endpoint = service.bus.endpoints[0]
    metrics = service.metrics_server.address if service.metrics_server else "off"
    out.write(
        f"simulated IB Gateway on 127.0.0.1:{sim_port}; publisher {service.bus.name} "
        f"(sid {service.bus.sid}) on {endpoint}\n"
        f"metrics: http://{metrics}/metrics\n"
        f"subscribe from another terminal:  ibsub tail --endpoint {endpoint}\n"
        f"                                  ibsub tail --json --count 5 tick.AAPL\n\n"
    )
    out.flush()


def run_demo(settings: Settings, out: TextIO = sys.stdout) -> int:
    """Run until SIGINT/SIGTERM; returns the exit code."""
    from publisher.cli import install_stop_handlers

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
        service.start()
        thread = threading.Thread(target=service.run, name="ibpub-service", daemon=True)
        install_stop_handlers(stop.set)
        thread.start()
        _banner(service, sim.port, out)
        _watch(service.bus.endpoints[0], QuoteView(out), stop)
    finally:
        service.stop()
        if thread is not None:
            thread.join(timeout=10)
        sim.stop()
    out.write("stopped.\n")
    return 0


def _watch(endpoint: str, view: QuoteView, stop: threading.Event) -> None:
    context: zmq.Context[Any] = zmq.Context.instance()
    sub: zmq.Socket[Any] = context.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(endpoint)
    try:
        while not stop.is_set():
            if sub.poll(100):
                while True:
                    try:
                        topic, data = sub.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    view.on_message(topic, msgpack.unpackb(data))
            view.maybe_draw(time.monotonic())
    finally:
        sub.close()
