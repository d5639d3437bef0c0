"""The two clients under test, as :class:`bench.scenarios.Target`: ibpub and the stock client."""

from typing import Final

from bench import stock
from bench.handles import Feed, Receiver, stock_client
from bench.publisher import PublisherProcess, process_usage
from bench.scenarios import DRAIN_TIMEOUT

SESSION_TIMEOUT: Final = 60.0


class Ibpub:
    """``ibpub run`` fed by the feeder; its ticks counted by the subscriber on the bus."""

    name = "ibpub"

    def __init__(self, publisher: PublisherProcess, session: int, subscriber: Receiver) -> None:
        self.publisher = publisher
        self.session = session
        self.receiver = subscriber
        self.lost = 0
        """Ticks that never reached the subscriber, over every step."""

    def cpu_seconds(self) -> float:
        return self.publisher.usage().cpu_seconds

    def recover(self) -> None:
        """ibpub does not collapse: let it drain what it fell behind by, and count losses."""
        arrival = self.receiver.wait(DRAIN_TIMEOUT)
        if not arrival.complete:
            self.lost += arrival.expected - arrival.received


class Stock:
    """The stock ibapi client process; a fresh one (new connection) after each failed step."""

    name = "stock ibapi"

    def __init__(self, feed: Feed) -> None:
        self._feed = feed
        self._seen: set[int] = set()
        self.receiver, self.session = self._connect()

    def _connect(self) -> tuple[Receiver, int]:
        receiver = stock_client(self._feed.port)
        session = self._feed.wait_session(
            lambda s: s.client_id == stock.CLIENT_ID and s.session not in self._seen,
            SESSION_TIMEOUT,
        )
        self._seen.add(session.session)
        return receiver, session.session

    def cpu_seconds(self) -> float:
        return process_usage(self.receiver.pid).cpu_seconds

    def recover(self) -> None:
        """A collapsed stock client does not recover: start a fresh one, as a user would."""
        self.receiver.stop()
        self.receiver, self.session = self._connect()

    def close(self) -> None:
        self.receiver.stop()
