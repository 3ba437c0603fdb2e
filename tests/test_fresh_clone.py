"""`.ci/fresh-clone` tries exactly the README's commands, with every cache empty.

It is the check that a warm developer cache cannot hide a step a new user needs (issue 18); this
keeps it honest without running it (it takes about ten minutes): the commands it runs are the
README's first code block, and each cache it must empty is pointed into its temp folder.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = (ROOT / ".ci" / "fresh-clone").read_text()
README = (ROOT / "README.md").read_text()


def test_it_runs_the_readmes_commands():
    block = re.search(r"```bash\n(.*?)```", README, re.DOTALL)
    assert block
    commands = re.findall(r"^make (\w+)", block.group(1), re.MULTILINE)
    assert commands == ["demo", "test"]
    assert f"for target in {' '.join(commands)}; do" in SCRIPT


def test_every_cache_points_into_the_temp_folder():
    for variable in ("XDG_CACHE_HOME", "UV_CACHE_DIR", "npm_config_cache", "PIP_CACHE_DIR"):
        assert re.search(rf'{variable}="\$work/cache/', SCRIPT), variable


def test_it_is_documented_executable_and_valid_bash():
    assert "make fresh-clone" in README and ".ci/fresh-clone" in README
    mode = subprocess.run(
        ["git", "ls-files", "-s", ".ci/fresh-clone"], cwd=ROOT, capture_output=True, text=True
    )
    assert mode.stdout.startswith("100755"), "commit .ci/fresh-clone executable"
    assert subprocess.run(["bash", "-n", str(ROOT / ".ci" / "fresh-clone")]).returncode == 0
