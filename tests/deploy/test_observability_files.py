"""deploy/prometheus and deploy/grafana: promtool accepts them, the rules' unit tests pass, and
the dashboard and provisioning files hang together. (That every PromQL expression parses in a
live Prometheus is checked in test_prometheus.py.)"""

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.metrics import tool
from tests.support.paths import DEPLOY

PROMETHEUS = DEPLOY / "prometheus"
GRAFANA = DEPLOY / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "ibpub.json"

CONTRACT_METRICS = frozenset(
    {
        "ibpub_ticks_total",
        "ibpub_messages_published_total",
        "ibpub_tick_latency_seconds",
        "ibpub_gateway_connected",
        "ibpub_gateway_reconnects_total",
        "ibpub_gateway_errors_total",
        "ibpub_gateway_rtt_seconds",
        "ibpub_instruments",
        "ibpub_last_tick_age_seconds",
        "ibpub_decode_errors_total",
        "ibpub_build_info",
        "ibsub_latency_seconds",
        "ibsub_messages_total",
        "ibsub_gaps_total",
        "ibsub_lost_messages_total",
    }
)
ADDED_METRICS = frozenset(
    {
        "ibpub_gateway_behind_seconds",
        "ibpub_gateway_backlog_bytes",
        "ibpub_lines_used",
        "ibpub_lines_budget",
        "ibpub_control_requests_total",
        "ibpub_leases_active",
        "ibpub_bridge_nats_connected",
        "ibpub_bridge_behind_messages",
        "ibpub_bridge_acknowledged_total",
        "ibpub_bridge_dropped_total",
        "ibpub_bridge_gaps_total",
    }
)
"""Exported beyond the contract's list: issue 6's backpressure gauges and issue 12's line
budget and control socket metrics (docs/metrics.md), issue 14's bridge (docs/deploy.md)."""
METRIC_NAME = re.compile(r"\b(?:ibpub|ibsub)_[a-z_]+")


def promtool(*args: str, cwd: Path = PROMETHEUS) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("promtool"), *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def alert_rules() -> list[dict[str, Any]]:
    """Every rule of deploy/prometheus/alerts.yml."""
    document = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def dashboard_exprs() -> list[str]:
    """The PromQL of every dashboard panel target."""
    return [
        target["expr"]
        for panel in dashboard()["panels"]
        for target in panel.get("targets", [])
        if "expr" in target
    ]


def contract_name(name: str) -> str:
    """A sample name to its metric's name (histogram series end in _bucket, _sum, _count)."""
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name.removesuffix(suffix) in CONTRACT_METRICS:
            return name.removesuffix(suffix)
    return name


def test_promtool_accepts_the_prometheus_config() -> None:
    """`promtool check config` accepts prometheus.yml (and the rule file it loads)."""
    result = promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_accepts_the_alert_rules() -> None:
    """`promtool check rules` accepts alerts.yml."""
    result = promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rule_unit_tests_pass() -> None:
    """`promtool test rules` passes the rules' unit tests (disconnect, no ticks, ...)."""
    result = promtool("test", "rules", "tests/alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_rule_unit_tests_cover_disconnect_and_no_ticks() -> None:
    """The rules' unit tests exercise at least the disconnect and the no-ticks alerts."""
    tests = yaml.safe_load((PROMETHEUS / "tests" / "alerts_test.yml").read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test.get("alert_rule_test", [])}
    assert {"IbpubGatewayDisconnected", "IbpubInstrumentNoTicks"} <= tested


def test_the_required_alerts_exist() -> None:
    """alerts.yml has the target-down, disconnect, no-ticks, latency, storm and loss alerts."""
    names = {rule["alert"] for rule in alert_rules()}
    assert {
        "IbpubTargetDown",
        "IbpubGatewayDisconnected",
        "IbpubInstrumentNoTicks",
        "IbpubTickLatencyHigh",
        "IbpubReconnectStorm",
        "IbsubMessageLoss",
    } <= names


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_every_alert_has_a_summary_and_a_runbook(rule: dict[str, Any]) -> None:
    """Each alert carries a summary, a runbook sentence and a severity."""
    annotations = rule["annotations"]
    assert annotations["summary"].strip()
    assert annotations["runbook"].strip().endswith(".")
    assert rule["labels"]["severity"] in ("critical", "warning")


def test_rules_and_dashboard_use_only_contract_metrics() -> None:
    """Every ibpub_/ibsub_ name in the rules and the dashboard is a contract metric (or one
    of the documented additions)."""
    exprs = [rule["expr"] for rule in alert_rules()] + dashboard_exprs()
    used = {contract_name(name) for expr in exprs for name in METRIC_NAME.findall(expr)}
    assert used, "no metric found in the expressions"
    known = CONTRACT_METRICS | ADDED_METRICS
    assert used <= known, used - known


def test_prometheus_config_scrapes_the_publisher_and_a_probe() -> None:
    """prometheus.yml has the jobs the alert rules name: ibpub and ibsub."""
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert {"ibpub", "ibsub"} <= set(jobs)
    assert jobs["ibpub"]["static_configs"][0]["targets"] == ["127.0.0.1:9700"]
    assert config["rule_files"] == ["alerts.yml"]


def test_dashboard_shows_what_the_issue_asks_for() -> None:
    """Panels cover tick rate, latency, gateway, reconnects, errors, states, age and loss."""
    exprs = "\n".join(dashboard_exprs())
    for needle in (
        "rate(ibpub_ticks_total",
        "histogram_quantile(0.5, sum by (le) (rate(ibpub_tick_latency_seconds_bucket",
        "histogram_quantile(0.99, sum by (le) (rate(ibpub_tick_latency_seconds_bucket",
        "ibpub_gateway_connected",
        "ibpub_gateway_rtt_seconds_bucket",
        "ibpub_gateway_reconnects_total",
        "sum by (code) (increase(ibpub_gateway_errors_total",
        "ibpub_instruments",
        "ibpub_last_tick_age_seconds",
        "ibsub_lost_messages_total",
    ):
        assert needle in exprs, needle


def test_dashboard_panels_are_well_formed() -> None:
    """Panel ids are unique, every panel fits the 24-column grid, every target has a refId."""
    panels = dashboard()["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        for target in panel.get("targets", []):
            assert target["refId"] and target["datasource"]["uid"] == "${datasource}"


def test_dashboard_variables_cover_the_selectors() -> None:
    """Every $variable the queries use is defined in the dashboard's templating."""
    defined = {variable["name"] for variable in dashboard()["templating"]["list"]}
    used = {
        name
        for expr in dashboard_exprs()
        for name in re.findall(r"\$(\w+)", expr)
        if not name.startswith("__")
    }
    assert used <= defined, used - defined


def test_provisioning_points_at_the_dashboard_and_a_prometheus() -> None:
    """The datasource is a Prometheus with the uid the compose stack uses; the provider loads
    files from a directory and the dashboard has a stable uid."""
    datasources = yaml.safe_load((GRAFANA / "provisioning/datasources/ibpub.yml").read_text())
    (source,) = datasources["datasources"]
    assert (source["type"], source["uid"]) == ("prometheus", "prometheus")
    providers = yaml.safe_load((GRAFANA / "provisioning/dashboards/ibpub.yml").read_text())
    (provider,) = providers["providers"]
    assert provider["type"] == "file" and provider["options"]["path"]
    assert dashboard()["uid"] == "ibpub-overview"
