"""Readers for the deploy files: compose-style variable interpolation, unit files, Dockerfiles.

Each is the smallest reader that lets a test check what the real tool would see; none of them
pretends to be the tool (the tools themselves run where they exist: hadolint, systemd-analyze,
promtool).
"""

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from tests.support.paths import REPO as REPO  # re-exported for the deploy tests

DEPLOY: Final = REPO / "deploy"
COMPOSE_FILE: Final = DEPLOY / "compose.yaml"
ENV_EXAMPLE: Final = DEPLOY / ".env.example"
DOCKERFILE: Final = DEPLOY / "docker" / "Dockerfile"
SYSTEMD: Final = DEPLOY / "systemd"

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}, as compose reads them.
_VARIABLE: Final = re.compile(
    r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
)


def compose_variables(text: str) -> dict[str, tuple[str | None, str | None]]:
    """Every ``${NAME...}`` in ``text``: name -> (operator, argument) of its first use."""
    found: dict[str, tuple[str | None, str | None]] = {}
    for match in _VARIABLE.finditer(text):
        found.setdefault(match["name"], (match["op"], match["arg"]))
    return found


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """``text`` with compose's interpolation applied; a ``:?``/``?`` variable left unset raises."""

    def replace(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"] or ""
        value = env.get(name)
        missing = value is None or (op is not None and op.startswith(":") and value == "")
        if missing and op in (":?", "?"):
            raise KeyError(f"{name}: {arg}")
        if missing and op in (":-", "-"):
            return arg
        return value or ""

    return _VARIABLE.sub(replace, text)


def env_example() -> tuple[dict[str, str], set[str]]:
    """deploy/.env.example: the variables it sets, and the ones it documents commented out."""
    values: dict[str, str] = {}
    commented: set[str] = set()
    for line in ENV_EXAMPLE.read_text().splitlines():
        active = re.fullmatch(r"([A-Z_][A-Z0-9_]*)=(.*)", line)
        if active:
            values[active[1]] = active[2]
            continue
        shown = re.fullmatch(r"# ?([A-Z_][A-Z0-9_]*)=.*", line)
        if shown:
            commented.add(shown[1])
    return values, commented


def load_compose(env: Mapping[str, str]) -> dict[str, Any]:
    """deploy/compose.yaml after interpolation with ``env``."""
    loaded: dict[str, Any] = yaml.safe_load(interpolate(COMPOSE_FILE.read_text(), env))
    return loaded


@dataclass(frozen=True, slots=True)
class Volume:
    source: str
    target: str
    read_only: bool


def volumes(service: Mapping[str, Any]) -> list[Volume]:
    """A service's short-syntax volumes (``source:target[:ro]``)."""
    result = []
    for entry in service.get("volumes", []):
        parts = entry.split(":")
        result.append(Volume(parts[0], parts[1], parts[2:] == ["ro"]))
    return result


def published_ports(service: Mapping[str, Any]) -> dict[int, tuple[str, int]]:
    """Container port -> (host address, host port) of a service's short-syntax ports."""
    result = {}
    for entry in service.get("ports", []):
        address, host_port, container_port = str(entry).rsplit(":", 2)
        result[int(container_port)] = (address, int(host_port))
    return result


def unit_file(path: Path) -> dict[str, dict[str, list[str]]]:
    """A systemd unit: section -> key -> every value given (keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        header = re.fullmatch(r"\[(.+)\]", line)
        if header:
            current = sections.setdefault(header[1], {})
            continue
        assert current is not None, f"{path}: {line!r} before any section"
        key, _, value = line.partition("=")
        current.setdefault(key, []).append(value)
    return sections


def unit_command(command: str, env: Mapping[str, str]) -> list[str]:
    """An ``Exec*=`` line as systemd runs it: ``$NAME`` splits into words, ``${NAME}`` stays one."""
    argv: list[str] = []
    for word in shlex.split(command):
        whole = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
        if whole:
            argv.extend(env.get(whole[1], "").split())
            continue
        argv.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: env.get(m[1], ""), word))
    return argv


@dataclass(frozen=True, slots=True)
class Instruction:
    keyword: str
    arguments: str


def dockerfile_instructions(path: Path = DOCKERFILE) -> list[Instruction]:
    """The instructions of a Dockerfile, continuation lines joined, comments dropped."""
    instructions: list[Instruction] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def exec_form(arguments: str) -> list[str]:
    """The JSON array of an exec-form instruction (``CMD ["a", "b"]``)."""
    parsed = json.loads(arguments)
    assert isinstance(parsed, list) and all(isinstance(a, str) for a in parsed), arguments
    return parsed
