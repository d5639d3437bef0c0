"""Target 7: instructions per frame of the read path under ``valgrind --tool=callgrind``.

Instruction counts (callgrind's ``Ir``) do not depend on the machine's noise, so a change that
costs 5 % shows even when wall-clock figures wobble by 30 %. The method:

* the parent generates the frames once (the simulator's seeded random walk, as everywhere in the
  bench) and writes them to a file: a warm-up of ``W`` frames, then segment A of ``N`` frames,
  then segment B of ``2N`` frames;
* a worker process (``python -m bench.callgrind worker ...``) runs under callgrind with
  ``--dump-before=getppid``: it reads the file, runs the warm-up, calls ``os.getppid()`` (a dump),
  runs segment A, dumps, runs segment B, dumps. Each dump holds the instructions since the last;
* Ir per frame = (Ir(B) - Ir(A)) / N: whatever one segment costs regardless of its length (the
  loop's set-up, the dump call itself) cancels out. Start-up and imports are in the first dump
  and never counted;
* ``ibpub`` is the publisher's read path in one process: ``GatewayClient.on_readable`` over a
  socket pair (framing, fast path, ibapi for other frames, tick path, msgspec encoding, the send to
  a PUB socket with no subscriber, metrics), as ``bench/stages.py`` measures it in CPU time;
* ``stock`` is ibapi's own reader on the same chunks: ``comm.read_msg`` on the growing buffer
  (as ``EReader`` does) and ``EClient.run``'s decode step (``read_fields`` + ``Decoder.interpret``
  or ``processProtoBuf``) into callbacks that only count. No threads and no queue: it is the
  decoder's cost, the floor under any stock client;
* each worker runs twice; the figure is repeatable when both runs agree within 1 % (target 7
  asks that a change costing 5 % shows; the compiled read path's runs differ by up to 0.8 %);
* compiled vs pure: when the read path runs compiled (:mod:`publisher.compiled`), the ``ibpub``
  worker also runs with ``IBPUB_PURE=1`` (the same frames through the pure-Python modules),
  and each worker reports which path it ran.
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

VALGRIND: Final = "valgrind"
REPO: Final = Path(__file__).resolve().parents[1]
DUMP_SYMBOL: Final = "getppid"
READ: Final = 65536
WARM_UP: Final = 500
REPEATABLE_WITHIN: Final = 0.01
IMPLEMENTATIONS: Final = ("ibpub", "stock")
TOTALS: Final = re.compile(rb"^(?:summary|totals):\s+(\d+)", re.MULTILINE)
PATH_LINE: Final = "read path: "
"""The worker's first line of output: :func:`publisher.compiled.status` of its process."""


@dataclass(frozen=True, slots=True)
class Count:
    """Instructions per frame of one implementation, from two independent callgrind runs."""

    implementation: str
    frames: int
    runs: tuple[float, ...]

    @property
    def per_frame(self) -> float:
        return min(self.runs)

    @property
    def spread(self) -> float:
        """(max - min) / min over the runs: 0 when every run counted the same."""
        low = min(self.runs)
        return (max(self.runs) - low) / low if low > 0 else float("nan")

    @property
    def repeatable(self) -> bool:
        return self.spread <= REPEATABLE_WITHIN


@dataclass(frozen=True, slots=True)
class Instructions:
    """ibpub's read path and the stock decoder on the same frames, one encoding."""

    server_version: int
    ibpub: Count
    stock: Count
    pure: Count | None = None
    """ibpub's read path with ``IBPUB_PURE=1`` (None: the compiled path was not in use)."""
    read_path: str = ""
    """Which read path the ``ibpub`` runs used (:func:`publisher.compiled.status`)."""

    @property
    def ratio(self) -> float:
        """How many times fewer instructions per frame ibpub needs (stock / ibpub)."""
        return self.stock.per_frame / self.ibpub.per_frame if self.ibpub.per_frame else 0.0

    @property
    def compiled_gain(self) -> float:
        """How many times fewer instructions the compiled read path needs (pure / compiled)."""
        if self.pure is None or not self.ibpub.per_frame:
            return 0.0
        return self.pure.per_frame / self.ibpub.per_frame


def available() -> bool:
    return shutil.which(VALGRIND) is not None


def per_frame(dumps: Sequence[int], frames: int) -> float:
    """Ir per frame from the dumps [start-up+warm-up, segment A (N), segment B (2N), ...]."""
    if len(dumps) < 3:
        raise ValueError(f"expected at least 3 callgrind dumps, got {len(dumps)}")
    return (dumps[2] - dumps[1]) / frames


def totals(directory: Path, prefix: str) -> list[int]:
    """The Ir total of each numbered dump ``prefix.N`` in ``directory``, in order."""
    found: list[tuple[int, int]] = []
    for path in directory.glob(prefix + ".*"):
        suffix = path.name[len(prefix) + 1 :]
        if not suffix.isdigit():
            continue
        match = TOTALS.search(path.read_bytes())
        if match is None:
            raise ValueError(f"{path}: no summary line")
        found.append((int(suffix), int(match.group(1))))
    return [total for _, total in sorted(found)]


# --- the worker (runs under valgrind) -------------------------------------------------------


def _chunks(blob: bytes, offsets: Sequence[int], start: int, stop: int) -> list[bytes]:
    data = blob[offsets[start] : offsets[stop]]
    return [data[i : i + READ] for i in range(0, len(data), READ)]


def _ibpub_runner(version: int) -> tuple[Callable[[list[bytes]], None], Callable[[], None]]:
    import zmq
    from ibapi.decoder import Decoder

    from bench.stages import _Nothing, _tick_path
    from publisher.gateway.adapter import Adapter
    from publisher.gateway.client import GatewayClient, Phase

    context: zmq.Context[Any] = zmq.Context()
    instruments = _builtin_req_ids()
    path, bus = _tick_path(context, instruments)
    ours, theirs = socket.socketpair()
    client = GatewayClient(Adapter(_Nothing(), path), ticks=path)
    ours.setblocking(False)
    client._sock = ours  # past the handshake: only the read path is measured
    client.phase = Phase.OPEN
    client.serverVersion_ = version
    client.decoder = Decoder(client.wrapper, version)

    def run(chunks: list[bytes]) -> None:
        for chunk in chunks:
            theirs.sendall(chunk)
            while client.on_readable():
                pass

    def close() -> None:
        ours.close()
        theirs.close()
        bus.close()
        context.term()

    return run, close


def _stock_runner(version: int) -> tuple[Callable[[list[bytes]], None], Callable[[], None]]:
    from ibapi import comm
    from ibapi.decoder import Decoder
    from ibapi.server_versions import MIN_SERVER_VER_PROTOBUF

    from bench.stock import CountingWrapper

    decoder = Decoder(CountingWrapper(), version)
    protobuf = version >= MIN_SERVER_VER_PROTOBUF
    pending = [b""]

    def run(chunks: list[bytes]) -> None:
        buf = pending[0]
        for chunk in chunks:
            buf += chunk  # EReader: buf += data, then read_msg until a frame is short
            while True:
                _size, text, buf = comm.read_msg(buf)
                if not text:
                    break
                if protobuf:  # EClient.run's decode step
                    msg_id = int.from_bytes(text[:4], "big")
                    text = text[4:]
                else:
                    msg_id = int(text[: text.index(b"\0")])
                    text = text[text.index(b"\0") + 1 :]
                if msg_id > 200:
                    decoder.processProtoBuf(text, msg_id - 200)
                else:
                    decoder.interpret(comm.read_fields(text), msg_id)
        pending[0] = buf

    return run, lambda: None


def _builtin_req_ids() -> list[int]:
    from publisher.sim import Catalogue

    return list(range(1001, 1001 + len(list(Catalogue.builtin()))))


def worker(implementation: str, version: int, frames_file: Path, frames: int) -> None:
    """Warm-up, dump, segment A (N frames), dump, segment B (2N frames), dump."""
    from publisher import compiled

    print(PATH_LINE + compiled.status(), flush=True)
    blob = frames_file.read_bytes()
    offsets = [0]
    while offsets[-1] < len(blob):
        size = int.from_bytes(blob[offsets[-1] : offsets[-1] + 4], "big")
        offsets.append(offsets[-1] + 4 + size)
    if len(offsets) - 1 < WARM_UP + 3 * frames:
        raise SystemExit(f"{frames_file}: too few frames")
    warm = _chunks(blob, offsets, 0, WARM_UP)
    seg_a = _chunks(blob, offsets, WARM_UP, WARM_UP + frames)
    seg_b = _chunks(blob, offsets, WARM_UP + frames, WARM_UP + 3 * frames)
    make = _ibpub_runner if implementation == "ibpub" else _stock_runner
    run, close = make(version)
    run(warm)
    os.getppid()
    run(seg_a)
    os.getppid()
    run(seg_b)
    os.getppid()
    close()


# --- the parent -----------------------------------------------------------------------------


def write_frames(version: int, frames: int, path: Path, seed: int = 7) -> None:
    from publisher.sim import Catalogue
    from publisher.sim.burst import generate

    instruments = list(Catalogue.builtin())
    req_ids = _builtin_req_ids()
    path.write_bytes(generate(version, req_ids, instruments, WARM_UP + 3 * frames, seed).blob)


def run_once(
    implementation: str, version: int, frames_file: Path, frames: int, *, pure: bool = False
) -> float:
    """One callgrind run of the worker: Ir per frame (``pure``: with ``IBPUB_PURE=1``)."""
    return run_reporting(implementation, version, frames_file, frames, pure=pure)[0]


def run_reporting(
    implementation: str, version: int, frames_file: Path, frames: int, *, pure: bool = False
) -> tuple[float, str]:
    """One callgrind run of the worker: Ir per frame and the read path it ran."""
    from publisher.compiled import PURE_ENV

    with tempfile.TemporaryDirectory(prefix="ibpub-callgrind-") as tmp:
        out = Path(tmp) / "cg.out"
        env = dict(os.environ, PYTHONHASHSEED="0")
        if pure:
            env[PURE_ENV] = "1"
        command = [
            VALGRIND,
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            f"--dump-before={DUMP_SYMBOL}",
            "--dump-instr=no",
            sys.executable,
            "-m",
            "bench.callgrind",
            "worker",
            implementation,
            str(version),
            str(frames_file),
            str(frames),
        ]
        done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(
                f"callgrind worker {implementation} failed ({done.returncode}): "
                + done.stderr.decode(errors="replace")[-500:]
            )
        lines = done.stdout.decode(errors="replace").splitlines()
        path = next((line[len(PATH_LINE) :] for line in lines if line.startswith(PATH_LINE)), "")
        if pure and not path.startswith("pure"):
            raise RuntimeError(f"callgrind worker with {PURE_ENV}=1 ran {path!r}")
        return per_frame(totals(Path(tmp), out.name), frames), path


def measure(version: int, frames: int, repeats: int = 2) -> Instructions:
    """Both implementations on the same frames, each run ``repeats`` times."""
    with tempfile.TemporaryDirectory(prefix="ibpub-callgrind-frames-") as tmp:
        frames_file = Path(tmp) / "frames.bin"
        write_frames(version, frames, frames_file)
        reported = {
            impl: [run_reporting(impl, version, frames_file, frames) for _ in range(repeats)]
            for impl in IMPLEMENTATIONS
        }
        counts = {
            impl: Count(impl, frames, tuple(ir for ir, _ in runs))
            for impl, runs in reported.items()
        }
        # Compiled vs pure on the same frames, when the compiled path is what ibpub ran.
        path = reported["ibpub"][0][1]
        pure = None
        if path.startswith("compiled"):
            runs = tuple(
                run_once("ibpub", version, frames_file, frames, pure=True) for _ in range(repeats)
            )
            pure = Count("ibpub-pure", frames, runs)
    return Instructions(version, counts["ibpub"], counts["stock"], pure, path)


def describe(encoding: str, result: Instructions) -> str:
    """One line of the results table."""

    def runs(count: Count) -> str:
        return "/".join(f"{r:,.0f}" for r in count.runs)

    same = result.ibpub.repeatable and result.stock.repeatable
    within = f"{REPEATABLE_WITHIN:.0%}".replace("%", " %")
    return (
        f"instructions per frame (callgrind Ir, {result.ibpub.frames:,}-frame segments), "
        f"{encoding}: ibpub read path {result.ibpub.per_frame:,.0f} (runs {runs(result.ibpub)}), "
        f"stock decoder {result.stock.per_frame:,.0f} (runs {runs(result.stock)}), "
        f"ratio {result.ratio:.2f}x; "
        + (f"repeatable (runs within {within})" if same else f"NOT repeatable (differ > {within})")
        + "\n"
        + compiled_vs_pure(encoding, result)
    )


def compiled_vs_pure(encoding: str, result: Instructions) -> str:
    """The "compiled vs pure" line: instructions per frame of both read paths, or which ran."""
    if result.pure is None:
        return (
            f"compiled vs pure (callgrind Ir per frame), {encoding}: not compared, the read path "
            f"ran {result.read_path or 'pure Python'}"
        )
    runs = "/".join(f"{r:,.0f}" for r in result.pure.runs)
    return (
        f"compiled vs pure (callgrind Ir per frame), {encoding}: compiled "
        f"{result.ibpub.per_frame:,.0f} ({result.read_path}), pure Python "
        f"{result.pure.per_frame:,.0f} (runs {runs}): {result.compiled_gain:.2f}x fewer "
        f"instructions compiled"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.callgrind")
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("worker")
    w.add_argument("implementation", choices=IMPLEMENTATIONS)
    w.add_argument("version", type=int)
    w.add_argument("frames_file", type=Path)
    w.add_argument("frames", type=int)
    m = sub.add_parser("measure")
    m.add_argument("version", type=int)
    m.add_argument("frames", type=int)
    args = parser.parse_args(argv)
    if args.command == "worker":
        worker(args.implementation, args.version, args.frames_file, args.frames)
        return 0
    print(describe(str(args.version), measure(args.version, args.frames)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
