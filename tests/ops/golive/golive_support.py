"""Running the check in process against a Stack and reading its verdicts."""

from __future__ import annotations

import io

from devtools.messaging_sim import MessagingSimulator
from devtools.opencx_sim import SMS_SESSION_ID
from devtools.stack import Stack
from ops.golive import cli
from ops.golive.local import run_pass
from ops.golive.report import Outcome, Reporter

SESSION_ID = SMS_SESSION_ID  # the seeded OpenCX session the send probe writes into


def args(*extra: str):  # type: ignore[no-untyped-def]
    return cli.parser().parse_args(["--yes", "--wait-minutes", "0.1", "--token-wait-seconds", "8", *extra])


def run(stack: Stack, *extra: str) -> tuple[int, Reporter]:
    report = Reporter(io.StringIO())
    code = run_pass(stack, args(*extra), report)
    return code, report


def messaging_sim(stack: Stack) -> MessagingSimulator:
    assert stack.messaging_parts is not None
    return stack.messaging_parts.messaging


def outcome(report: Reporter, step: str) -> Outcome:
    found = [v.outcome for v in report.verdicts if v.step == step]
    assert found, f"no verdict for {step}: {[v.step for v in report.verdicts]}"
    return found[-1]


def text(report: Reporter) -> str:
    out = report.out
    assert isinstance(out, io.StringIO)
    return out.getvalue()
