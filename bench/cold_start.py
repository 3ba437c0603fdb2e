"""Cold start: `import function_app` against a bare `import azure.functions, pydantic`.

Each figure is the median of several fresh interpreters, with the import time measured by
`-X importtime` (the cumulative microseconds of the top-level imports), interleaved so machine
noise hits both alike.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

from bench.report import print_table, write_results

ROOT = Path(__file__).resolve().parent.parent
RUNS = 9


def import_micros(statement: str) -> int:
    """Sum of cumulative import times of the top-level modules the statement imports."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    total = 0
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
        if not name.startswith(" ") and not line.split("|")[2].startswith("  "):
            total += int(cumulative)
    return total


def main() -> None:
    app, base = [], []
    for _ in range(RUNS):
        app.append(import_micros("import function_app"))
        base.append(import_micros("import azure.functions, pydantic"))
    app_ms, base_ms = statistics.median(app) / 1000, statistics.median(base) / 1000
    heavy = subprocess.run(
        [sys.executable, "-c", "import sys, function_app; print(sorted(m for m in ('requests', 'azure.identity', "
         "'azure.storage.queue', 'azure.data.tables', 'phonenumbers', 'email_validator') if m in sys.modules))"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    figures = {
        "import_function_app_ms_p50": app_ms,
        "import_baseline_ms_p50": base_ms,
        "ratio": app_ms / base_ms,
        "goal_ratio": 1.5,
        "worker_sdks_loaded_at_import": heavy,
    }
    print_table(
        f"Cold start (median of {RUNS} fresh interpreters)",
        [
            ("import function_app", f"{app_ms:.1f} ms"),
            ("import azure.functions, pydantic", f"{base_ms:.1f} ms"),
            ("ratio (goal <= 1.5)", f"{app_ms / base_ms:.2f}x"),
            ("SDKs loaded by the import", heavy),
        ],
    )
    print(f"\nwritten: {write_results('cold_start', figures)}")


if __name__ == "__main__":
    main()
