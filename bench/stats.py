"""Pure helpers: quantiles of samples, quantiles of a Prometheus histogram delta, machine facts."""

import math
import os
import platform
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version


def quantile(samples: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of samples by the nearest-rank method; NaN when empty."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(1, math.ceil(q * len(ordered)))
    return float(ordered[rank - 1])


def bucket_delta(
    before: Sequence[tuple[float, float]], after: Sequence[tuple[float, float]]
) -> list[tuple[float, float]]:
    """Cumulative bucket counts observed between two scrapes of the same histogram."""
    old = dict(before)
    return [(bound, count - old.get(bound, 0.0)) for bound, count in after]


def histogram_quantile(buckets: Sequence[tuple[float, float]], q: float) -> float:
    """Prometheus's ``histogram_quantile``: linear interpolation inside the bucket holding
    rank ``q * count``; cumulative ``(upper bound, count)`` pairs ending with ``+Inf``.

    The answer is only as fine as the buckets: it never leaves the bucket the rank falls in.
    """
    if not buckets or buckets[-1][1] <= 0:
        return math.nan
    total = buckets[-1][1]
    rank = q * total
    lower, below = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower  # beyond the last finite bucket: its bound is all we know
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _package(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, str]:
    """What the figures were measured on: CPUs, kernel, Python and the libraries on the path."""
    import zmq  # only needed here

    return {
        "cpus": str(os.cpu_count()),
        "cpu_model": _cpu_model(),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "ibapi": _package("ibapi-stable"),
        "protobuf": _package("protobuf"),
        "pyzmq": _package("pyzmq"),
        "libzmq": zmq.zmq_version(),
        "msgpack": _package("msgpack"),
        "prometheus_client": _package("prometheus-client"),
    }
