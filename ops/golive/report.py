"""A verdict per step, printed as it is reached; a failure always says how to fix it."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from enum import StrEnum
from typing import TextIO


class Outcome(StrEnum):
    PASS = "PASS"  # noqa: S105 - a verdict, not a password
    WARN = "WARN"
    FAIL = "FAIL"
    SKIP = "SKIP"
    INFO = "INFO"


@dataclass(frozen=True)
class Verdict:
    step: str
    outcome: Outcome
    detail: str
    fix: str | None = None


class Reporter:
    """Prints verdicts and keeps them for the summary and the exit code."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.verdicts: list[Verdict] = []

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def add(self, verdict: Verdict) -> Verdict:
        self.verdicts.append(verdict)
        self.say(f"  [{verdict.outcome.value}] {verdict.step}: {verdict.detail}")
        if verdict.fix and verdict.outcome in (Outcome.FAIL, Outcome.WARN):
            self.say(f"         fix: {verdict.fix}")
        return verdict

    def section(self, title: str) -> None:
        self.say()
        self.say(f"== {title}")

    @property
    def failed(self) -> bool:
        return any(v.outcome is Outcome.FAIL for v in self.verdicts)

    def summary(self) -> None:
        counts = {o: sum(1 for v in self.verdicts if v.outcome is o) for o in Outcome}
        listed = ", ".join(f"{n} {o.value.lower()}" for o, n in counts.items() if n)
        self.say()
        self.say(f"== Verdict: {'NOT READY' if self.failed else 'READY'} ({listed})")
        for verdict in self.verdicts:
            if verdict.outcome is Outcome.FAIL:
                self.say(f"  - {verdict.step}: {verdict.fix or verdict.detail}")
