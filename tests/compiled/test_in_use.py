"""publisher/compiled.py in this process: the compiled modules are in use iff they can be built.

After ``make setup`` on a machine with a C compiler (and Python's headers) every module of
:data:`publisher.compiled.MODULES` must be the mypyc extension, so CI with gcc fails here when
the build silently fell back; without a compiler they must be the ``.py`` files, with the
reason said. ``IBPUB_PURE=1`` (as tests/compiled/test_both_paths.py runs this file) asks for the
pure ones whatever was built.
"""

import importlib
import os
import re
from pathlib import Path

import pytest

from publisher import _build, compiled

REPO = Path(__file__).resolve().parents[2]


def _modules_loaded() -> list[tuple[str, bool]]:
    modules = [importlib.import_module(name) for name in compiled.MODULES]
    return [(m.__name__, compiled.is_compiled(m)) for m in modules]


def test_the_read_path_in_use_is_the_one_expected() -> None:
    state = compiled.status()
    loaded = _modules_loaded()
    if compiled.forced_pure():
        expected = "pure"
        assert state == f"pure Python: {compiled.PURE_ENV}=1"
    elif _build.compiler() is not None and _build.headers():
        expected = "compiled"
        assert state == f"compiled (mypyc): {len(compiled.MODULES)} modules", (
            f"a C compiler is present but the read path is {state!r}: run make setup "
            f"(build log: {_build.LOG})"
        )
    else:
        expected = "pure"
        assert state.startswith("pure Python: ")
    assert [name for name, is_ext in loaded if is_ext != (expected == "compiled")] == []


def test_pure_modules_are_loaded_from_their_sources() -> None:
    if compiled.status().startswith("pure"):
        for name in compiled.MODULES:
            module = importlib.import_module(name)
            assert module.__file__ == str(compiled.source_path(name))
    else:
        for name in compiled.MODULES:
            # mypyc names a module imported from another of its build after the shared
            # library's folder (publisher/publisher/...): only the file's name is certain.
            module = importlib.import_module(name)
            assert module.__file__ is not None
            assert Path(module.__file__).name == compiled.extension_path(name).name
            assert compiled.extension_path(name).exists()


def test_the_makefile_rebuilds_on_every_compiled_source() -> None:
    """The Makefile's COMPILED_SOURCES (the build's stamp) are exactly MODULES' sources."""
    makefile = (REPO / "Makefile").read_text().replace("\\\n", " ")
    found = re.search(r"^COMPILED_SOURCES := \$\(addprefix publisher/,(.*?)\)$", makefile, re.M)
    assert found is not None
    listed = ["publisher/" + path for path in found.group(1).split()]
    expected = [str(compiled.source_path(m).relative_to(REPO)) for m in compiled.MODULES]
    assert listed == expected


def test_a_source_newer_than_its_extension_is_a_stale_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An edit after the last build is never hidden by the old extension: all go pure."""
    monkeypatch.delenv(compiled.PURE_ENV, raising=False)
    names = ("publisher.gateway.framing", "publisher.gateway.fastsize")
    (tmp_path / "publisher" / "gateway").mkdir(parents=True)
    monkeypatch.setattr(compiled, "PACKAGE_DIR", tmp_path / "publisher")
    assert compiled.pure_reason(names) == (
        "not built (make setup builds them when a C compiler is present)"
    )
    for name in names:
        compiled.source_path(name).write_text("")
        compiled.extension_path(name).write_bytes(b"")
        os.utime(compiled.source_path(name), ns=(1_000, 1_000))
        os.utime(compiled.extension_path(name), ns=(2_000, 2_000))
    assert compiled.pure_reason(names) is None  # built after the sources: in use
    os.utime(compiled.source_path(names[1]), ns=(3_000, 3_000))  # an edit since the build
    assert compiled.pure_reason(names) == "stale build (fastsize.py changed since: run make setup)"
    compiled.extension_path(names[0]).unlink()
    assert compiled.pure_reason(names) == "incomplete build (1 of 2 missing: run make setup)"
    monkeypatch.setenv(compiled.PURE_ENV, "1")
    assert compiled.pure_reason(names) == "IBPUB_PURE=1"
