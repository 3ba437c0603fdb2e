"""OpenCX's fault rules: simkit's kinds (status, drop_before, drop_after_commit, slow) on the four
chat-session operations, optionally narrowed to one `session_id`, with the error `message` to answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from devtools.simkit import faults as simkit_faults

OPERATIONS = frozenset({"get_session", "list_history", "send", "update_session", "other"})


@dataclass
class FaultRule(simkit_faults.FaultRule):
    OPERATIONS: ClassVar[frozenset[str] | None] = OPERATIONS

    session_id: str | None = field(default=None, kw_only=True)
    message: str | None = field(default=None, kw_only=True)

    def matches(self, operation: str, subject: str | None = None) -> bool:
        return super().matches(operation) and self.session_id in (None, subject)
