"""Fault rules every simulator shares: which request misbehaves, and how. First match wins, under the
simulator's lock. Kinds: `status` (an error answer, e.g. 503, or 429 with `retry_after`), `drop_before`
(reset the connection first), `drop_after_commit` (do the work, then reset instead of answering) and
`slow` (answer after `delay` seconds). A simulator subclasses FaultRule to name its OPERATIONS and add
keyword-only fields (error codes, a session), so the shared ones keep their positions.
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
        if problems := self.problems():
            raise ValueError("invalid FaultRule: " + "; ".join(problems))

    @classmethod
    def from_dict(cls: type[_Rule], data: dict[str, Any]) -> _Rule:
        """Build a rule from admin-API JSON; unknown fields are an error, not silently dropped."""
        if unknown := sorted(set(data) - {item.name for item in fields(cls) if item.init}):
            raise ValueError(f"unknown FaultRule fields: {', '.join(unknown)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def retry_after_headers(self) -> dict[str, str]:
        return {} if self.retry_after is None else {"Retry-After": seconds_header(self.retry_after)}

    def matches(self, operation: str, subject: str | None = None) -> bool:
        """Whether the rule names this operation (no counting); a simulator's rule may narrow to `subject`."""
        return operation not in self.NAMED_ONLY if self.operation is None else self.operation == operation

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
        known, status = self.OPERATIONS, self.status  # admin JSON may carry anything
        checks = [
            (self.kind in FAULT_KINDS, f"kind must be one of {sorted(FAULT_KINDS)}, got {self.kind!r}"),
            (
                self.operation is None or known is None or self.operation in known,
                f"operation must be None or one of {sorted(known or ())}, got {self.operation!r}",
            ),
            (type(status) is int and 100 <= status <= 599, f"status must be an HTTP status, got {status!r}"),
            (self.retry_after is None or self.retry_after >= 0, "retry_after must be >= 0"),
            (
                self.delay >= 0 and (self.kind != "slow" or self.delay > 0),
                "delay must be > 0 for 'slow' and never negative",
            ),
            (self.times is None or self.times >= 0, "times must be >= 0"),
            (self.rate is None or 0.0 <= self.rate <= 1.0, "rate must be within [0, 1]"),
            (self.every is None or self.every >= 1, "every must be >= 1"),
        ]
        return [message for ok, message in checks if not ok]


_Rule = TypeVar("_Rule", bound=FaultRule)


def seconds_header(seconds: float) -> str:
    """`Retry-After`: an integer when whole (RFC 9110 delay-seconds), else the fraction (to the ms), so
    tests can stay fast."""
    return str(int(seconds)) if float(seconds).is_integer() else repr(round(float(seconds), 3))


def pick_fault(
    rules: Iterable[_Rule], operation: str, rng: random.Random, subject: str | None = None
) -> _Rule | None:
    """The first rule that fires for this operation (and subject), if any. Call under the simulator's lock."""
    return next((rule for rule in rules if rule.matches(operation, subject) and rule.fires(rng)), None)
