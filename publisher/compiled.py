"""The compiled hot path: which modules mypyc compiles, whether they are in use, and the switch.

``make setup`` compiles :data:`MODULES` with mypyc (``python -m publisher._build``) into
extension modules beside their sources (untracked ``*.so`` files). Python's import system
prefers an extension module to a ``.py`` of the same name, so once built they are used, with no
change anywhere else; without a C compiler (or when the build fails) the ``.py`` files run as
before. :func:`install` (called by ``publisher/__init__.py`` before any submodule is imported)
puts a finder first on ``sys.meta_path`` that loads the ``.py`` of every compiled name instead
when

* ``IBPUB_PURE=1`` is set (both paths can run, side by side, under the same tests), or
* the build is stale: a compiled source is newer than its extension (an edit since the last
  ``make setup``), so an edit is never hidden by an old build.

All of them or none: mypyc binds the calls between modules of one build early, so mixing a
stale compiled module with a fresh pure one would run neither as written.

:func:`status` says which ran ("compiled (mypyc): N modules" or "pure Python: <reason>"); the
startup log line, ``ibpub --version`` and the bench header print it.
"""

import importlib
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import Final

MODULES: Final = (
    "publisher.gateway.framing",
    "publisher.gateway.fastsize",
    "publisher.gateway.fastpath_kinds",
    "publisher.gateway.fastpath",
    "publisher.core.normalise",
    "publisher.core.instruments",
    "publisher.core.kindpath",
    "publisher.core.tickpath",
    "publisher.bus.publish",
    "publisher.observability.histogram",
)
"""The read path's modules that mypyc compiles (one build: calls between them are native)."""

PURE_ENV: Final = "IBPUB_PURE"
"""``IBPUB_PURE=1`` forces the pure-Python modules."""

PACKAGE_DIR: Final = Path(__file__).resolve().parent
EXTENSION_SUFFIX: Final = importlib.machinery.EXTENSION_SUFFIXES[0]


def source_path(module: str) -> Path:
    """The ``.py`` file of one of :data:`MODULES`."""
    return PACKAGE_DIR.joinpath(*module.split(".")[1:]).with_suffix(".py")


def extension_path(module: str) -> Path:
    """Where the build puts the extension module of one of :data:`MODULES`."""
    source = source_path(module)
    return source.with_name(source.stem + EXTENSION_SUFFIX)


def forced_pure() -> bool:
    """Whether ``IBPUB_PURE`` asks for the pure-Python modules (any value but "", "0")."""
    return os.environ.get(PURE_ENV, "") not in ("", "0")


def pure_reason(modules: Sequence[str] = MODULES) -> str | None:
    """Why the pure modules are to be used (None: the compiled ones are, all of them)."""
    if forced_pure():
        return f"{PURE_ENV}=1"
    missing = [m for m in modules if not extension_path(m).exists()]
    if len(missing) == len(modules):
        return "not built (make setup builds them when a C compiler is present)"
    if missing:
        return f"incomplete build ({len(missing)} of {len(modules)} missing: run make setup)"
    for module in modules:
        if source_path(module).stat().st_mtime > extension_path(module).stat().st_mtime:
            return f"stale build ({source_path(module).name} changed since: run make setup)"
    return None


class PureFinder:
    """A meta-path finder that loads the ``.py`` source of the compiled module names."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname not in MODULES:
            return None
        source = source_path(fullname)
        return importlib.util.spec_from_file_location(
            fullname, source, loader=importlib.machinery.SourceFileLoader(fullname, str(source))
        )


_finder: PureFinder | None = None


def install() -> None:
    """Put :class:`PureFinder` first on ``sys.meta_path`` when the pure modules are to run."""
    global _finder
    reason = pure_reason()
    if reason is None or _finder is not None:
        return
    _finder = PureFinder(reason)
    sys.meta_path.insert(0, _finder)


def is_compiled(module: ModuleType) -> bool:
    """Whether a module was loaded from an extension module (not from Python source)."""
    return isinstance(getattr(module, "__loader__", None), importlib.machinery.ExtensionFileLoader)


def status() -> str:
    """Which read path runs: "compiled (mypyc): N modules" or "pure Python: <reason>"."""
    loaded = [importlib.import_module(name) for name in MODULES]
    compiled = [m for m in loaded if is_compiled(m)]
    if len(compiled) == len(loaded):
        return f"compiled (mypyc): {len(compiled)} modules"
    if compiled:  # only if something imported them around the finder
        return f"mixed: {len(compiled)} of {len(loaded)} modules compiled"
    reason = _finder.reason if _finder is not None else pure_reason() or "unknown"
    return f"pure Python: {reason}"
