"""A real Prometheus in the loop: it scrapes `ibpub run` (fed by `ibpub sim`) and an
`ibsub latency` probe, loads deploy/prometheus/alerts.yml, and answers through its HTTP API.

Everything runs as the user would run it: three of our commands as subprocesses and Debian's
`prometheus` binary, on free loopback ports, with a configuration generated from
deploy/prometheus/prometheus.yml (targets and a 1 s scrape interval swapped in). When
prometheus is not installed the tests fail and say to run `make prometheus`.
"""

import functools
import json
import math
import re
import subprocess
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest
import yaml

from tests.support.config import AAPL, ESZ6, EURUSD, MSFT, SPY
from tests.support.metrics import http_get, tool
from tests.support.paths import DEPLOY
from tests.support.processes import BIN, Processes, free_port, port_open, processes
from tests.support.stack import Publisher
from tests.support.waiting import wait_for

KEYS = ("AAPL", "MSFT", "SPY", "ESZ6", "EUR.USD")

GRAFANA_INTERVALS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}


@dataclass
class Loop:
    """The running processes' addresses and Prometheus's query API."""

    prometheus: str
    metrics_port: int
    probe_port: int
    logs: Path

    def api(self, path: str, **params: str) -> tuple[int, dict[str, Any]]:
        """GET a Prometheus API path; (HTTP status, decoded JSON)."""
        query = urllib.parse.urlencode(params)
        status, body = http_get(f"{self.prometheus}{path}?{query}")
        return status, json.loads(body)

    def query(self, promql: str) -> list[dict[str, Any]]:
        """An instant query's result vector; fails the test if Prometheus refuses it."""
        status, body = self.api("/api/v1/query", query=promql)
        assert status == 200 and body["status"] == "success", (promql, body)
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def log_tail(self) -> str:
        """The end of every process's log, for failure messages."""
        return "\n".join(
            f"--- {path.name}\n" + "\n".join(path.read_text().splitlines()[-15:])
            for path in sorted(self.logs.glob("*.log"))
        )


def prometheus_config(metrics_port: int, probe_port: int, prom_port: int) -> dict[str, Any]:
    """deploy/prometheus/prometheus.yml with this run's targets and a 1 s cadence."""
    config: dict[str, Any] = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(DEPLOY / "prometheus/alerts.yml")]
    targets = {"ibpub": metrics_port, "ibsub": probe_port, "prometheus": prom_port}
    # Jobs of processes these tests do not run (the NATS bridge: tests/bridge) are left out.
    config["scrape_configs"] = [j for j in config["scrape_configs"] if j["job_name"] in targets]
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": [f"127.0.0.1:{targets[job['job_name']]}"]}]
    return config


def _log(logs: Path, name: str, files: list[IO[bytes]]) -> IO[bytes]:
    handle = (logs / f"{name}.log").open("wb")
    files.append(handle)
    return handle


def _start_everything(procs: Processes, tmp: Path, files: list[IO[bytes]]) -> Loop:
    prometheus = tool("prometheus")
    logs = tmp / "logs"
    logs.mkdir()
    gw_port, metrics_port = free_port(), free_port()
    probe_port, prom_port = free_port(), free_port()
    publisher = Publisher(
        tmp,
        gw_port,
        name="prom",
        client_id=5,
        instruments=(AAPL, MSFT, SPY, ESZ6, EURUSD),
        bus={"heartbeat_interval": 0.5},
        metrics={"listen": f"127.0.0.1:{metrics_port}"},
    )
    config = publisher.config_file()
    quiet: dict[str, Any] = {"stdout": subprocess.DEVNULL}
    procs.start(
        [str(BIN / "ibpub"), "sim", "--port", str(gw_port), "--rate", "200"],
        stderr=_log(logs, "sim", files),
        **quiet,
    )
    wait_for(lambda: port_open(gw_port), "the simulator to listen")
    procs.start(
        [str(BIN / "ibpub"), "run", "--config", str(config)],
        stderr=_log(logs, "ibpub", files),
        **quiet,
    )
    procs.start(
        [
            str(BIN / "ibsub"),
            "latency",
            "--endpoint",
            publisher.endpoint,
            "--metrics-listen",
            f"127.0.0.1:{probe_port}",
            "--interval",
            "1",
            "tick.",
        ],
        stderr=_log(logs, "ibsub", files),
        **quiet,
    )
    prom_config = tmp / "prometheus.yml"
    prom_config.write_text(yaml.safe_dump(prometheus_config(metrics_port, probe_port, prom_port)))
    procs.start(
        [
            prometheus,
            f"--config.file={prom_config}",
            f"--storage.tsdb.path={tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
        stderr=_log(logs, "prometheus", files),
        **quiet,
    )
    loop = Loop(f"http://127.0.0.1:{prom_port}", metrics_port, probe_port, logs)
    wait_for(
        lambda: port_open(prom_port) and http_get(f"{loop.prometheus}/-/ready")[0] == 200,
        "Prometheus to be ready",
    )
    return loop


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    """sim + publisher + probe + Prometheus, scraping every second; all killed afterwards."""
    files: list[IO[bytes]] = []
    with processes() as procs:
        try:
            running = _start_everything(procs, tmp_path_factory.mktemp("prometheus"), files)

            def all_up() -> bool:
                _, body = running.api("/api/v1/targets", state="active")
                health = {t["labels"]["job"]: t["health"] for t in body["data"]["activeTargets"]}
                return health.get("ibpub") == "up" and health.get("ibsub") == "up"

            try:
                wait_for(all_up, "Prometheus to scrape the publisher and the probe")
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{running.log_tail()}") from None
            yield running
        finally:
            procs.cleanup()
            for handle in files:
                handle.close()


def grafana_to_promql(expr: str) -> str:
    """A dashboard expression as Grafana would send it: intervals filled in, every template
    variable (all used in =~ matchers) set to "All" (.*)."""
    for variable, value in GRAFANA_INTERVALS.items():
        expr = expr.replace(variable, value)
    return re.sub(r"\$\{?\w+\}?", ".*", expr)


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DEPLOY / "grafana/dashboards/ibpub.json").read_text())
    return data


def alert_exprs() -> list[str]:
    document = yaml.safe_load((DEPLOY / "prometheus/alerts.yml").read_text())
    return [rule["expr"] for group in document["groups"] for rule in group["rules"]]


def test_prometheus_scrapes_every_instruments_tick_rate(loop: Loop) -> None:
    """rate(ibpub_ticks_total[...]) is above zero for every configured instrument."""

    def rates() -> dict[str, float]:
        result = loop.query('rate(ibpub_ticks_total{job="ibpub"}[10s])')
        return {r["metric"]["instrument"]: float(r["value"][1]) for r in result}

    wait_for(
        lambda: all(rates().get(key, 0) > 0 for key in KEYS),
        f"a positive tick rate for each of {KEYS}",
    )


def test_prometheus_sees_tick_latency_observations(loop: Loop) -> None:
    """The tick latency histogram has observations and a finite p99 in Prometheus."""
    wait_for(
        lambda: loop.query('ibpub_tick_latency_seconds_count{job="ibpub"} > 0'),
        "latency observations",
    )

    def p99() -> float | None:
        result = loop.query(
            "histogram_quantile(0.99, sum by (le) "
            '(rate(ibpub_tick_latency_seconds_bucket{job="ibpub"}[10s])))'
        )
        value = float(result[0]["value"][1]) if result else math.nan
        return value if math.isfinite(value) and value > 0 else None  # NaN until two scrapes

    assert wait_for(p99, "a p99 of tick latency") <= 1.0


def test_prometheus_sees_the_subscriber_probe(loop: Loop) -> None:
    """The ibsub latency probe's message rate and latency histogram reach Prometheus."""
    wait_for(lambda: loop.query('rate(ibsub_messages_total{job="ibsub"}[10s]) > 0'), "ibsub rate")
    wait_for(lambda: loop.query('ibsub_latency_seconds_count{job="ibsub"} > 0'), "ibsub latency")
    assert loop.query('ibsub_lost_messages_total{job="ibsub"}')  # exported, even at zero


def test_every_alert_expression_is_accepted(loop: Loop) -> None:
    """Prometheus parses and runs every alert rule's expression."""
    for expr in alert_exprs():
        loop.query(expr)


def test_alert_rules_evaluate_without_errors(loop: Loop) -> None:
    """Prometheus loaded alerts.yml and every rule evaluates healthily against live data."""

    def rules() -> list[dict[str, Any]]:
        _, body = loop.api("/api/v1/rules")
        return [rule for group in body["data"]["groups"] for rule in group["rules"]]

    loaded = wait_for(
        lambda: (found := rules()) and all(r["health"] != "unknown" for r in found) and found,
        "every rule evaluated once",
    )
    assert len(loaded) == len(alert_exprs())
    broken = {r["name"]: r.get("lastError") for r in loaded if r["health"] != "ok"}
    assert broken == {}


def test_every_dashboard_expression_is_accepted(loop: Loop) -> None:
    """Prometheus parses and runs every PromQL expression of the Grafana dashboard."""
    exprs = [
        target["expr"]
        for panel in dashboard()["panels"]
        for target in panel.get("targets", [])
        if "expr" in target
    ]
    assert exprs
    for expr in exprs:
        loop.query(grafana_to_promql(expr))


def test_dashboard_variables_find_their_values(loop: Loop) -> None:
    """Each label_values() variable's selector parses and finds series to take values from."""
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] != "query":
            continue
        match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", variable["definition"])
        assert match, variable["definition"]
        selector, label = grafana_to_promql(match[1]), match[2]
        found = wait_for(functools.partial(loop.query, selector), f"series for {selector}")
        assert all(label in series["metric"] for series in found), (selector, label)


def test_dashboard_tick_rate_panel_matches_the_publisher(loop: Loop) -> None:
    """The dashboard's tick-rate-per-instrument query returns every instrument."""
    (panel,) = [p for p in dashboard()["panels"] if p["title"] == "Tick rate per instrument"]
    expr = grafana_to_promql(panel["targets"][0]["expr"])
    wait_for(
        lambda: {r["metric"].get("instrument") for r in loop.query(expr)} >= set(KEYS),
        "the panel's query to return every instrument",
    )
