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
class FaultRule(simkit_faults.FaultRule):
    """One injected fault (the shared kinds and counters of simkit.faults), answered in Dataverse's shape.

    `operation=None` matches every Dataverse API operation but NOT the token endpoint: a rule meant for
    "the next Dataverse call" must not be eaten by the credential's token request. Name "token" to fault
    the token endpoint. With neither `times`, `rate` nor `every` the rule fires on every match.
    """

    OPERATIONS: ClassVar[frozenset[str] | None] = OPERATIONS

    code: str | None = field(default=None, kw_only=True)
    message: str | None = field(default=None, kw_only=True)

    @property
    def error_code(self) -> str:
        return self.code or _DEFAULT_CODES.get(self.status, CODE_UNEXPECTED)

    @property
    def error_message(self) -> str:
        return self.message or _DEFAULT_MESSAGES.get(self.status, f"Simulated HTTP {self.status}.")
