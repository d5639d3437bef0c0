"""``python -m bench``: ibpub and the stock ibapi client on the same frames, in one table.

Exit codes: 0 the benchmark ran (whether or not every target was met: the table says), 2 usage
error, 1 the benchmark itself failed (a helper process died or never answered).
"""

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from bench import bridge as bridge_bench
from bench import callgrind, depth, fanout, soak, stages, stats, universe
from bench import subscriber as subscriber_bench
from bench.handles import Feed, HelperError, subscriber
from bench.publisher import PublisherProcess
from bench.report import EncodingResult, table, to_json
from bench.scenarios import Plan, Run
from bench.targets import Ibpub, Stock
from publisher import compiled
from publisher.sim.burst import ENCODINGS

RESULTS_DIR: Final = Path(__file__).parent / "results"
PUBLISHER_CLIENT_ID: Final = 7
START_TIMEOUT: Final = 60.0
WARM_UP_RATE: Final = 5_000
WARM_UP_SECONDS: Final = 1.0
DEPTH_FRAMES: Final = 200_000
DEPTH_FRAMES_TINY: Final = 2_000

METHOD: Final = """\
method: a feeder process speaks the TWS handshake over loopback TCP and sends pre-generated
frames (the simulator's seeded random walk over the 144 instruments subscribed, encoded by its
encoder: classic text at server version 200, protobuf at the installed ibapi's maximum). The
same frames, in the same order, go to `ibpub run` (a child process, default configuration,
counted by a subscriber process on its PUB socket) and to the stock ibapi client (EClient.connect
+ EReader thread + EClient.run, tick callbacks that only count, in its own process).
- sustained: paced steps of {step:g} s climbing x{factor:g} from {first:,.0f} frames/s; a step is
  kept up when every tick arrives within {lag:g} s of its frame being due; a failed step is
  tried once more (the stock client on a fresh connection); then {refine} rates between the
  last kept and the first failed one (geometric midpoints); the figure is the highest rate
  kept up. "ticks" are bus messages for ibpub and tick callbacks for ibapi (one each per
  callback; a bid/ask/last frame raises two).
- burst: {burst:,} frames queued at once; drain = first byte sent to last tick received.
- tick-to-publish: the publisher's own ibpub_tick_latency_seconds histogram (read to hand-off
  to ZeroMQ; quantiles interpolated inside its buckets) at each offered rate in ticks/s, the
  feeder writing each frame as it falls due; publish-to-receipt: `ts` to arrival at the
  subscriber (every 8th message).
- CPU: utime+stime of the whole process (/proc/PID/stat, every thread) over the step or burst,
  per million ticks; peak RSS: VmHWM of the publisher at the end.
- instructions per frame: callgrind Ir of ibpub's read path and of ibapi's own reader+decoder
  on the same frames in one process each, (Ir of 2N frames - Ir of N frames) / N after a
  warm-up, each run twice (bench/callgrind.py); repeatable when the runs agree within 1 %.
- fan-out: 1, 4 and 16 counting subscriber processes on ibpub's bus at 10k ticks/s for a few
  seconds each; every subscriber must get every tick; publisher CPU (/proc/PID/stat, all
  threads) per tick published (bench/fanout.py).
- subscriber library: the bus messages of the simulator's frames (captured from the
  publisher's tick path) queued over loopback TCP, then drained by a raw recv_multipart loop,
  by a Subscriber's recv() (decode, validate, session, seq, book) and by ibsub record's loop
  writing Parquet, messages per CPU second of the consumer thread, best of 5 each
  (bench/subscriber.py).
- where the time goes: the publisher's read path stage by stage in the benchmark's own
  process, one thread, no subscriber (bench/stages.py): CPU microseconds per frame.
All ratios compare figures from this one run."""


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def measure_encoding(
    encoding: str, plan: Plan, workdir: Path, log: Callable[[str], None]
) -> EncodingResult:
    """Every measurement for one encoding: ibpub first, then the stock client."""
    version = ENCODINGS[encoding]
    log(f"{encoding}: stage breakdown in this process ({plan.stage_frames:,} frames)")
    breakdown = stages.measure(version, plan.stage_frames, plan.seed)
    instructions = None
    if plan.callgrind_frames and callgrind.available():
        log(f"{encoding}: callgrind instruction counts ({plan.callgrind_frames:,}-frame segments)")
        instructions = callgrind.measure(version, plan.callgrind_frames, plan.callgrind_repeats)
    feed = Feed(version)
    try:
        log(f"{encoding}: starting ibpub run against the feeder on port {feed.port}")
        with PublisherProcess(feed.port, workdir) as publisher:
            publisher.wait_metrics(START_TIMEOUT)
            session = feed.wait_session(
                lambda s: s.client_id == PUBLISHER_CLIENT_ID and len(s.streams) >= 9,
                START_TIMEOUT,
            )
            log(f"{encoding}: generating {plan.burst_frames:,} frames")
            prepared = feed.prepare(session.session, plan.burst_frames, plan.seed)
            sub = subscriber(publisher.endpoint)
            try:
                ibpub = Ibpub(publisher, session.session, sub)
                run = Run(feed, prepared.callbacks, plan)
                run.step(ibpub, WARM_UP_RATE, WARM_UP_SECONDS)
                log(f"{encoding}: ibpub latency at {plan.latency_rates}")
                latency = tuple(run.latency(ibpub, publisher, r) for r in plan.latency_rates)
                fan: tuple[fanout.FanoutStep, ...] = ()
                if plan.fanout_counts:
                    log(f"{encoding}: fan-out to {plan.fanout_counts} subscribers")
                    fan = fanout.measure(
                        run,
                        publisher,
                        session.session,
                        plan.fanout_seconds,
                        plan.fanout_counts,
                        log,
                    )
                log(f"{encoding}: ibpub sustained rate search")
                ibpub_sustained = run.sustained(ibpub, log)
                ibpub_small = None
                if plan.small_burst_frames:
                    log(f"{encoding}: ibpub burst of {plan.small_burst_frames:,} frames")
                    ibpub_small = run.burst(ibpub, plan.small_burst_frames, publisher=publisher)
                    log(f"  ibpub drained the burst in {ibpub_small.seconds:.1f} s")
                log(f"{encoding}: ibpub burst of {plan.burst_frames:,} frames")
                ibpub_burst = run.burst(ibpub, plan.burst_frames, publisher=publisher)
                log(f"  ibpub drained the burst in {ibpub_burst.seconds:.1f} s")
                peak_rss = publisher.usage().peak_rss_bytes
                reconnects = int(publisher.scrape().get("ibpub_gateway_reconnects_total{}", 0))
            finally:
                sub.stop()
        log(f"{encoding}: stock ibapi sustained rate search")
        stock = Stock(feed)
        try:
            stock_sustained = run.sustained(stock, log)
            stock.recover()  # the burst starts on a fresh connection, as ibpub's did
            stock_small = None
            if plan.small_burst_frames:
                log(f"{encoding}: stock ibapi burst of {plan.small_burst_frames:,} frames")
                stock_small = run.burst(stock, plan.small_burst_frames)
                log(f"  stock ibapi drained the burst in {stock_small.seconds:.1f} s")
                stock.recover()
            log(f"{encoding}: stock ibapi burst of {plan.burst_frames:,} frames")
            stock_burst = run.burst(stock, plan.burst_frames)
            log(f"  stock ibapi drained the burst in {stock_burst.seconds:.1f} s")
        finally:
            stock.close()
    finally:
        feed.stop()
    return EncodingResult(
        encoding,
        version,
        ibpub_sustained,
        stock_sustained,
        ibpub_burst,
        stock_burst,
        latency,
        peak_rss,
        ibpub.lost,
        reconnects,
        breakdown,
        ibpub_small,
        stock_small,
        instructions,
        fan,
    )


def _bridge_row(messages: int) -> str:
    """The NATS bridge's row (issue 14), or why it was not measured."""
    _log("bridge: copy rate into a single-node JetStream vs nats-py ...")
    try:
        return bridge_bench.measure(messages).row() + "\n"
    except (RuntimeError, OSError) as exc:
        return f"bridge into JetStream: not measured ({exc})\n"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark ibpub against the stock ibapi client on the same frames "
        "and print one table (a few minutes on 2 CPUs).",
    )
    parser.add_argument(
        "--encoding",
        choices=sorted(ENCODINGS),
        action="append",
        help="measure only this encoding (repeatable; default: both)",
    )
    default = Plan()
    parser.add_argument("--burst", type=int, default=default.burst_frames, help="burst frames")
    parser.add_argument(
        "--small-burst",
        type=int,
        default=default.small_burst_frames,
        help="frames of the second, smaller burst (0: none)",
    )
    parser.add_argument(
        "--callgrind-frames",
        type=int,
        default=default.callgrind_frames,
        help="frames per segment of the callgrind instruction count (0: skip it; about 30-60 s "
        "per callgrind run, 8 runs)",
    )
    parser.add_argument(
        "--subscriber-frames",
        type=int,
        default=default.subscriber_frames,
        help="frames whose bus messages the subscriber-library section replays (0: skip it)",
    )
    parser.add_argument(
        "--step-seconds", type=float, default=default.step_seconds, help="length of a paced step"
    )
    parser.add_argument(
        "--burst-timeout",
        type=float,
        default=default.burst_timeout,
        help="give up waiting for a burst to drain after this many seconds",
    )
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="a seconds-long smoke run on tiny inputs (what the test suite runs)",
    )
    parser.add_argument(
        "--no-depth", action="store_true", help="leave out the depth row (bench/depth.py)"
    )
    parser.add_argument(
        "--soak",
        action="store_true",
        help="only the memory soak: publisher RSS over a run at 20k ticks/s (bench/soak.py)",
    )
    parser.add_argument(
        "--minutes", type=float, default=10.0, help="length of the --soak run (default 10)"
    )
    parser.add_argument(
        "--wide-minutes",
        type=float,
        default=None,
        help=f"length of --soak's second run, with --instruments instruments (default "
        f"{soak.WIDE_MINUTES:g}, at most --minutes)",
    )
    parser.add_argument(
        "--instruments",
        type=int,
        default=universe.WIDE,
        help=f"instruments of --soak's second run (default {universe.WIDE:,}; 0 skips it)",
    )
    parser.add_argument(
        "--out", type=Path, default=RESULTS_DIR, help="directory for the results files"
    )
    return parser


def plan_from(args: argparse.Namespace) -> Plan:
    if args.tiny:
        return Plan(
            burst_frames=2_000,
            step_seconds=0.2,
            first_rate=1_000,
            rate_factor=2.0,
            max_rate=2_000,
            latency_rates=(1_000,),
            latency_seconds=0.2,
            burst_timeout=60.0,
            stage_frames=2_000,
            small_burst_frames=1_000,
            callgrind_frames=0,
            subscriber_frames=500,
            fanout_counts=(1, 2),
            fanout_seconds=0.3,
        )
    if args.burst < 1 or args.step_seconds <= 0 or args.burst_timeout <= 0:
        raise SystemExit(2)
    return Plan(
        burst_frames=args.burst,
        small_burst_frames=min(args.small_burst, args.burst),
        step_seconds=args.step_seconds,
        burst_timeout=args.burst_timeout,
        callgrind_frames=args.callgrind_frames,
        subscriber_frames=args.subscriber_frames,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.tiny and (args.burst < 1 or args.step_seconds <= 0 or args.burst_timeout <= 0):
        parser.error("--burst, --step-seconds and --burst-timeout must be positive")
    if args.soak:
        if args.minutes <= 0:
            parser.error("--minutes must be positive")
        if args.wide_minutes is not None and args.wide_minutes <= 0:
            parser.error("--wide-minutes must be positive")
        if args.instruments and args.instruments < len(universe.served()):
            parser.error(f"--instruments must be 0 or at least {len(universe.served())}")
        try:
            return soak.main(args.minutes, args.wide_minutes, args.instruments, args.out)
        except (HelperError, RuntimeError, OSError) as exc:
            print(f"error: the soak failed: {exc}", file=sys.stderr)
            return 1
    plan = plan_from(args)
    encodings = args.encoding or list(ENCODINGS)
    machine = stats.machine()
    started = time.monotonic()
    when = datetime.now(UTC)
    print(f"ibpub benchmark, {when:%Y-%m-%d %H:%M} UTC")
    print("machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()))
    print("read path: " + compiled.status())  # compiled (mypyc) or pure Python, and why
    print(
        METHOD.format(
            step=plan.step_seconds,
            factor=plan.rate_factor,
            first=plan.first_rate,
            lag=plan.lag_limit,
            refine=plan.refine_steps,
            burst=plan.burst_frames,
        )
    )
    print(flush=True)
    results: list[EncodingResult] = []
    depth_rows: list[depth.DepthResult] = []
    try:
        with tempfile.TemporaryDirectory(prefix="ibpub-bench-") as tmp:
            for encoding in encodings:
                workdir = Path(tmp) / encoding
                workdir.mkdir()
                results.append(measure_encoding(encoding, plan, workdir, _log))
            for encoding in [] if args.no_depth else encodings:
                workdir = Path(tmp) / f"depth-{encoding}"
                workdir.mkdir()
                frames = DEPTH_FRAMES_TINY if args.tiny else DEPTH_FRAMES
                depth_rows.append(depth.measure(encoding, plan, workdir, _log, frames))
        rates = None
        if plan.subscriber_frames:
            _log(f"subscriber library: {plan.subscriber_frames:,} frames' messages, replayed")
            rates = subscriber_bench.measure(ENCODINGS["protobuf"], plan.subscriber_frames)
    except (HelperError, RuntimeError, OSError) as exc:
        print(f"error: the benchmark failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    bridge_line = _bridge_row(2_000 if args.tiny else bridge_bench.DEFAULT_MESSAGES)
    duration = time.monotonic() - started
    text = table(results, plan, rates, soak.latest_lines(args.out)) + bridge_line
    if depth_rows:
        text += "\n" + depth.table(depth_rows)
    text += f"duration: {duration:.0f} s\n"
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = f"{when:%Y%m%dT%H%M%SZ}"
    meta = {"started": when.isoformat(), "duration_seconds": duration, "encodings": encodings}
    document = to_json(results, plan, machine, meta, rates)
    document["depth"] = [dataclasses.asdict(row) for row in depth_rows]
    (args.out / f"bench-{stamp}.json").write_text(json.dumps(document, indent=2) + "\n")
    (args.out / f"bench-{stamp}.txt").write_text(text)
    print(f"written: {args.out / f'bench-{stamp}.txt'} and .json")
    return 0
