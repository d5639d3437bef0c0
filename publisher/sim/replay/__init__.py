"""``ibpub sim --replay``: serve a recorded gateway session (docs/record-replay.md).

:mod:`~publisher.sim.replay.recording` reads tap files and the capture directories;
:mod:`~publisher.sim.replay.requestids` finds and rewrites request ids in server frames;
:mod:`~publisher.sim.replay.script` attributes answers to requests and matches live requests;
:mod:`~publisher.sim.replay.session` and :mod:`~publisher.sim.replay.server` serve it.
"""

from publisher.sim.replay.recording import Recording, ReplayError, load_recording
from publisher.sim.replay.script import Script, build_script
from publisher.sim.replay.server import DEFAULT_SPEED, ReplayGateway, load_script

__all__ = [
    "DEFAULT_SPEED",
    "Recording",
    "ReplayError",
    "ReplayGateway",
    "Script",
    "build_script",
    "load_recording",
    "load_script",
]
