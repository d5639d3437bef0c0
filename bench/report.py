"""The results: one table (text) and the same figures as JSON, with the method and machine."""

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

from bench.callgrind import Instructions, describe
from bench.fanout import FanoutStep
from bench.fanout import describe as fanout_describe
from bench.fanout import verdict as fanout_verdict
from bench.scenarios import Drain, Latency, Plan, Sustained
from bench.stages import Stages, compiled_vs_pure
from bench.subscriber import RECORD_TARGET, Rates
from bench.subscriber import TARGET as SUBSCRIBER_TARGET
from bench.subscriber import describe as subscriber_describe

BURST_TARGET: Final = 5.0
SUSTAINED_TARGET: Final = 2.0
P99_TARGET_SECONDS: Final = 60e-6
P99_TARGET_RATE: Final = 10_000
UNMEASURED: Final = (
    ("6 memory: RSS flat within 10 % over 10 min at 20k ticks/s", "see python -m bench --soak"),
    ("6b memory: peak for 1,000 instruments", "see python -m bench --soak"),
)
"""Targets of issue 15 this bench does not measure yet (printed so the table is complete)."""


@dataclass(frozen=True, slots=True)
class EncodingResult:
    """Everything measured for one encoding, in one run."""

    encoding: str
    server_version: int
    ibpub_sustained: Sustained
    stock_sustained: Sustained
    ibpub_burst: Drain
    stock_burst: Drain
    latency: tuple[Latency, ...]
    ibpub_peak_rss_bytes: int
    ibpub_lost_ticks: int
    ibpub_reconnects: int
    """Gateway reconnections of the publisher during the run (0 unless something failed)."""
    stages: Stages
    ibpub_small_burst: Drain | None = None
    stock_small_burst: Drain | None = None
    instructions: Instructions | None = None
    fanout: tuple[FanoutStep, ...] = ()

    @property
    def small_burst_ratio(self) -> float:
        if self.ibpub_small_burst is None or self.stock_small_burst is None:
            return math.nan
        return _ratio(self.stock_small_burst.seconds, self.ibpub_small_burst.seconds)

    @property
    def sustained_ratio(self) -> float:
        return _ratio(self.ibpub_sustained.ticks_per_second, self.stock_sustained.ticks_per_second)

    @property
    def burst_ratio(self) -> float:
        """How many times faster ibpub drained the burst (stock time / ibpub time)."""
        return _ratio(self.stock_burst.seconds, self.ibpub_burst.seconds)

    def p99_at_target_rate(self) -> float:
        for step in self.latency:
            if step.rate == P99_TARGET_RATE:
                return step.publish_p99
        return math.nan


def _ratio(a: float, b: float) -> float:
    if b == 0 or math.isnan(a) or math.isnan(b):
        return math.nan
    return a / b


def _num(value: float, digits: int = 0) -> str:
    if math.isnan(value):
        return "-"
    if math.isinf(value):
        return "never"
    return f"{value:,.{digits}f}"


def _us(value: float) -> str:
    return _num(value * 1e6, 0)


def _x(value: float) -> str:
    return "-" if math.isnan(value) or math.isinf(value) else f"{value:.1f}x"


def _burst_cell(drain: Drain, timeout: float) -> str:
    if math.isinf(drain.seconds):
        return f"> {timeout:g} ({drain.received:,} of {drain.ticks:,})"
    return _num(drain.seconds, 1)


def rows(result: EncodingResult, plan: Plan) -> list[tuple[str, str, str, str]]:
    """The table rows for one encoding: (what, ibpub, stock, ratio)."""
    ib, st = result.ibpub_sustained, result.stock_sustained
    out: list[tuple[str, str, str, str]] = [
        (
            "sustained, zero loss: ticks/s (frames/s)",
            f"{_num(ib.ticks_per_second)} ({_num(ib.rate)})",
            f"{_num(st.ticks_per_second)} ({_num(st.rate)})",
            _x(result.sustained_ratio),
        ),
        (
            f"burst of {result.ibpub_burst.frames:,} frames: drain s",
            _burst_cell(result.ibpub_burst, plan.burst_timeout),
            _burst_cell(result.stock_burst, plan.burst_timeout),
            _x(result.burst_ratio),
        ),
    ]
    if result.ibpub_small_burst is not None and result.stock_small_burst is not None:
        out.insert(
            1,
            (
                f"burst of {result.ibpub_small_burst.frames:,} frames: drain s",
                _burst_cell(result.ibpub_small_burst, plan.burst_timeout),
                _burst_cell(result.stock_small_burst, plan.burst_timeout),
                _x(result.small_burst_ratio),
            ),
        )
    out += [
        (
            "  ibpub: last tick published after s",
            _num(result.ibpub_burst.publish_seconds, 1),
            "",
            "",
        ),
    ]
    for step in result.latency:
        flag = "" if step.kept_up else " (fell behind)"
        out.append(
            (
                f"tick-to-publish p50/p99/p99.9 us @{step.rate / 1000:g}k ticks/s{flag}",
                f"{_us(step.publish_p50)}/{_us(step.publish_p99)}/{_us(step.publish_p999)}",
                "",
                "",
            )
        )
    for step in result.latency:
        out.append(
            (
                f"publish-to-receipt p50/p99 us @{step.rate / 1000:g}k ticks/s",
                f"{_us(step.receipt_p50)}/{_us(step.receipt_p99)}",
                "",
                "",
            )
        )
    out += [
        (
            "CPU s per million ticks: sustained / burst",
            f"{_num(ib.cpu_per_million_ticks, 1)} / "
            f"{_num(result.ibpub_burst.cpu_per_million_ticks, 1)}",
            f"{_num(st.cpu_per_million_ticks, 1)} / "
            f"{_num(result.stock_burst.cpu_per_million_ticks, 1)}",
            "",
        ),
        ("peak RSS of the publisher, MiB", _num(result.ibpub_peak_rss_bytes / 2**20), "", ""),
        (
            "ticks lost / gateway reconnects of ibpub",
            f"{result.ibpub_lost_ticks:,} / {result.ibpub_reconnects}",
            "",
            "",
        ),
    ]
    return out


def verdicts(result: EncodingResult) -> list[str]:
    """Each target of the issue, met or not, with the figure behind it."""
    p99 = result.p99_at_target_rate()

    def mark(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    bursts = [result.burst_ratio]
    shown = _x(result.burst_ratio)
    if result.ibpub_small_burst is not None:
        bursts.append(result.small_burst_ratio)
        shown = (
            f"{_x(result.small_burst_ratio)} at {result.ibpub_small_burst.frames:,}, {shown} at "
        )
        shown += f"{result.ibpub_burst.frames:,}"
    return [
        f"1 burst drain >= {BURST_TARGET:g}x stock: "
        f"{mark(all(r >= BURST_TARGET for r in bursts))} ({shown})",
        f"2 sustained >= {SUSTAINED_TARGET:g}x stock decode-only: "
        f"{mark(result.sustained_ratio >= SUSTAINED_TARGET)} ({_x(result.sustained_ratio)})",
        f"3 tick-to-publish p99 <= {P99_TARGET_SECONDS * 1e6:g} us at "
        f"{P99_TARGET_RATE / 1000:g}k ticks/s: {mark(p99 <= P99_TARGET_SECONDS)} ({_us(p99)} us)",
        _instructions_verdict(result.instructions),
        fanout_verdict(result.fanout),
    ]


def _instructions_verdict(instructions: Instructions | None) -> str:
    """Target 7 asks for a repeatable figure, not a threshold: PASS when the runs agree."""
    what = "7 instructions per frame (callgrind), repeatable"
    if instructions is None:
        return f"{what}: not run (no valgrind, --tiny or --callgrind-frames 0)"
    ok = instructions.ibpub.repeatable and instructions.stock.repeatable
    return (
        f"{what}: {'PASS' if ok else 'MISS'} (ibpub {instructions.ibpub.per_frame:,.0f} Ir, "
        f"stock {instructions.stock.per_frame:,.0f} Ir, stock/ibpub {instructions.ratio:.2f}x)"
    )


def subscriber_verdict(rates: Rates | None) -> str:
    what = f"4 subscriber library >= {SUBSCRIBER_TARGET:g}x raw recv_multipart, none lost"
    if rates is None:
        return f"{what}: not run (--subscriber-frames 0)"
    return f"{what}: {'PASS' if rates.met else 'MISS'} ({rates.ratio:.2f}x, {rates.gaps} lost)"


def record_verdict(rates: Rates | None) -> str:
    what = f"4b ibsub record (parquet) >= {RECORD_TARGET:g}x raw recv_multipart, none lost"
    if rates is None:
        return f"{what}: not run (--subscriber-frames 0)"
    verdict = "PASS" if rates.record_met else "MISS"
    return f"{what}: {verdict} ({rates.record_ratio:.2f}x, {rates.record_lost} lost)"


def target_table(
    results: list[EncodingResult],
    subscriber: Rates | None = None,
    soak_lines: Sequence[str] | None = None,
) -> str:
    """Every target of issue 15, one line each, with its verdict in each encoding; targets 6
    and 6b from the newest soak (``soak_lines``, :func:`bench.soak.latest_lines`) if any."""
    lines = ["issue 15 targets", "----------------"]
    for result in results:
        for verdict in verdicts(result):
            lines.append(f"{result.encoding:<9} {verdict}")
    lines.append(f"{'-':<9} {subscriber_verdict(subscriber)}")
    lines.append(f"{'-':<9} {record_verdict(subscriber)}")
    for what, state in UNMEASURED:
        if soak_lines is None or not what.startswith("6"):
            lines.append(f"{'-':<9} {what}: {state}")
    lines += [f"{'-':<9} {line}" for line in soak_lines or ()]
    return "\n".join(lines) + "\n"


def table(
    results: list[EncodingResult],
    plan: Plan,
    subscriber: Rates | None = None,
    soak_lines: Sequence[str] | None = None,
) -> str:
    """The results of every encoding as one aligned text table."""
    lines: list[str] = []
    for result in results:
        body = rows(result, plan)
        width = max(len(r[0]) for r in body)
        cols = [max(len(r[i]) for r in body) for i in (1, 2, 3)]
        cols = [
            max(c, len(h)) for c, h in zip(cols, ("ibpub", "stock ibapi", "ratio"), strict=True)
        ]
        title = f"{result.encoding} (server version {result.server_version})"
        header = (
            f"{title:<{width}}  {'ibpub':>{cols[0]}}  {'stock ibapi':>{cols[1]}}  "
            f"{'ratio':>{cols[2]}}"
        )
        lines += [header, "-" * len(header)]
        for what, ours, theirs, ratio in body:
            lines.append(
                f"{what:<{width}}  {ours:>{cols[0]}}  {theirs:>{cols[1]}}  {ratio:>{cols[2]}}"
            )
        st = result.stages
        lines += [
            "where the time goes, us of CPU per frame (one thread, no subscriber): "
            f"framing {st.framing:.2f}, decode {st.fast_decode:.1f} "
            f"(ibapi alone {st.ibapi_decode:.1f}), publish {st.publish:.1f}; "
            f"whole read path {st.read_path:.1f}",
            compiled_vs_pure(result.encoding, st),
            *([describe(result.encoding, result.instructions)] if result.instructions else []),
            *([fanout_describe(result.fanout)] if result.fanout else []),
            "",
        ]
    if subscriber is not None:
        lines += [subscriber_describe(subscriber), ""]
    return "\n".join(lines) + "\n" + target_table(results, subscriber, soak_lines)


def to_json(
    results: list[EncodingResult],
    plan: Plan,
    machine: Mapping[str, str],
    meta: Mapping[str, Any],
    subscriber: Rates | None = None,
) -> dict[str, Any]:
    """Every figure (including each step of the rate search) for ``bench/results/*.json``."""

    def clean(value: Any) -> Any:
        if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    encodings = []
    for result in results:
        entry = asdict(result)
        entry["sustained_ratio"] = result.sustained_ratio
        entry["burst_ratio"] = result.burst_ratio
        entry["small_burst_ratio"] = result.small_burst_ratio
        entry["verdicts"] = verdicts(result)
        encodings.append(entry)
    document: dict[str, Any] = clean(
        {
            "meta": dict(meta),
            "machine": dict(machine),
            "plan": asdict(plan),
            "results": encodings,
            "subscriber": None
            if subscriber is None
            else asdict(subscriber)
            | {"ratio": subscriber.ratio, "record_ratio": subscriber.record_ratio},
        }
    )
    return document
