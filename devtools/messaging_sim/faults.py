"""Fault rules for the Messaging API simulator, in the style of devtools.dataverse_sim.faults.

First match wins, evaluated under the simulator's lock. `operation=None` matches every API
operation but not the token endpoint.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any

FAULT_KINDS = frozenset({"status", "drop_before", "drop_after_commit", "slow"})
OPERATIONS = frozenset({"token", "create", "send", "end", "list", "messages", "context", "other"})

# error-handling.md: the 300xx code that goes with a status when the rule names none.
_DEFAULT_CODES = {400: 30012, 404: 30013, 500: 30015}
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass
class FaultRule:
    """One injected fault. With neither `times`, `rate` nor `every` it fires on every match."""

    kind: str
    operation: str | None = None
    status: int = 503
    retry_after: float | None = None
    code: int | None = None
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
        allowed = {"kind", "operation", "status", "retry_after", "code", "delay", "times", "rate", "every"}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ValueError(f"unknown FaultRule fields: {', '.join(unknown)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def error_code(self) -> int | None:
        return self.code if self.code is not None else _DEFAULT_CODES.get(self.status)

    @property
    def title(self) -> str:
        return _TITLES.get(self.status, f"HTTP {self.status}")

    def retry_after_header(self) -> str | None:
        if self.retry_after is None:
            return None
        if float(self.retry_after).is_integer():
            return str(int(self.retry_after))
        return repr(float(self.retry_after))

    def consider(self, operation: str, rng: random.Random) -> bool:
        if self.operation is None and operation == "token":
            return False
        if self.operation is not None and self.operation != operation:
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


def _problems(rule: FaultRule) -> list[str]:
    problems: list[str] = []
    if rule.kind not in FAULT_KINDS:
        problems.append(f"kind must be one of {sorted(FAULT_KINDS)}, got {rule.kind!r}")
    if rule.operation is not None and rule.operation not in OPERATIONS:
        problems.append(f"operation must be None or one of {sorted(OPERATIONS)}, got {rule.operation!r}")
    if not isinstance(rule.status, int) or not 100 <= rule.status <= 599:
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


def pick_fault(rules: list[FaultRule], operation: str, rng: random.Random) -> FaultRule | None:
    for rule in rules:
        if rule.consider(operation, rng):
            return rule
    return None
