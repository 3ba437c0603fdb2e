"""Running the check in process against a LocalStack and reading its verdicts."""

from __future__ import annotations

import io

from devtools.golive import cli
from devtools.golive.local import LocalStack, run_pass
from devtools.golive.report import Outcome, Reporter


def args(*extra: str):  # type: ignore[no-untyped-def]
    return cli.parser().parse_args(["--yes", "--wait-minutes", "0.1", "--token-wait-seconds", "8", *extra])


def run(
    stack: LocalStack, mode: str, *extra: str, audience_setting: str | None = None
) -> tuple[int, Reporter]:
    report = Reporter(io.StringIO())
    code = run_pass(stack, args(*extra), mode, report, audience_setting)
    return code, report


def outcome(report: Reporter, step: str) -> Outcome:
    found = [v.outcome for v in report.verdicts if v.step == step]
    assert found, f"no verdict for {step}: {[v.step for v in report.verdicts]}"
    return found[-1]


def text(report: Reporter) -> str:
    out = report.out
    assert isinstance(out, io.StringIO)
    return out.getvalue()
