"""``ibpub run`` as the benchmark runs it: a child process, its metrics, its CPU time and memory.

The publisher is measured as a user runs it (the installed console script, a TOML file), in its
own process, so its CPU time (``/proc/<pid>/stat``: every thread, ZeroMQ's I/O thread included)
and peak RSS (``VmHWM``) are its own and nobody else's.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Final

from prometheus_client.parser import text_string_to_metric_families

from publisher.config import DEFAULT_MAX_LINES
from publisher.sim import Catalogue
from publisher.sim.catalogue import Instrument

STOP_TIMEOUT: Final = 20.0
CLOCK_TICKS: Final = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def config_text(
    gateway_port: int,
    bus_port: int,
    snapshot_port: int,
    metrics_port: int,
    depth_books: int = 0,
    instruments: Sequence[Instrument] = (),
) -> str:
    """A publisher configuration with every non-option instrument of the simulator's catalogue,
    or with
    ``depth_books`` of them, each with ``data = ["depth:10"]`` and nothing else, or with
    ``instruments`` (and ``gateway.max_lines`` raised to their number if above the default)."""
    lines = [
        "[publisher]",
        'name = "bench"',
        "",
        "[gateway]",
        'host = "127.0.0.1"',
        f"port = {gateway_port}",
        "client_id = 7",
        *([f"max_depth = {depth_books}"] if depth_books else []),
        *([f"max_lines = {len(instruments)}"] if len(instruments) > DEFAULT_MAX_LINES else []),
        "",
        "[bus]",
        f'pub = ["tcp://127.0.0.1:{bus_port}"]',
        f'snapshot = "tcp://127.0.0.1:{snapshot_port}"',
        "",
        "[metrics]",
        f'listen = "127.0.0.1:{metrics_port}"',
        "",
        "[control]",
        'listen = ""',  # no control socket: the default port may be another publisher's
    ]
    # The catalogue's options (added with the data kinds) are left out: the bench's universe
    # stays the stocks, futures and FX it has always measured.
    if not instruments:
        instruments = [i for i in Catalogue.builtin() if i.spec.sec_type != "OPT"]
    for instrument in instruments[:depth_books] if depth_books else instruments:
        spec = instrument.spec
        key = spec.local_symbol.replace(" ", "")
        lines += [
            "",
            "[[instruments]]",
            f'key = "{key}"',
            f'sec_type = "{spec.sec_type}"',
            f'symbol = "{spec.symbol}"',
            f'exchange = "{spec.exchange}"',
            f'currency = "{spec.currency}"',
            f"con_id = {instrument.con_id}",
            *(['data = ["depth:10"]'] if depth_books else []),
        ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class Usage:
    """CPU seconds (user + system, all threads) and peak resident memory of a process."""

    cpu_seconds: float
    peak_rss_bytes: int


def process_usage(pid: int) -> Usage:
    """Read a live process's CPU time and peak RSS from ``/proc``."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    peak = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) * 1024
    return Usage(cpu, peak)


class PublisherProcess:
    """One ``ibpub run`` child, stopped with SIGTERM (and killed if it will not stop)."""

    def __init__(
        self,
        gateway_port: int,
        workdir: Path,
        depth_books: int = 0,
        instruments: Sequence[Instrument] = (),
    ) -> None:
        self.bus_port = free_port()
        self.metrics_port = free_port()
        config = workdir / "ibpub.toml"
        ports = (gateway_port, self.bus_port, free_port(), self.metrics_port)
        config.write_text(config_text(*ports, depth_books=depth_books, instruments=instruments))
        self.log_path = workdir / "ibpub.log"
        self._log: IO[bytes] = self.log_path.open("wb")
        ibpub = Path(sys.executable).parent / "ibpub"
        self._proc = subprocess.Popen(
            [str(ibpub), "run", "--config", str(config)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def endpoint(self) -> str:
        return f"tcp://127.0.0.1:{self.bus_port}"

    @property
    def pid(self) -> int:
        return self._proc.pid

    def alive(self) -> bool:
        return self._proc.poll() is None

    def usage(self) -> Usage:
        return process_usage(self._proc.pid)

    def scrape(self) -> dict[str, float]:
        """``/metrics`` as ``{'name{label="v",...}': value}`` (labels sorted)."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        samples: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
                samples[f"{sample.name}{{{labels}}}"] = sample.value
        return samples

    def wait_metrics(self, timeout: float) -> None:
        """Wait until ``/metrics`` answers (the process is up and bound)."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive():
                raise RuntimeError(f"ibpub run exited early; see {self.log_path}")
            try:
                self.scrape()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> int:
        """SIGTERM, wait, and return the exit code (SIGKILL after :data:`STOP_TIMEOUT`)."""
        if self.alive():
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
        self._log.close()
        return self._proc.returncode

    def __enter__(self) -> "PublisherProcess":
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def histogram_buckets(samples: dict[str, float], name: str) -> list[tuple[float, float]]:
    """``(upper bound, cumulative count)`` of one unlabelled histogram, in bound order."""
    prefix = f'{name}_bucket{{le="'
    buckets = [
        (float(key[len(prefix) : -2]), value)
        for key, value in samples.items()
        if key.startswith(prefix)
    ]
    return sorted(buckets)


def counter_sum(samples: dict[str, float], name: str) -> float:
    """The sum over every labelled child of a counter (``name`` with its ``_total``)."""
    return sum(v for k, v in samples.items() if k.startswith(name + "{"))


__all__: Sequence[str] = (
    "PublisherProcess",
    "Usage",
    "config_text",
    "counter_sum",
    "free_port",
    "histogram_buckets",
    "process_usage",
)
