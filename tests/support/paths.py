"""Where things are in the repository."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
CAPTURES = REPO.parent / "shared" / "captures"
"""The real gateway recordings (read at test time, never copied into the repository)."""
CAPTURE_176 = CAPTURES / "01_ib_insync_encertai_sv176"
CAPTURE_225 = CAPTURES / "02_ibkrgo_sv225_quote_stream_multi_asset"
