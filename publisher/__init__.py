"""ibpub publisher: the IB gateway adapter service and the simulated gateway."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ibpub")  # one source of truth: pyproject.toml
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

# The compiled hot path (publisher/compiled.py): before any submodule is imported, so that
# IBPUB_PURE=1 (or a stale build) gets the pure-Python modules.
from publisher import compiled as _compiled

_compiled.install()
