"""A scripted control server (ROUTER, contract 1.1) and a bus publisher for the library's tests.

The publisher's real control server is another part of the project; these tests check the
subscriber's side against a small, readable server that answers as the contract says, on a real
ZeroMQ socket on a free port, in a thread. It records every request it receives (decoded, with
its arrival time) so tests can wait for a renewal or a release to arrive.
"""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import msgpack
import zmq

from subscribers.depth import DepthBook
from subscribers.kinds import KindError, parse_kinds, topics
from subscribers.schema import DATA_PREFIXES
from tests.support.waiting import wait_for

Request = dict[str, Any]
Answer = dict[str, Any] | None
"""A reply map, or None to send no reply at all."""

CANDIDATES = [
    {"conid": 495512563, "sec_type": "FUT", "symbol": "ES", "local_symbol": "ESH7",
     "last_trade_date": "20270319", "exchange": "CME", "currency": "USD"},
    {"conid": 495512572, "sec_type": "FUT", "symbol": "ES", "local_symbol": "ESM7",
     "last_trade_date": "20270618", "exchange": "CME", "currency": "USD"},
]  # fmt: skip


def error(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"v": 1, "ok": False, "error": code, "message": message, **extra}


class ControlServer:
    """Answers subscribe/renew/unsubscribe/list like a publisher with a small line budget.

    ``refuse[symbol] = (code, message)`` makes subscribe requests for that symbol fail;
    ``script`` (if set) answers a request before the defaults do (return None from it to fall
    through, or :data:`SILENT` to send nothing); :meth:`forget` drops every hold (a restart).
    """

    SILENT: ClassVar[dict[str, Any]] = {}

    def __init__(
        self, context: zmq.Context[Any], budget: int = 100, curve_secret: bytes | None = None
    ) -> None:
        self.socket = context.socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        if curve_secret is not None:  # CURVE server (no ZAP handler: any client key is let in)
            self.socket.curve_secretkey = curve_secret
            self.socket.curve_server = True
        port = self.socket.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{port}"
        self.budget = budget
        self.requests: list[tuple[float, Request]] = []
        self.holds: dict[str, dict[str, Any]] = {}
        """key -> {"conid", "holders": {client: expires_ns}}"""
        self.refuse: dict[str, tuple[str, str]] = {}
        self.script: Callable[[Request], Answer] | None = None
        self.lease = 30.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    # -- what tests read -------------------------------------------------------------------

    def ops(self, op: str) -> list[Request]:
        with self._lock:
            return [r for _, r in self.requests if r.get("op") == op]

    def times(self, op: str) -> list[float]:
        with self._lock:
            return [t for t, r in self.requests if r.get("op") == op]

    def wait_op(self, op: str, count: int = 1) -> list[Request]:
        return list(wait_for(lambda: len(self.ops(op)) >= count and self.ops(op), f"{count} {op}"))

    def forget(self) -> None:
        with self._lock:
            self.holds.clear()

    # -- answering -------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.socket.poll(50):
                continue
            frames = self.socket.recv_multipart()
            envelope, body = frames[:-1], frames[-1]
            try:
                request = msgpack.unpackb(body)
            except Exception:
                request = {"garbage": body}
            with self._lock:
                self.requests.append((time.monotonic(), request))
            answer = self.answer(request)
            if answer is not None and answer is not self.SILENT:
                self.socket.send_multipart([*envelope, msgpack.packb(answer)])

    def answer(self, request: Request) -> Answer:
        if self.script is not None:
            scripted = self.script(request)
            if scripted is not None:
                return scripted
        if not isinstance(request, dict) or request.get("v") != 1:
            return error("bad_request", "not a version 1 request")
        handler = getattr(self, f"_op_{request.get('op')}", None)
        if handler is None:
            return error("bad_request", f"unknown op {request.get('op')!r}")
        with self._lock:
            answer: Answer = handler(request)
            return answer

    def _expires(self, request: Request) -> int:
        return time.time_ns() + int(float(request.get("lease", self.lease)) * 1e9)

    def _op_subscribe(self, request: Request) -> Answer:
        spec = request["instrument"]
        symbol = spec.get("symbol", "")
        if symbol in self.refuse:
            code, message = self.refuse[symbol]
            return error(code, message)
        if spec.get("sec_type") == "FUT" and "last_trade_date" not in spec and "con_id" not in spec:
            return error(
                "ambiguous_contract", f"{symbol} matches 2 contracts", candidates=CANDIDATES
            )
        try:
            kinds = parse_kinds(request.get("data", ["l1"]))
        except KindError as exc:
            return error("bad_request", str(exc))
        key = spec.get("key") or symbol or str(spec.get("con_id"))
        if key not in self.holds and len(self.holds) >= self.budget:
            return error("budget_exceeded", f"{len(self.holds)} of {self.budget} lines in use")
        conid = int(spec.get("con_id", 1000 + len(key)))
        hold = self.holds.setdefault(key, {"conid": conid, "holders": {}})
        expires = self._expires(request)
        hold["holders"][request["client"]] = expires
        return {"v": 1, "ok": True, "key": key, "conid": conid, "topics": topics(kinds, key),
                "state": "pending", "lease_expires": expires}  # fmt: skip

    def _op_renew(self, request: Request) -> Answer:
        unknown = [
            k
            for k in request["keys"]
            if request["client"] not in self.holds.get(k, {}).get("holders", {})
        ]
        if unknown:
            return error("bad_request", f"not held by {request['client']}: {', '.join(unknown)}")
        expires = self._expires(request)
        for key in request["keys"]:
            self.holds[key]["holders"][request["client"]] = expires
        return {"v": 1, "ok": True, "lease_expires": expires}

    def _op_unsubscribe(self, request: Request) -> Answer:
        for key in request["keys"]:
            self.holds.get(key, {}).get("holders", {}).pop(request["client"], None)
            if key in self.holds and not self.holds[key]["holders"]:
                del self.holds[key]
        return {"v": 1, "ok": True}

    def _op_list(self, request: Request) -> Answer:
        instruments = [
            {"key": key, "conid": hold["conid"], "data": ["l1"], "state": "subscribed",
             "pinned": False, "holders": sorted(hold["holders"]),
             "lease_expires": max(hold["holders"].values(), default=None)}
            for key, hold in sorted(self.holds.items())
        ]  # fmt: skip
        return {"v": 1, "ok": True, "lines_used": len(self.holds), "lines_budget": self.budget,
                "instruments": instruments}  # fmt: skip

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.socket.close(linger=0)


class Bus:
    """A PUB socket sending contract v1 ticks, statuses and heartbeats of one publisher."""

    def __init__(self, context: zmq.Context[Any], sid: int = 4242, pub: str = "ibpub") -> None:
        self.socket = context.socket(zmq.PUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        port = self.socket.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{port}"
        self.sid = sid
        self.pub = pub
        self.seqs: dict[str, int] = {}
        self.latest: dict[str, dict[str, Any]] = {}
        self.books: dict[str, DepthBook] = {}

    def restart(self, sid: int) -> None:
        self.sid = sid
        self.seqs.clear()
        self.latest.clear()
        self.books.clear()

    def _send(self, topic: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        seq = self.seqs[topic] = self.seqs.get(topic, 0) + 1
        payload = {"v": 1, "type": kind, "pub": self.pub, "sid": self.sid, "seq": seq,
                   "ts": time.time_ns(), **body}  # fmt: skip
        self.socket.send_multipart([topic.encode(), msgpack.packb(payload)])
        return payload

    def tick(self, key: str, price: float = 1.5) -> dict[str, Any]:
        payload = self._send(f"tick.{key}", "tick", {
            "key": key, "conid": 1, "field": "bid", "tick_type": 1, "price": price,
            "attrib": 0, "mdt": 1, "ts_recv": time.time_ns(),
        })  # fmt: skip
        self.latest[f"tick.{key}"] = payload
        return payload

    def depth(
        self, key: str, position: int, operation: str, side: str, price: float, size: float,
        *, lost: bool = False,
    ) -> None:  # fmt: skip
        """Apply one change to ``key``'s book and send it (``lost``: count it, never send it)."""
        book = self.books.setdefault(key, DepthBook())
        assert book.apply(position, operation, side, price, size), "an impossible test change"
        topic = f"depth.{key}"
        body = {"key": key, "conid": 1, "position": position, "operation": operation,
                "side": side, "price": price, "size": size, "market_maker": None,
                "is_smart": False, "ts_recv": time.time_ns()}  # fmt: skip
        if lost:
            self.seqs[topic] = self.seqs.get(topic, 0) + 1
        else:
            self._send(topic, "depth", body)

    def snapshot_topics(self, prefix: str) -> list[dict[str, Any]]:
        """The snapshot entries of the data topics under ``prefix``, as they stand now (a
        depth topic's with its whole book)."""
        entries = []
        for topic, seq in list(self.seqs.items()):
            if not topic.startswith(prefix) or not topic.startswith(DATA_PREFIXES):
                continue
            entry: dict[str, Any] = {"topic": topic, "seq": seq, "ticks": []}
            if topic in self.latest:
                entry["ticks"] = [self.latest[topic]]
            if topic.startswith("depth."):
                book = self.books[topic[len("depth.") :]]
                entry["book"] = {"bids": [list(r) for r in book.bids],
                                 "asks": [list(r) for r in book.asks]}  # fmt: skip
            entries.append(entry)
        return entries

    def status(
        self, key: str | None, state: str, code: int | None = None, message: str = ""
    ) -> dict[str, Any]:
        scope = "gateway" if key is None else "instrument"
        return self._send(f"status.{self.pub}", "status", {
            "scope": scope, "state": state, "key": key, "code": code, "message": message,
        })  # fmt: skip

    def heartbeat(self) -> dict[str, Any]:
        seqs = {t: s for t, s in self.seqs.items() if t.startswith(DATA_PREFIXES)}
        return self._send(f"hb.{self.pub}", "hb", {"gateway": "connected", "seqs": seqs})

    def close(self) -> None:
        self.socket.close(linger=0)


class SnapshotServer:
    """Answers snapshot requests with a fixed reply (``states`` included when given)."""

    def __init__(
        self,
        context: zmq.Context[Any],
        sid: int,
        states: list[dict[str, Any]] | None,
        bus: "Bus | None" = None,
    ) -> None:
        self.socket = context.socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        port = self.socket.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{port}"
        self.reply: dict[str, Any] = {"v": 1, "sid": sid, "ts": time.time_ns(), "topics": []}
        if states is not None:
            self.reply["states"] = states
        self.requests: list[dict[str, Any]] = []
        self.bus = bus
        """When given, each reply lists the bus's data topics at their current seq (and the
        latest tick of each tick topic), as a real publisher's would."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.socket.poll(50):
                frames = self.socket.recv_multipart()
                request = msgpack.unpackb(frames[-1])
                self.requests.append(request)
                reply = dict(self.reply)
                if self.bus is not None:
                    reply["topics"] = self.bus.snapshot_topics(request.get("prefix", ""))
                self.socket.send_multipart([*frames[:-1], msgpack.packb(reply)])

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.socket.close(linger=0)


@contextmanager
def servers(
    budget: int = 100, curve_secret: bytes | None = None
) -> Iterator[tuple[zmq.Context[Any], ControlServer, Bus]]:
    context: zmq.Context[Any] = zmq.Context()
    control = ControlServer(context, budget, curve_secret)
    bus = Bus(context)
    try:
        yield context, control, bus
    finally:
        control.close()
        bus.close()
        context.term()
