"""``ibpub demo`` as a user runs it: banner, the live quote lines, a clean stop on Ctrl-C."""

import re
import signal
from pathlib import Path

from tests.support.paths import REPO
from tests.support.processes import BIN, LineReader, free_port, processes

DEMO = REPO / "deploy" / "examples" / "demo.toml"


def demo_config(tmp_path: Path) -> Path:
    """The shipped demo configuration on ports free for this run."""
    text = DEMO.read_text()
    text = text.replace("port = 4010", f"port = {free_port()}")
    text = text.replace('"tcp://127.0.0.1:7700"', '"tcp://127.0.0.1:*"')
    text = text.replace('"tcp://127.0.0.1:7701"', '"tcp://127.0.0.1:*"')
    text = text.replace('"127.0.0.1:9700"', '"127.0.0.1:0"')
    path = tmp_path / "demo.toml"
    path.write_text(text)
    return path


KEYS = ("AAPL", "MSFT", "SPY", "QQQ", "ESZ6", "CLF7", "EUR.USD")


def quotes_everything(line: str) -> bool:
    """A plain quote line with a bid/ask of every demo instrument."""
    return all(re.search(rf"{re.escape(key)} [\d.]+/[\d.]+ last", line) for key in KEYS)


def test_demo_shows_quotes_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    """Piped, the demo prints its banner, then a line with every instrument's bid/ask, and
    SIGINT stops it cleanly (exit 0, ``stopped.``)."""
    with processes() as procs:
        proc = procs.start([str(BIN / "ibpub"), "demo", "--config", str(demo_config(tmp_path))])
        out = LineReader(proc.stdout)
        lines = out.until(lambda seen: any(quotes_everything(line) for line in seen))
        assert any(line.startswith("simulated IB Gateway on 127.0.0.1:") for line in lines)
        quotes = next(line for line in lines if quotes_everything(line))
        assert "gateway ibpub: connected" in quotes
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert out.until(lambda seen: "stopped." in seen)[-1] == "stopped."
