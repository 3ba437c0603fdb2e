"""Fault rules: which request misbehaves, and how. Evaluated first-match-wins under the simulator's lock."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any

from devtools.dataverse_sim.odata import (
    CODE_BAD_QUERY,
    CODE_INVALID_ARGUMENT,
    CODE_NOT_FOUND,
    CODE_THROTTLE_REQUESTS,
    CODE_UNEXPECTED,
)
from devtools.dataverse_sim.routes import API_OPERATIONS

FAULT_KINDS = frozenset({"status", "drop_before", "drop_after_commit", "slow"})
OPERATIONS = frozenset({"token", *API_OPERATIONS})
"""Every operation a rule may name: "token" plus each Dataverse operation of routes.API_OPERATIONS."""

_DEFAULT_CODES = {
    400: CODE_INVALID_ARGUMENT,
    403: "0x80040220",  # principal is missing a privilege
    404: CODE_NOT_FOUND,
    405: CODE_BAD_QUERY,
    429: CODE_THROTTLE_REQUESTS,
}
_DEFAULT_MESSAGES = {
    400: "Invalid argument (simulated fault).",
    403: "Principal user is missing a privilege (simulated fault).",
    404: "The record does not exist (simulated fault).",
    408: "The request timed out (simulated fault).",
    # Service protection limits (powerapps-docs .../data-platform/api-limits.md): 429 with Retry-After.
    429: "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
    500: "An unexpected error occurred (simulated fault).",
    502: "Bad gateway (simulated fault).",
    503: "The service is temporarily unavailable (simulated fault).",
    504: "The gateway timed out (simulated fault).",
}


@dataclass
class FaultRule:
    """One injected fault.

    `operation=None` matches every Dataverse API operation but NOT the token endpoint: a rule meant for
    "the next Dataverse call" must not be eaten by the credential's token request. Name "token" to fault
    the token endpoint. With neither `times`, `rate` nor `every` the rule fires on every match.
    """

    kind: str
    operation: str | None = None
    status: int = 503
    retry_after: float | None = None
    code: str | None = None
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
        allowed = {"kind", "operation", "status", "retry_after", "code", "message", "delay"}
        allowed |= {"times", "rate", "every"}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ValueError(f"unknown FaultRule fields: {', '.join(unknown)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def error_code(self) -> str:
        return self.code or _DEFAULT_CODES.get(self.status, CODE_UNEXPECTED)

    @property
    def error_message(self) -> str:
        return self.message or _DEFAULT_MESSAGES.get(self.status, f"Simulated HTTP {self.status}.")

    def retry_after_header(self) -> str | None:
        """Whole seconds as an integer (the HTTP form); fractions kept so tests can stay fast."""
        if self.retry_after is None:
            return None
        if float(self.retry_after).is_integer():
            return str(int(self.retry_after))
        return repr(float(self.retry_after))

    def consider(self, operation: str, rng: random.Random) -> bool:
        """Whether this rule fires for a request to `operation`. Mutates counters: call under a lock."""
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
    """Every reason the rule is unusable, so a typo fails loudly instead of never firing."""
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
    """The first rule that fires for this request, if any. Call under the simulator's lock."""
    for rule in rules:
        if rule.consider(operation, rng):
            return rule
    return None
