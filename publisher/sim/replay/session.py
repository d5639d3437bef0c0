"""One client connection served from a recording, with the simulator behind it.

The handshake negotiates the recording's version (a client that cannot speak it is refused as
TWS refuses a version mismatch) and sends the recorded reply; startApi starts the unsolicited
frames at their recorded offsets; each request the script can answer is answered from the
recording under the client's request id, and every other request goes to the simulator's own
:class:`~publisher.sim.session.Session` logic (catalogue, contract details, market data from the
seeded market). Offsets are divided by the gateway's ``speed``; speed 0 sends at once.
"""

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol

from publisher.sim.protocol import (
    CLIENT_ID_IN_USE,
    CLIENT_ID_IN_USE_TEXT,
    CancelMktData,
    Encoder,
    Hello,
    Request,
    StartApi,
    VersionMismatchError,
    frame,
)
from publisher.sim.replay.requestids import with_req_id
from publisher.sim.replay.script import RecordedRequest, Script, req_id_of
from publisher.sim.session import Session, SessionHost, _State

log = logging.getLogger(__name__)

_Item = tuple[int, bytes]  # (offset in ns, frame payload)


class ReplayHost(SessionHost, Protocol):
    """What a replay session needs of its gateway, beyond a simulated session's needs."""

    @property
    def script(self) -> Script:
        """The recording to serve."""
        ...

    @property
    def speed(self) -> float:
        """Recorded time is divided by this; 0 sends everything at once."""
        ...


class ReplaySession(Session):
    """A :class:`Session` that answers from a recording first."""

    def __init__(self, gateway: ReplayHost, conn_id: int) -> None:
        super().__init__(gateway, conn_id)
        self._script = gateway.script
        self._speed = gateway.speed
        self._taken: set[int] = set()
        self._players: dict[int | None, list[asyncio.Task[None]]] = {}
        self.replayed = 0
        """Frames sent from the recording so far."""

    # -- handshake and startApi -------------------------------------------------------------

    def _handshake(self, hello: Hello) -> None:
        version = self._script.server_version
        if not hello.min_version <= version <= hello.max_version:
            raise VersionMismatchError(hello.min_version, hello.max_version, version, version)
        self.server_version = version
        self._encoder = Encoder(version)
        self._state = _State.HANDSHAKEN
        self._cancel_handshake_timer()
        self.write(frame(self._script.recording.handshake))
        log.info(
            "replay handshake conn=%d peer=%s client=v%d..%d recorded=%d",
            self.conn_id,
            self.peer,
            hello.min_version,
            hello.max_version,
            version,
        )

    def _start_replay(self, request: StartApi) -> None:
        if not self.gateway.claim_client_id(request.client_id, self):
            self.write(self._error(-1, CLIENT_ID_IN_USE, CLIENT_ID_IN_USE_TEXT))
            self.close()
            return
        self.client_id = request.client_id
        self._state = _State.READY
        items = [(u.offset_ns, u.payload) for u in self._script.unsolicited]
        self._play(None, items)
        log.info(
            "replay started conn=%d client_id=%d unsolicited=%d recorded_requests=%d",
            self.conn_id,
            request.client_id,
            len(items),
            len(self._script.requests),
        )

    # -- requests -----------------------------------------------------------------------------

    def _dispatch(self, request: Request) -> None:
        """Replay what the recording answers; hand the rest to the simulator's session. Either
        way a request counts once against the pacing limit (``--pacing-limit``)."""
        ready = self._state is _State.READY
        if isinstance(request, StartApi):
            if self.gateway.faults.admit_request(self) and self._state is _State.HANDSHAKEN:
                self._start_replay(request)
            return
        if ready and isinstance(request, CancelMktData) and request.req_id in self._players:
            if self.gateway.faults.admit_request(self):
                self._stop(request.req_id)
            return
        index = self._script.find(request, self._taken) if ready else None
        if index is None:
            super()._dispatch(request)
            return
        if self.gateway.faults.admit_request(self):
            self._taken.add(index)
            self._answer(request, self._script.requests[index])

    def _answer(self, live: Request, recorded: RecordedRequest) -> None:
        live_id = req_id_of(live)
        version = self._script.server_version
        items = []
        for answer in recorded.answers:
            payload = answer.payload
            if answer.req_id is not None and live_id is not None and answer.req_id != live_id:
                payload = with_req_id(payload, version, live_id)
            items.append((answer.offset_ns, payload))
        log.info(
            "replaying conn=%d %s req_id=%s (recorded %s): %d frames",
            self.conn_id,
            type(live).__name__,
            live_id,
            req_id_of(recorded.request),
            len(items),
        )
        self._play(live_id, items)

    # -- sending at the recorded offsets -------------------------------------------------------

    def _play(self, key: int | None, items: Sequence[_Item]) -> None:
        """Send ``items`` now or at their offsets; a later cancel of ``key`` stops the rest."""
        now = [p for offset, p in items if self._speed == 0 or offset == 0]
        if len(now) == len(items):
            self._send(now)
            self._players.setdefault(key, [])
            return
        task = asyncio.get_running_loop().create_task(self._later(items))
        self._players.setdefault(key, []).append(task)

    async def _later(self, items: Sequence[_Item]) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        batch: list[bytes] = []
        for offset, payload in items:
            due = start + offset / 1e9 / self._speed
            if due > loop.time():
                self._send(batch)
                batch = []
                await asyncio.sleep(due - loop.time())
            batch.append(payload)
        self._send(batch)

    def _send(self, payloads: Sequence[bytes]) -> None:
        if payloads:
            self.write(b"".join(frame(p) for p in payloads))
            self.replayed += len(payloads)

    def pending_timers(self) -> int:
        """Answer streams still waiting for a recorded offset (0 once all are sent or cancelled)."""
        return sum(not t.done() for tasks in self._players.values() for t in tasks)

    def _stop(self, key: int | None) -> None:
        for task in self._players.pop(key, []):
            task.cancel()

    def connection_lost(self, exc: Exception | None) -> None:
        for key in list(self._players):
            self._stop(key)
        log.info("replay session ended conn=%d frames_replayed=%d", self.conn_id, self.replayed)
        super().connection_lost(exc)
