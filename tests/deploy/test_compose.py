"""deploy/compose.yaml with deploy/.env.example: parses, refers to files that exist, and agrees
with the container config, the image, Prometheus' scrape targets and Grafana's provisioning.

Compose itself is not run (no Docker engine here): the file is read after the same variable
interpolation compose applies, with the values a user copies from deploy/.env.example.
"""

import argparse
import json
import re
import shutil
import subprocess
import tomllib
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
import yaml

import subscribers.cli as subscriber_cli
from publisher.config import load_settings
from tests.deploy.files import (
    COMPOSE_FILE,
    DEPLOY,
    REPO,
    compose_variables,
    env_example,
    load_compose,
    published_ports,
    volumes,
)

SERVICES = {"ib-gateway", "ibpub", "ibsub-probe", "prometheus", "grafana", "nats", "ibpub-bridge"}
REQUIRED = {"TWS_USERID", "TWS_PASSWORD", "GRAFANA_ADMIN_PASSWORD"}
FILLED_IN = {"TWS_USERID": "user", "TWS_PASSWORD": "secret", "GRAFANA_ADMIN_PASSWORD": "admin"}
CONTAINER_CONFIG = DEPLOY / "compose" / "ibpub.toml"
GATEWAY_API_PORTS = {"paper": 4004, "live": 4003}
"""What gnzsnz/ib-gateway relays to the compose network (socat from 127.0.0.1:4002/4001)."""


def _compose() -> dict[str, Any]:
    values, _ = env_example()
    return load_compose({**values, **FILLED_IN})


def _service(name: str) -> dict[str, Any]:
    service: dict[str, Any] = _compose()["services"][name]
    return service


def _mount_source(service: str, target: str) -> Path:
    """The host path compose mounts at ``target`` in ``service`` (relative to deploy/)."""
    for volume in volumes(_service(service)):
        if volume.target == target:
            return (DEPLOY / volume.source).resolve()
    raise AssertionError(f"{service}: nothing mounted at {target}")


def test_the_file_parses_with_the_expected_services() -> None:
    """compose.yaml is YAML with the gateway, the publisher, a probe, Prometheus and Grafana."""
    assert set(yaml.safe_load(COMPOSE_FILE.read_text())["services"]) == SERVICES


def test_every_variable_is_documented_in_the_env_example() -> None:
    """Each ${VAR} compose reads appears in .env.example, and .env.example lists nothing else."""
    values, commented = env_example()
    used = set(compose_variables(COMPOSE_FILE.read_text()))
    assert used == set(values) | commented


def test_credentials_are_required_and_never_in_the_repository() -> None:
    """Credentials are ${VAR:?...} in compose, empty in .env.example, and deploy/.env is ignored."""
    values, _ = env_example()
    variables = compose_variables(COMPOSE_FILE.read_text())
    for name in REQUIRED:
        assert variables[name][0] == ":?", name
        assert values[name] == "", name
    with pytest.raises(KeyError):
        load_compose(values)
    ignored = subprocess.run(["git", "check-ignore", "-q", "deploy/.env"], cwd=REPO, check=False)
    assert ignored.returncode == 0, "deploy/.env must be git-ignored"


def test_paper_trading_is_the_default() -> None:
    """TRADING_MODE defaults to paper and ibpub's gateway port is the gateway's paper port."""
    values, _ = env_example()
    assert values["TRADING_MODE"] == "paper"
    gateway = _service("ib-gateway")["environment"]
    assert gateway["TRADING_MODE"] == "paper"
    assert int(_service("ibpub")["environment"]["IBPUB_GATEWAY_PORT"]) == GATEWAY_API_PORTS["paper"]


def test_every_mounted_host_path_exists() -> None:
    """Every relative bind mount, and the build context and Dockerfile, exist in the repo."""
    compose = _compose()
    for name, service in compose["services"].items():
        for volume in volumes(service):
            if volume.source.startswith("."):
                assert (DEPLOY / volume.source).exists(), f"{name}: {volume.source}"
    build = compose["services"]["ibpub"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).is_file()


def test_the_publisher_config_in_the_container_is_valid_and_reaches_the_gateway() -> None:
    """The mounted config loads with compose's environment and points at the gateway service."""
    mounted = _mount_source("ibpub", "/etc/ibpub/ibpub.toml")
    env = {k: str(v) for k, v in _service("ibpub")["environment"].items()}
    settings = load_settings(mounted, env)
    assert settings.gateway.host in _compose()["services"]
    assert settings.gateway.port in GATEWAY_API_PORTS.values()
    file_port = tomllib.loads(mounted.read_text())["gateway"]["port"]
    assert file_port == settings.gateway.port  # the file alone agrees with compose's default


def test_published_ports_are_the_ports_the_container_binds_on_all_interfaces() -> None:
    """Bus, snapshot and metrics bind 0.0.0.0 in the container and are all published."""
    settings = load_settings(_mount_source("ibpub", "/etc/ibpub/ibpub.toml"), {})
    binds = [*settings.bus.pub, settings.bus.snapshot, "tcp://" + settings.metrics.listen]
    ports = set()
    for endpoint in binds:
        host, _, port = endpoint.removeprefix("tcp://").rpartition(":")
        assert host == "0.0.0.0", endpoint
        ports.add(int(port))
    published = published_ports(_service("ibpub"))
    assert set(published) == ports
    assert all(address == "127.0.0.1" for address, _ in published.values())


def test_the_gateway_api_is_not_published_on_the_host() -> None:
    """Only VNC (on 127.0.0.1) is published for the gateway; its API stays on the network."""
    published = published_ports(_service("ib-gateway"))
    assert set(published) == {5900}
    assert published[5900][0] == "127.0.0.1"


def test_every_service_restarts_by_itself() -> None:
    """Each service has a restart policy of always or unless-stopped."""
    for name, service in _compose()["services"].items():
        assert service.get("restart") in ("always", "unless-stopped"), name


def _scrape_targets() -> dict[str, set[str]]:
    """Job name -> targets of the compose Prometheus config."""
    config = yaml.safe_load(
        _mount_source("prometheus", "/etc/prometheus/prometheus.yml").read_text()
    )
    return {
        job["job_name"]: {t for static in job["static_configs"] for t in static["targets"]}
        for job in config["scrape_configs"]
    }


def _probe_args() -> argparse.Namespace:
    """The probe service's command as `ibsub` parses it."""
    probe = _service("ibsub-probe")
    return subscriber_cli.build_parser().parse_args([*probe["entrypoint"][1:], *probe["command"]])


def test_prometheus_scrapes_the_publisher_service_on_its_metrics_port() -> None:
    """The compose Prometheus config has job ibpub on ibpub:<the config's metrics port>."""
    settings = load_settings(_mount_source("ibpub", "/etc/ibpub/ibpub.toml"), {})
    assert _scrape_targets()["ibpub"] == {f"ibpub:{settings.metrics.listen.rpartition(':')[2]}"}


def test_the_probe_subscribes_to_the_publisher_and_is_scraped() -> None:
    """The probe's `ibsub latency` parses, reads ibpub's bus and is Prometheus' ibsub job."""
    probe = _service("ibsub-probe")
    assert probe["entrypoint"] == ["ibsub", "latency"]
    args = _probe_args()
    settings = load_settings(_mount_source("ibpub", "/etc/ibpub/ibpub.toml"), {})
    bus_port = settings.bus.pub[0].rpartition(":")[2]
    assert args.endpoint == f"tcp://ibpub:{bus_port}"
    assert _scrape_targets()["ibsub"] == {f"ibsub-probe:{args.metrics_listen.rpartition(':')[2]}"}


def test_every_job_the_alert_rules_name_is_scraped() -> None:
    """Each job="..." in the mounted alert rules is a scrape job of the compose config."""
    config = yaml.safe_load(
        _mount_source("prometheus", "/etc/prometheus/prometheus.yml").read_text()
    )
    jobs = set()
    for rule_file in config["rule_files"]:
        rules = _mount_source("prometheus", f"/etc/prometheus/{rule_file}").read_text()
        jobs |= set(re.findall(r'job="([^"]+)"', rules))
    assert jobs and jobs <= set(_scrape_targets())


def test_promtool_accepts_the_compose_prometheus_config(tmp_path: Path) -> None:
    """promtool checks the compose Prometheus config and its rules laid out as in the container."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: run `make prometheus` (Debian's prometheus package)"
    config_path = _mount_source("prometheus", "/etc/prometheus/prometheus.yml")
    shutil.copy(config_path, tmp_path / "prometheus.yml")
    for rule_file in yaml.safe_load(config_path.read_text())["rule_files"]:
        shutil.copy(_mount_source("prometheus", f"/etc/prometheus/{rule_file}"), tmp_path)
    result = subprocess.run(
        [promtool, "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_uses_this_stacks_prometheus() -> None:
    """The provisioned data source is the prometheus service on its container port."""
    provisioning = _mount_source("grafana", "/etc/grafana/provisioning")
    sources = [
        source
        for path in sorted((provisioning / "datasources").glob("*.yml"))
        for source in yaml.safe_load(path.read_text())["datasources"]
    ]
    assert [s["type"] for s in sources] == ["prometheus"]
    url = urllib.parse.urlsplit(sources[0]["url"])
    assert url.hostname == "prometheus" and url.hostname in _compose()["services"]
    assert url.port in published_ports(_service("prometheus"))


def test_grafana_loads_the_projects_dashboards() -> None:
    """The dashboard provider reads the directory where deploy/grafana is mounted, which holds
    at least one dashboard whose fixed data source uids are all provisioned."""
    provisioning = _mount_source("grafana", "/etc/grafana/provisioning")
    providers = [
        provider
        for path in sorted((provisioning / "dashboards").glob("*.yml"))
        for provider in yaml.safe_load(path.read_text())["providers"]
    ]
    dashboards_dir = _mount_source("grafana", providers[0]["options"]["path"])
    assert dashboards_dir == (DEPLOY / "grafana").resolve()
    dashboards = sorted(dashboards_dir.rglob("*.json"))
    assert dashboards, "no dashboard JSON under deploy/grafana"
    uids = {
        source["uid"]
        for path in sorted((provisioning / "datasources").glob("*.yml"))
        for source in yaml.safe_load(path.read_text())["datasources"]
    }
    for path in dashboards:
        for used in _datasource_uids(json.loads(path.read_text())):
            assert used.startswith("$") or used in uids, f"{path.name}: datasource uid {used!r}"


BUILT_IN_SOURCES = {"grafana", "datasource"}
"""Types of Grafana's own sources (annotations, mixed), which need no provisioning."""


def _datasource_uids(node: Any) -> set[str]:
    """Every ``datasource: {uid: ...}`` in a dashboard (variables like ``${ds}`` included)."""
    found: set[str] = set()
    if isinstance(node, dict):
        source = node.get("datasource")
        if (
            isinstance(source, dict)
            and isinstance(source.get("uid"), str)
            and source.get("type") not in BUILT_IN_SOURCES
        ):
            found.add(source["uid"])
        for value in node.values():
            found |= _datasource_uids(value)
    elif isinstance(node, list):
        for value in node:
            found |= _datasource_uids(value)
    return found
