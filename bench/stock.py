"""The baseline: IB's stock Python client, used exactly as its documentation shows.

``EClient.connect`` (ibapi's own ``Connection`` and handshake), the ``EReader`` thread it starts,
and ``EClient.run`` on a second thread, unmodified. The wrapper's tick callbacks only count: that
is ibapi's decode-only cost, the floor under any application built on the stock reader. The
protobuf callbacks (``tickPriceProtoBuf`` ...) are overridden with no-ops too, because ibapi's
defaults log every call; the baseline is the stock client at its fastest.
"""

import os
import threading
import time
from decimal import Decimal
from multiprocessing.connection import Connection
from typing import Any, Final

from ibapi.client import EClient
from ibapi.wrapper import EWrapper

from bench.receivers import Arrival, Expect, Quit, Wait

CLIENT_ID: Final = 99
CONNECT_TIMEOUT: Final = 30.0


class CountingWrapper(EWrapper):  # type: ignore[misc]  # ibapi is untyped
    """Tick callbacks that count and nothing else; records when a target count is met."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.target = -1
        self.reached_ns = 0
        self.done = threading.Event()
        self.ready = threading.Event()

    def _tick(self) -> None:
        self.count += 1
        if self.count == self.target:
            self.reached_ns = time.time_ns()
            self.done.set()

    def tickPrice(self, reqId: int, tickType: int, price: float, attrib: Any) -> None:  # noqa: N802, N803  # ibapi's names
        self._tick()

    def tickSize(self, reqId: int, tickType: int, size: Decimal) -> None:  # noqa: N802, N803
        self._tick()

    def tickString(self, reqId: int, tickType: int, value: str) -> None:  # noqa: N802, N803
        self._tick()

    def tickGeneric(self, reqId: int, tickType: int, value: float) -> None:  # noqa: N802, N803
        self._tick()

    def updateMktDepth(self, reqId: int, *args: Any) -> None:  # noqa: N802, N803
        self._tick()

    def updateMktDepthL2(self, reqId: int, *args: Any) -> None:  # noqa: N802, N803
        self._tick()

    def updateMarketDepthProtoBuf(self, proto: Any) -> None:  # noqa: N802
        pass

    def updateMarketDepthL2ProtoBuf(self, proto: Any) -> None:  # noqa: N802
        pass

    def tickPriceProtoBuf(self, proto: Any) -> None:  # noqa: N802
        pass

    def tickSizeProtoBuf(self, proto: Any) -> None:  # noqa: N802
        pass

    def tickStringProtoBuf(self, proto: Any) -> None:  # noqa: N802
        pass

    def tickGenericProtoBuf(self, proto: Any) -> None:  # noqa: N802
        pass

    def nextValidId(self, orderId: int) -> None:  # noqa: N802, N803
        self.ready.set()

    def managedAccounts(self, accountsList: str) -> None:  # noqa: N802, N803
        pass

    def error(self, *args: Any) -> None:
        pass


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def _run(client: EClient) -> None:
    """``EClient.run``, quiet about how it ends: after ``disconnect()`` its loop may still take
    one more message and trip over the server version it just cleared."""
    try:
        client.run()
    except TypeError:
        if client.isConnected():
            raise


def serve(control: Connection, port: int) -> None:
    """The stock client process: connect, run, then answer :mod:`bench.receivers` commands."""
    wrapper = CountingWrapper()
    client = EClient(wrapper)
    client.connect("127.0.0.1", port, CLIENT_ID)
    runner = threading.Thread(target=_run, args=(client,), name="ibapi-run", daemon=True)
    runner.start()
    control.send(wrapper.ready.wait(CONNECT_TIMEOUT))
    expected = 0
    try:
        while True:
            command = control.recv()
            if isinstance(command, Expect):
                expected = command.count
                wrapper.done.clear()
                wrapper.reached_ns = 0
                wrapper.target = wrapper.count + command.count
                control.send(True)
            elif isinstance(command, Wait):
                wrapper.done.wait(command.seconds)
                received = wrapper.count - (wrapper.target - expected)
                arrival = Arrival(
                    expected, received, wrapper.reached_ns, cpu_seconds=_cpu_seconds()
                )
                control.send(arrival)
            elif isinstance(command, Quit):
                break
    finally:
        client.disconnect()
        runner.join(5.0)
