"""Every fuzz target replayed over its corpus and its past crashes (pure; in ``make test``).

The corpus (``tests/fuzz/corpus/<target>``) holds the inputs atheris found that add coverage;
``tests/fuzz/crashes/<target>`` holds every input that once made a target fail, kept as a
regression test once its defect was fixed.
"""

from pathlib import Path

import pytest

from tests.fuzz.run import CORPUS, CRASHES
from tests.fuzz.targets import TARGETS


def inputs(folder: Path) -> list[tuple[str, Path]]:
    return [
        (target, path)
        for target in TARGETS
        for path in sorted((folder / target).glob("*"))
        if path.is_file()
    ]


def test_every_target_has_a_corpus() -> None:
    """Each target starts from at least one seed, so a replay of its corpus can fail."""
    assert {target for target, _ in inputs(CORPUS)} == set(TARGETS)


@pytest.mark.parametrize(("target", "path"), inputs(CORPUS), ids=lambda v: getattr(v, "name", v))
def test_corpus_input_passes(target: str, path: Path) -> None:
    """A corpus input meets its parser's contract (no finding)."""
    TARGETS[target](path.read_bytes())


@pytest.mark.parametrize(("target", "path"), inputs(CRASHES), ids=lambda v: getattr(v, "name", v))
def test_past_crash_stays_fixed(target: str, path: Path) -> None:
    """An input that once made its target fail passes now."""
    TARGETS[target](path.read_bytes())
