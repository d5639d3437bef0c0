"""A listener on a publisher's bus that keeps every message in order, and conditions on them."""

import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import msgpack
import zmq

from tests.support.waiting import DEADLINE

Message = dict[str, Any]
"""A decoded bus message with its ``topic`` added."""


class Listener:
    """A SUB socket on a bus endpoint; :meth:`until` receives until a condition holds."""

    def __init__(
        self, context: zmq.Context[Any], endpoint: str, prefixes: tuple[bytes, ...] = (b"",)
    ) -> None:
        self.socket = context.socket(zmq.SUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.RCVHWM, 0)  # a test's listener never drops what it is sent
        for prefix in prefixes:
            self.socket.setsockopt(zmq.SUBSCRIBE, prefix)
        self.socket.connect(endpoint)
        self.messages: list[Message] = []

    def pump(self, timeout: float = 0.05) -> None:
        """Receive whatever arrives within ``timeout`` seconds."""
        if self.socket.poll(int(timeout * 1000)):
            while True:
                try:
                    topic, payload = self.socket.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    return
                message = msgpack.unpackb(payload)
                message["topic"] = topic.decode()
                self.messages.append(message)

    def until(
        self, condition: Callable[[list[Message]], Any], what: str, timeout: float = DEADLINE
    ) -> Any:
        """Receive until ``condition(messages)`` is truthy (returned); fails naming ``what``."""
        deadline = time.monotonic() + timeout
        while True:
            result = condition(self.messages)
            if result:
                return result
            if time.monotonic() > deadline:
                tail = [m for m in self.messages if m["type"] == "status"][-6:]
                raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; {tail}")
            self.pump()

    def statuses(self, scope: str | None = None) -> list[Message]:
        return [m for m in self.messages if m["type"] == "status" and scope in (None, m["scope"])]

    def ticks(self, key: str | None = None) -> list[Message]:
        return [m for m in self.messages if m["type"] == "tick" and key in (None, m["key"])]

    def close(self) -> None:
        self.socket.close(linger=0)


def heartbeat_seen(messages: list[Message]) -> bool:
    """A condition: a heartbeat arrived (so the listener is subscribed and misses nothing more)."""
    return any(m["type"] == "hb" for m in messages)


def status_seen(
    scope: str, state: str, since: int = 0, **fields: Any
) -> Callable[[list[Message]], int]:
    """A condition: a status with this scope, state and fields arrived at or after message
    number ``since``; its value is the position just after that status (0 while unseen)."""

    def seen(messages: list[Message]) -> int:
        for position in range(since, len(messages)):
            m = messages[position]
            if (
                m["type"] == "status"
                and m["scope"] == scope
                and m["state"] == state
                and all(m.get(k) == v for k, v in fields.items())
            ):
                return position + 1
        return 0

    return seen


def ticks_after(index: int, keys: tuple[str, ...]) -> Callable[[list[Message]], bool]:
    """A condition: every key has a tick after message number ``index``."""

    def seen(messages: list[Message]) -> bool:
        later = {m["key"] for m in messages[index:] if m["type"] == "tick"}
        return set(keys) <= later

    return seen


def assert_seq_continues(messages: list[Message]) -> None:
    """One sid throughout, and every tick topic's seq runs 1, 2, 3 ... without a gap."""
    assert len({m["sid"] for m in messages}) == 1, "the sid changed"
    seqs: dict[str, list[int]] = defaultdict(list)
    for m in messages:
        if m["type"] == "tick":
            seqs[m["topic"]].append(m["seq"])
    for topic, got in seqs.items():
        assert got == list(range(1, len(got) + 1)), topic
