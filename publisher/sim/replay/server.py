"""The replaying gateway: the simulator's listener and shared state, with replay sessions."""

from typing import Final

from publisher.sim.catalogue import Catalogue
from publisher.sim.protocol import MAX_SERVER_VERSION, MIN_SERVER_VERSION
from publisher.sim.replay.recording import ReplayError, load_recording
from publisher.sim.replay.script import Script, build_script
from publisher.sim.replay.session import ReplaySession
from publisher.sim.server import AsyncGateway
from publisher.sim.session import Session

DEFAULT_SPEED: Final = 1.0


def load_script(path: str, session: int | None = None) -> Script:
    """Read and prepare a recording; :class:`ReplayError` for anything unusable."""
    recording = load_recording(path, session)
    version = recording.server_version
    if not MIN_SERVER_VERSION <= version <= MAX_SERVER_VERSION:
        raise ReplayError(
            path,
            f"recorded server version {version} is outside the "
            f"{MIN_SERVER_VERSION}..{MAX_SERVER_VERSION} this ibapi speaks",
        )
    script = build_script(recording)
    if not recording.frames:
        raise ReplayError(path, "the recording holds no frames after the handshake")
    return script


class ReplayGateway(AsyncGateway):
    """An :class:`AsyncGateway` whose sessions answer from ``script`` first.

    The simulated market streams nothing by itself (rate 0): a request the recording cannot
    answer gets the simulator's reply and initial ticks only, so recorded ticks are not mixed
    with random ones.
    """

    def __init__(
        self, script: Script, *, speed: float = DEFAULT_SPEED, catalogue: Catalogue | None = None
    ) -> None:
        if not speed >= 0:
            raise ValueError(f"speed must be >= 0, not {speed}")
        super().__init__(rate=0, max_server_version=script.server_version, catalogue=catalogue)
        self._script = script
        self._speed = speed

    @property
    def script(self) -> Script:
        return self._script

    @property
    def speed(self) -> float:
        return self._speed

    def _new_session(self) -> Session:
        session = ReplaySession(self, next(self._conn_ids))
        self._sessions.add(session)
        return session
