"""Reading a publisher's metrics in tests: a missing metric fails, it never reads as zero.

``registry.get_sample_value(...) or 0.0`` makes every ``== 0`` check pass when the metric is
renamed or removed; :class:`MetricReader` instead fails when no metric of that name is
registered at all, so each check can only pass against a metric that exists.
"""

import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
}


class MetricReader:
    """Samples of one registry, by sample name (``ibpub_ticks_total``) and labels."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def names(self) -> set[str]:
        """Every sample name the registry's metrics can produce (labelled children or not)."""
        found: set[str] = set()
        for family in self.registry.collect():
            for suffix in _SUFFIXES.get(family.type, ("",)):
                found.add(family.name + suffix)
            found.update(sample.name for sample in family.samples)
        return found

    def get(self, name: str, **labels: str) -> float | None:
        """The sample's value, or None when this label set has none (yet); fails when no
        metric called ``name`` is registered."""
        value = self.registry.get_sample_value(name, labels)
        if value is None and name not in self.names():
            raise AssertionError(f"no metric {name} is registered (renamed or removed?)")
        return value

    def value(self, name: str, **labels: str) -> float:
        """The sample's value; fails when the metric or this label set is missing."""
        value = self.get(name, **labels)
        if value is None:
            raise AssertionError(f"{name}{labels or ''} has no sample")
        return value

    def count(self, name: str, **labels: str) -> float:
        """A labelled counter's value, 0 while that child has not been counted yet (as in
        PromQL); still fails when no metric called ``name`` is registered."""
        return self.get(name, **labels) or 0.0


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Prometheus text -> {(sample name, labels): value}."""
    found: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def http_get(url: str, timeout: float = 10.0) -> tuple[int, str]:
    """(status, body) of a GET; HTTP error statuses are returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return int(exc.code), exc.read().decode()


def tool(name: str) -> str:
    """The path of ``prometheus`` or ``promtool``; fails (never skips) when it is missing."""
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if path is None:
        pytest.fail(
            f"{name} is not installed: run 'make system-deps' (as root it installs Debian's "
            "prometheus package; otherwise 'sudo apt-get install prometheus')",
            pytrace=False,
        )
    return path
