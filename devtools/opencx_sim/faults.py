"""Fault rules: which OpenCX API request misbehaves, and how. First match wins, under the simulator's lock.

The same vocabulary as the Dataverse simulator's FaultRule, so soak and bench scripts can fault both
systems the same way: `status` (an error answer, e.g. 500/502/503, or 429 with `retry_after`),
`drop_before` (reset the connection before anything happens), `drop_after_commit` (do the work, e.g.
record a sent message, then reset the connection instead of answering: the "did it send?" case) and
`slow` (answer normally after `delay` seconds).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any

FAULT_KINDS = frozenset({"status", "drop_before", "drop_after_commit", "slow"})
OPERATIONS = frozenset({"get_session", "list_history", "send", "update_session", "other"})

_FIELDS = frozenset(
    {"kind", "operation", "session_id", "status", "retry_after", "message", "delay", "times", "rate", "every"}
)


@dataclass
class FaultRule:
    """One injected fault.

    `operation=None` matches every API operation; `session_id` narrows a rule to one session. With none
    of `times`, `rate` or `every` the rule fires on every match; `times` caps how often it fires, `rate`
    is a probability in [0, 1] (seeded, so a run can be replayed), `every` fires on each n-th match.
    """

    kind: str
    operation: str | None = None
    session_id: str | None = None
    status: int = 503
    retry_after: float | None = None
    message: str | None = None
    delay: float = 0.0
    times: int | None = None
    rate: float | None = None
    every: int | None = None
    seen: int = field(default=0, init=False, compare=False)
    fired: int = field(default=0, init=False, compare=False)

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise ValueError("invalid FaultRule: " + "; ".join(problems))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultRule:
        """Build a rule from admin-API JSON; unknown fields are an error, not silently dropped."""
        unknown = sorted(set(data) - _FIELDS)
        if unknown:
            raise ValueError(f"unknown FaultRule fields: {', '.join(unknown)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def retry_after_header(self) -> str | None:
        """Whole seconds as an integer (the HTTP form); fractions kept so tests can stay fast."""
        if self.retry_after is None:
            return None
        return format_seconds(self.retry_after)

    def consider(self, operation: str, session_id: str | None, rng: random.Random) -> bool:
        """Whether this rule fires for a request. Mutates counters: call under a lock."""
        if self.operation is not None and self.operation != operation:
            return False
        if self.session_id is not None and self.session_id != session_id:
            return False
        if self.times is not None and self.fired >= self.times:
            return False
        self.seen += 1
        if self.every is not None and self.seen % self.every != 0:
            return False
        if self.rate is not None and rng.random() >= self.rate:
            return False
        self.fired += 1
        return True


def format_seconds(seconds: float) -> str:
    """`Retry-After` text: an integer when whole (RFC 9110 delay-seconds), else the fraction."""
    value = float(seconds)
    return str(int(value)) if value.is_integer() else repr(round(value, 3))


def _problems(rule: FaultRule) -> list[str]:
    """Every reason the rule is unusable, so a typo fails loudly instead of never firing."""
    problems: list[str] = []
    if rule.kind not in FAULT_KINDS:
        problems.append(f"kind must be one of {sorted(FAULT_KINDS)}, got {rule.kind!r}")
    if rule.operation is not None and rule.operation not in OPERATIONS:
        problems.append(f"operation must be None or one of {sorted(OPERATIONS)}, got {rule.operation!r}")
    if not isinstance(rule.status, int) or isinstance(rule.status, bool) or not 100 <= rule.status <= 599:
        problems.append(f"status must be an HTTP status, got {rule.status!r}")
    if rule.retry_after is not None and rule.retry_after < 0:
        problems.append("retry_after must be >= 0")
    if rule.delay < 0 or (rule.kind == "slow" and rule.delay <= 0):
        problems.append("delay must be > 0 for 'slow' and never negative")
    if rule.times is not None and rule.times < 0:
        problems.append("times must be >= 0")
    if rule.rate is not None and not 0.0 <= rule.rate <= 1.0:
        problems.append("rate must be within [0, 1]")
    if rule.every is not None and rule.every < 1:
        problems.append("every must be >= 1")
    return problems


def pick_fault(
    rules: list[FaultRule], operation: str, session_id: str | None, rng: random.Random
) -> FaultRule | None:
    """The first rule that fires for this request, if any. Call under the simulator's lock."""
    for rule in rules:
        if rule.consider(operation, session_id, rng):
            return rule
    return None
