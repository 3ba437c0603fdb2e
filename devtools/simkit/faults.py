"""Fault rules every simulator shares: which request misbehaves, and how. First match wins, under the
simulator's lock.

Kinds: `status` (an error answer, e.g. 503, or 429 with `retry_after`), `drop_before` (reset the
connection before anything happens), `drop_after_commit` (do the work, then reset instead of answering)
and `slow` (answer normally after `delay` seconds). A simulator subclasses FaultRule to name its
OPERATIONS and add its own fields (error codes, messages, a session); those extra fields are
keyword-only, so the shared ones keep their positions.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, TypeVar

FAULT_KINDS = frozenset({"status", "drop_before", "drop_after_commit", "slow"})
TOKEN_OPERATION = "token"  # noqa: S105 - an operation name, not a secret


@dataclass
class FaultRule:
    """One injected fault. With none of `times`, `rate` or `every` it fires on every match; `times` caps
    how often it fires, `rate` is a probability in [0, 1] (seeded, so a run can be replayed), `every`
    fires on each n-th match. `operation=None` matches every operation except those in NAMED_ONLY (the
    identity endpoint: a rule meant for "the next API call" must not be eaten by a token request)."""

    OPERATIONS: ClassVar[frozenset[str] | None] = None  # None: any operation name is accepted
    NAMED_ONLY: ClassVar[frozenset[str]] = frozenset({TOKEN_OPERATION})

    kind: str
    operation: str | None = None
    status: int = 503
    retry_after: float | None = None
    delay: float = 0.0
    times: int | None = None
    rate: float | None = None
    every: int | None = None
    seen: int = field(default=0, init=False, compare=False)
    fired: int = field(default=0, init=False, compare=False)

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ValueError("invalid FaultRule: " + "; ".join(problems))

    @classmethod
    def from_dict(cls: type[_Rule], data: dict[str, Any]) -> _Rule:
        """Build a rule from admin-API JSON; unknown fields are an error, not silently dropped."""
        allowed = {item.name for item in fields(cls) if item.init}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ValueError(f"unknown FaultRule fields: {', '.join(unknown)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def retry_after_headers(self) -> dict[str, str]:
        """`Retry-After` when the rule sets one (see seconds_header), else no header."""
        return {} if self.retry_after is None else {"Retry-After": seconds_header(self.retry_after)}

    def matches(self, operation: str, subject: str | None = None) -> bool:
        """Whether the rule names this operation (no counting); `subject` is what a simulator's rule may
        narrow to besides (a session, say), ignored here."""
        if self.operation is None:
            return operation not in self.NAMED_ONLY
        return self.operation == operation

    def fires(self, rng: random.Random) -> bool:
        """Count a match and decide whether it fires (times, every, rate). Call under a lock."""
        if self.times is not None and self.fired >= self.times:
            return False
        self.seen += 1
        if self.every is not None and self.seen % self.every != 0:
            return False
        if self.rate is not None and rng.random() >= self.rate:
            return False
        self.fired += 1
        return True

    def problems(self) -> list[str]:
        """Every reason the rule is unusable, so a typo fails loudly instead of never firing."""
        problems: list[str] = []
        if self.kind not in FAULT_KINDS:
            problems.append(f"kind must be one of {sorted(FAULT_KINDS)}, got {self.kind!r}")
        known = self.OPERATIONS
        if self.operation is not None and known is not None and self.operation not in known:
            problems.append(f"operation must be None or one of {sorted(known)}, got {self.operation!r}")
        status: object = self.status  # admin JSON may carry anything
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
            problems.append(f"status must be an HTTP status, got {status!r}")
        if self.retry_after is not None and self.retry_after < 0:
            problems.append("retry_after must be >= 0")
        if self.delay < 0 or (self.kind == "slow" and self.delay <= 0):
            problems.append("delay must be > 0 for 'slow' and never negative")
        if self.times is not None and self.times < 0:
            problems.append("times must be >= 0")
        if self.rate is not None and not 0.0 <= self.rate <= 1.0:
            problems.append("rate must be within [0, 1]")
        if self.every is not None and self.every < 1:
            problems.append("every must be >= 1")
        return problems


_Rule = TypeVar("_Rule", bound=FaultRule)


def seconds_header(seconds: float) -> str:
    """`Retry-After` text: an integer when whole (RFC 9110 delay-seconds), else the fraction (to the
    millisecond), so tests can stay fast."""
    value = float(seconds)
    return str(int(value)) if value.is_integer() else repr(round(value, 3))


def pick_fault(
    rules: Iterable[_Rule], operation: str, rng: random.Random, subject: str | None = None
) -> _Rule | None:
    """The first rule that fires for this operation (and subject), if any. Call under the simulator's lock."""
    for rule in rules:
        if rule.matches(operation, subject) and rule.fires(rng):
            return rule
    return None
