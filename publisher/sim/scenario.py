"""Scripted faults for ``ibpub sim --scenario AT:FAULT[=ARG]``: parsing steps and running them.

A scenario is a list of :class:`Step`; :func:`schedule` runs each at its time on the gateway's
loop through :class:`~publisher.sim.faults.Faults`, so a scripted fault is exactly the fault a
test calls by hand.
"""

import functools
import logging
from dataclasses import dataclass
from typing import Final

from publisher.errors import IbpubError
from publisher.sim.faults import Faults

log = logging.getLogger(__name__)


class ScenarioError(IbpubError, ValueError):
    """A ``--scenario`` step that cannot be parsed; the message says why."""


@dataclass(frozen=True, slots=True)
class Step:
    """One scripted fault: ``at`` seconds after start, ``fault`` with its argument."""

    at: float
    fault: str
    arg: str = ""


SCENARIO_HELP: Final = (
    "AT:FAULT[=ARG], comma-separated or repeated; AT is seconds after start. Faults: drop, "
    "refuse=SECONDS, silent[=SECONDS], error=CODE[@SYMBOL], reject=CODE@SYMBOL, garbage, "
    "flood=TICKS, oversized, truncated, mute=SYMBOL, unmute=SYMBOL, reserve-client-id=ID, "
    "pacing=LIMIT. Example: --scenario 5:drop,10:refuse=3,20:error=1101,30:flood=300000"
)
_FAULTS: Final = frozenset(
    {
        "drop",
        "refuse",
        "silent",
        "error",
        "reject",
        "garbage",
        "flood",
        "oversized",
        "truncated",
        "mute",
        "unmute",
        "reserve-client-id",
        "pacing",
    }
)
_NEEDS_ARG: Final = frozenset(
    {"refuse", "error", "reject", "flood", "mute", "unmute", "reserve-client-id", "pacing"}
)


def parse_scenario(text: str) -> list[Step]:
    """``"5:drop,10:refuse=3"`` -> steps; raises :class:`ScenarioError` naming the bad part."""
    steps = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        at_text, sep, rest = part.partition(":")
        fault, _, arg = rest.partition("=")
        try:
            at = float(at_text)
        except ValueError:
            raise ScenarioError(f"{part!r}: expected AT:FAULT, AT in seconds") from None
        if not sep or fault not in _FAULTS:
            raise ScenarioError(f"{part!r}: unknown fault {fault!r}; known: {sorted(_FAULTS)}")
        if fault in _NEEDS_ARG and not arg:
            raise ScenarioError(f"{part!r}: {fault} needs =ARG")
        steps.append(Step(max(0.0, at), fault, arg))
    return steps


def run_step(faults: Faults, step: Step) -> None:
    """Carry out one scripted step (on the gateway's loop)."""
    arg = step.arg
    match step.fault:
        case "drop":
            faults.drop_all()
        case "refuse":
            faults.refuse_for(float(arg))
        case "silent":
            faults.go_silent(float(arg) if arg else None)
        case "error":
            code, _, symbol = arg.partition("@")
            faults.send_error(int(code), symbol=symbol or None)
        case "reject":
            code, _, symbol = arg.partition("@")
            faults.reject_market_data(symbol, int(code))
        case "garbage":
            faults.send_garbage()
        case "flood":
            faults.flood(int(arg))
        case "oversized":
            faults.send_oversized()
        case "truncated":
            faults.send_truncated()
        case "mute":
            faults.mute(arg)
        case "unmute":
            faults.unmute(arg)
        case "reserve-client-id":
            faults.reserve_client_id(int(arg))
        case "pacing":
            faults.pacing_limit = int(arg) or None


def schedule(faults: Faults, steps: list[Step]) -> None:
    """Run ``steps`` at their times on the running loop."""
    for step in steps:
        faults.call_later(step.at, functools.partial(_guarded, faults, step))


def _guarded(faults: Faults, step: Step) -> None:
    try:
        run_step(faults, step)
    except (ValueError, OSError) as exc:  # a bad argument must not stop the simulator
        log.error("scenario step %s failed: %s", step, exc)
