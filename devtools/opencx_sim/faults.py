"""Fault rules: which OpenCX API request misbehaves, and how. First match wins, under the simulator's lock.

The shared vocabulary of devtools.simkit.faults (the Dataverse simulator's too), so soak and bench scripts can fault both
systems the same way: `status` (an error answer, e.g. 500/502/503, or 429 with `retry_after`),
`drop_before` (reset the connection before anything happens), `drop_after_commit` (do the work, e.g.
record a sent message, then reset the connection instead of answering: the "did it send?" case) and
`slow` (answer normally after `delay` seconds).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import ClassVar

from devtools.simkit import faults as simkit_faults
from devtools.simkit.faults import FAULT_KINDS

__all__ = ["FAULT_KINDS", "OPERATIONS", "FaultRule", "pick_fault"]

OPERATIONS = frozenset({"get_session", "list_history", "send", "update_session", "other"})


@dataclass
class FaultRule(simkit_faults.FaultRule):
    """One injected fault (the shared kinds and counters of simkit.faults).

    `operation=None` matches every API operation; `session_id` narrows a rule to one session. With none
    of `times`, `rate` or `every` the rule fires on every match; `times` caps how often it fires, `rate`
    is a probability in [0, 1] (seeded, so a run can be replayed), `every` fires on each n-th match.
    """

    OPERATIONS: ClassVar[frozenset[str] | None] = OPERATIONS

    session_id: str | None = field(default=None, kw_only=True)
    message: str | None = field(default=None, kw_only=True)

    def consider(self, operation: str, session_id: str | None, rng: random.Random) -> bool:
        """Whether this rule fires for a request. Mutates counters: call under a lock."""
        if not self.matches(operation):
            return False
        if self.session_id is not None and self.session_id != session_id:
            return False
        return self.fires(rng)


def pick_fault(
    rules: list[FaultRule], operation: str, session_id: str | None, rng: random.Random
) -> FaultRule | None:
    """The first rule that fires for this request, if any. Call under the simulator's lock."""
    for rule in rules:
        if rule.consider(operation, session_id, rng):
            return rule
    return None
