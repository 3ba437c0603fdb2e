"""Fault rules: which request misbehaves, and how. Evaluated first-match-wins under the simulator's lock."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from devtools.dataverse_sim.odata import (
    CODE_BAD_QUERY,
    CODE_INVALID_ARGUMENT,
    CODE_NOT_FOUND,
    CODE_THROTTLE_REQUESTS,
    CODE_UNEXPECTED,
)
from devtools.dataverse_sim.routes import API_OPERATIONS
from devtools.simkit import faults as simkit_faults
from devtools.simkit.faults import FAULT_KINDS, pick_fault

__all__ = ["FAULT_KINDS", "OPERATIONS", "FaultRule", "pick_fault"]

OPERATIONS = frozenset({simkit_faults.TOKEN_OPERATION, *API_OPERATIONS})
"""Every operation a rule may name: "token" plus each Dataverse operation of routes.API_OPERATIONS."""

# status -> (code, message). Service protection limits (powerapps-docs .../data-platform/api-limits.md): 429.
_DEFAULTS = {
    400: (CODE_INVALID_ARGUMENT, "Invalid argument (simulated fault)."),
    403: ("0x80040220", "Principal user is missing a privilege (simulated fault)."),
    404: (CODE_NOT_FOUND, "The record does not exist (simulated fault)."),
    405: (CODE_BAD_QUERY, "The method is not allowed (simulated fault)."),
    408: (CODE_UNEXPECTED, "The request timed out (simulated fault)."),
    429: (
        CODE_THROTTLE_REQUESTS,
        "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
    ),
    500: (CODE_UNEXPECTED, "An unexpected error occurred (simulated fault)."),
    502: (CODE_UNEXPECTED, "Bad gateway (simulated fault)."),
    503: (CODE_UNEXPECTED, "The service is temporarily unavailable (simulated fault)."),
    504: (CODE_UNEXPECTED, "The gateway timed out (simulated fault)."),
}


@dataclass
class FaultRule(simkit_faults.FaultRule):
    """simkit's fault rule, answered in Dataverse's error shape (`code`, `message`)."""

    OPERATIONS: ClassVar[frozenset[str] | None] = OPERATIONS

    code: str | None = field(default=None, kw_only=True)
    message: str | None = field(default=None, kw_only=True)

    @property
    def error_code(self) -> str:
        return self.code or _DEFAULTS.get(self.status, (CODE_UNEXPECTED, ""))[0]

    @property
    def error_message(self) -> str:
        return self.message or _DEFAULTS.get(self.status, ("", f"Simulated HTTP {self.status}."))[1]
