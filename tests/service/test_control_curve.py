"""The control socket with CURVE: only authorised keys are answered, and a holder's name is
bound to its key (one key cannot release another's lease)."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq

from publisher.commands.keys import generate_keys
from subscribers.curve import CurveKeys
from tests.support.config import AAPL
from tests.support.stack import Stack

SPY = {"symbol": "SPY", "sec_type": "STK"}
REFUSED_WAIT = 1.0
"""Seconds to wait for a reply that must not come (a handshake on loopback takes ms)."""


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    directory = tmp_path / "keys"
    generate_keys(directory, ["alice", "bob"])
    return directory


def client_keys(keys: Path, name: str) -> CurveKeys:
    return CurveKeys.from_files(str(keys / "server.key"), str(keys / f"clients/{name}.key_secret"))


@pytest.fixture
def secured(stack: Stack, keys: Path) -> Iterator[Stack]:
    stack.start_gateway(rate=100.0)
    bus = {
        "curve_secret_key": str(keys / "server.key_secret"),
        "curve_authorized_keys": str(keys / "authorized"),
    }
    stack.start_publisher(instruments=(AAPL,), bus=bus)
    yield stack


def dealer(stack: Stack, curve: CurveKeys | None) -> zmq.Socket[Any]:
    socket: zmq.Socket[Any] = stack.context.socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    if curve is not None:
        socket.curve_serverkey = curve.server_public
        socket.curve_publickey = curve.public
        socket.curve_secretkey = curve.secret
    socket.connect(stack.publisher.control_endpoint)
    return socket


def ask(socket: zmq.Socket[Any], request: dict[str, Any], wait: float = 10.0) -> Any:
    socket.send(msgpack.packb({"v": 1, **request}))
    if not socket.poll(int(wait * 1000)):
        return None
    return msgpack.unpackb(socket.recv())


def test_unauthorised_keys_get_no_reply_and_hold_nothing(secured: Stack, keys: Path) -> None:
    public, secret = zmq.curve_keypair()
    stranger = CurveKeys(client_keys(keys, "alice").server_public, public, secret)
    for curve in (stranger, None):
        socket = dealer(secured, curve)
        try:
            request = {"op": "subscribe", "client": "x", "instrument": SPY}
            assert ask(socket, request, REFUSED_WAIT) is None
        finally:
            socket.close(linger=0)
    assert "SPY" not in secured.service.subscriptions


def test_one_key_cannot_release_anothers_lease(secured: Stack, keys: Path) -> None:
    alice, bob = (
        dealer(secured, client_keys(keys, "alice")),
        dealer(secured, client_keys(keys, "bob")),
    )
    try:
        reply = ask(alice, {"op": "subscribe", "client": "alice", "instrument": SPY})
        assert reply["ok"], reply
        stolen = ask(bob, {"op": "unsubscribe", "client": "alice", "keys": ["SPY"]})
        assert stolen["error"] == "unauthorised", stolen
        listing = ask(bob, {"op": "list"})
        spy = next(i for i in listing["instruments"] if i["key"] == "SPY")
        assert spy["holders"] == ["alice"]
        assert ask(alice, {"op": "unsubscribe", "client": "alice", "keys": ["SPY"]})["ok"]
    finally:
        alice.close(linger=0)
        bob.close(linger=0)
