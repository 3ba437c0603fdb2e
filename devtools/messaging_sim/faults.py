"""Fault rules for the Messaging API simulator: the shared rules of devtools.simkit.faults, answered
with the Messaging API's 300xx codes and titles.

First match wins, evaluated under the simulator's lock. `operation=None` matches every API
operation but not the token endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from devtools.simkit import faults as simkit_faults
from devtools.simkit.faults import FAULT_KINDS, pick_fault

__all__ = ["FAULT_KINDS", "OPERATIONS", "FaultRule", "pick_fault"]

OPERATIONS = frozenset(
    {simkit_faults.TOKEN_OPERATION, "create", "send", "end", "list", "messages", "context", "other"}
)

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
class FaultRule(simkit_faults.FaultRule):
    """One injected fault (the shared kinds and counters of simkit.faults) with an optional 300xx
    `code`. With neither `times`, `rate` nor `every` it fires on every match."""

    OPERATIONS: ClassVar[frozenset[str] | None] = OPERATIONS

    code: int | None = field(default=None, kw_only=True)

    @property
    def error_code(self) -> int | None:
        return self.code if self.code is not None else _DEFAULT_CODES.get(self.status)

    @property
    def title(self) -> str:
        return _TITLES.get(self.status, f"HTTP {self.status}")
