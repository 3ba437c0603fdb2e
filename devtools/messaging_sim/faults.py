"""The Messaging API simulator's fault rules: simkit's kinds on its operations, answered with a 300xx
`code` (error-handling.md's for the status when the rule names none)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from devtools.simkit import faults as simkit_faults

_DEFAULT_CODES = {400: 30012, 404: 30013, 500: 30015}


@dataclass
class FaultRule(simkit_faults.FaultRule):
    OPERATIONS: ClassVar[frozenset[str] | None] = frozenset(
        {simkit_faults.TOKEN_OPERATION, "create", "send", "end", "list", "messages", "context", "other"}
    )
    code: int | None = field(default=None, kw_only=True)

    @property
    def error_code(self) -> int | None:
        return self.code if self.code is not None else _DEFAULT_CODES.get(self.status)
