"""Cold start: `import function_app` against a bare `import azure.functions, pydantic`.

Each figure is the median of several fresh interpreters, with the import time measured by
`-X importtime` (the cumulative microseconds of the top-level imports), interleaved so machine
noise hits both alike.

`import pydantic` is lazy: it loads none of the model machinery that defining the first model
class loads (about 100 ms here, docs/benchmarks.md). So a second reference is printed beside the
goal's ratio: the baseline plus one one-field model, what any app with a pydantic model pays.
`--breakdown` lists the modules the app imports beyond the baseline, by their own import time.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import subprocess
import sys
from pathlib import Path

from bench.report import print_table, write_results

ROOT = Path(__file__).resolve().parent.parent
RUNS = 9
APP = "import function_app"
BASELINE = "import azure.functions, pydantic"
ONE_MODEL = "import azure.functions, pydantic\nclass One(pydantic.BaseModel):\n    x: int"


def import_lines(statement: str) -> list[tuple[int, int, str]]:
    """(self us, cumulative us, name with its nesting indent) per `-X importtime` line."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, cumulative, name = line.removeprefix("import time:").split("|")
        lines.append((int(own), int(cumulative), name))
    return lines


def import_micros(statement: str) -> int:
    """Sum of cumulative import times of the top-level modules the statement imports."""
    return sum(cumulative for _, cumulative, name in import_lines(statement) if not name.startswith("  "))


def breakdown(runs: int) -> list[tuple[str, float]]:
    """The modules only the app imports, by median self time (ms), largest first."""
    app: dict[str, list[int]] = collections.defaultdict(list)
    base: set[str] = set()
    for _ in range(runs):
        for own, _, name in import_lines(APP):
            app[name.strip()].append(own)
        base.update(name.strip() for _, _, name in import_lines(BASELINE))
    extra = [(name, statistics.median(v) / 1000) for name, v in app.items() if name not in base]
    return sorted(extra, key=lambda item: -item[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--breakdown", type=int, default=0, help="list the N costliest app-only modules")
    args = parser.parse_args()
    app, base, one_model = [], [], []
    for _ in range(RUNS):
        app.append(import_micros(APP))
        base.append(import_micros(BASELINE))
        one_model.append(import_micros(ONE_MODEL))
    app_ms, base_ms = statistics.median(app) / 1000, statistics.median(base) / 1000
    one_model_ms = statistics.median(one_model) / 1000
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
        "import_one_model_ms_p50": one_model_ms,
        "ratio_to_one_model": app_ms / one_model_ms,
        "worker_sdks_loaded_at_import": heavy,
    }
    print_table(
        f"Cold start (median of {RUNS} fresh interpreters)",
        [
            ("import function_app", f"{app_ms:.1f} ms"),
            ("import azure.functions, pydantic", f"{base_ms:.1f} ms"),
            ("ratio (goal <= 1.5)", f"{app_ms / base_ms:.2f}x"),
            ("baseline + one pydantic model", f"{one_model_ms:.1f} ms ({one_model_ms / base_ms:.2f}x)"),
            ("app against that", f"{app_ms / one_model_ms:.2f}x"),
            ("SDKs loaded by the import", heavy),
        ],
    )
    if args.breakdown:
        extra = breakdown(RUNS)
        figures["app_only_modules_ms"] = dict(extra[: args.breakdown])
        print_table(
            "Modules only the app imports (median self time)",
            [(name, f"{ms:.1f} ms") for name, ms in extra[: args.breakdown]],
        )
    print(f"\nwritten: {write_results('cold_start', figures)}")


if __name__ == "__main__":
    main()
