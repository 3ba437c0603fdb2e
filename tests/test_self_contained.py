"""The project reads nothing outside its own tree: a user's clone has nothing beside it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A path that climbs out of the repo: the sibling shared folder, three `.parent` hops, the root's parent.
_OUTSIDE = re.compile(r"\.\./shared|parent\.parent\.parent|(?:ROOT|PROJECT_ROOT)\.parent\b")


def _tracked_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "*.py", "Makefile", "*.sh", ".ci/run", ".ci/fresh-clone", "*.toml", "*.json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [ROOT / name for name in listed]


def test_no_code_climbs_out_of_the_repository() -> None:
    offenders = []
    for path in _tracked_files():
        if not path.is_file():
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            if _OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == [], "code reads outside the repository:\n" + "\n".join(offenders)


def test_the_pattern_catches_the_old_sample_path() -> None:
    """The guard must be able to fail: the path the project used to read is caught."""
    # Assembled here, so this file holds no such path itself and the guard can scan it too.
    up, sibling = "..", "shared"
    assert _OUTSIDE.search("SAMPLES = ROOT" + ".parent" + f' / "{sibling}" / "samples"')
    assert _OUTSIDE.search(f"open('{up}/{sibling}/DESIGN.md')")
    assert _OUTSIDE.search("Path(__file__)" + ".parent" * 3)
