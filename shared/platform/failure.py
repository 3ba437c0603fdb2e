"""A failed call to an upstream, as a value: which upstream, what kind of failure, and its details.

`HttpResult` stays at the HTTP edge; code past it decides on `Failure.kind` (and `outcome` for the
retry policy), never on a status it made up. Build one with `Failure.of(upstream, result)` from an
answer, or directly for what no answer says (a 2xx without the id it should carry, a conversation
the table does not know).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from shared.platform.retry_policy import Outcome, classify

if TYPE_CHECKING:
    from shared.platform.http import HttpResult


class Upstream(StrEnum):
    OPENCX = "opencx"
    DATAVERSE = "dataverse"
    MESSAGING = "messaging"
    STORAGE = "storage"
    MEDIA = "media"  # the host of a file being relayed

    @property
    def display_name(self) -> str:
        return _TITLES[self]


_TITLES = {
    Upstream.OPENCX: "OpenCX",
    Upstream.DATAVERSE: "Dataverse",
    Upstream.MESSAGING: "the Messaging API",
    Upstream.STORAGE: "the storage account",
    Upstream.MEDIA: "the file's host",
}


class FailureKind(StrEnum):
    UNREACHABLE = "unreachable"  # no answer: connection refused or dropped, timeout, no token
    THROTTLED = "throttled"  # 429: waiting, not failing
    TRANSIENT = "transient"  # 408/5xx: try again later
    GONE = "gone"  # the thing addressed does not exist (any more)
    REFUSED = "refused"  # any other 4xx: repeating the same request cannot help
    MALFORMED = "malformed"  # a 2xx that lacks what it must carry


_OUTCOMES = {
    FailureKind.UNREACHABLE: Outcome.TRANSIENT,
    FailureKind.THROTTLED: Outcome.THROTTLED,
    FailureKind.TRANSIENT: Outcome.TRANSIENT,
    FailureKind.GONE: Outcome.PERMANENT,
    FailureKind.REFUSED: Outcome.PERMANENT,
    FailureKind.MALFORMED: Outcome.TRANSIENT,
}


@dataclass(frozen=True)
class Failure:
    upstream: Upstream
    kind: FailureKind
    status: int | None = None
    code: str | None = None
    message: str | None = None
    retry_after: float | None = None

    @classmethod
    def of(cls, upstream: Upstream, result: HttpResult, *, gone: bool = False) -> Failure:
        """The failure an answer (not 2xx) stands for. `gone`: the caller knows this answer means
        the addressed thing no longer exists (each upstream says so its own way)."""
        outcome = classify(result.status)
        if gone:
            kind = FailureKind.GONE
        elif result.status is None:
            kind = FailureKind.UNREACHABLE
        elif outcome is Outcome.THROTTLED:
            kind = FailureKind.THROTTLED
        elif outcome is Outcome.TRANSIENT:
            kind = FailureKind.TRANSIENT
        elif outcome is Outcome.SUCCESS:
            kind = FailureKind.MALFORMED
        else:
            kind = FailureKind.REFUSED
        return cls(
            upstream,
            kind,
            status=result.status,
            code=result.error_code,
            message=result.error_text,
            retry_after=result.retry_after,
        )

    @property
    def outcome(self) -> Outcome:
        return _OUTCOMES[self.kind]

    @property
    def retryable(self) -> bool:
        return self.outcome is not Outcome.PERMANENT

    def describe(self) -> str:
        """For an operator: no customer text (callers scrub `message` before showing it)."""
        status = f"status {self.status}" if self.status is not None else "no answer"
        code = f", code {self.code}" if self.code else ""
        return f"{self.upstream.display_name}: {self.kind.value} ({status}{code})"
