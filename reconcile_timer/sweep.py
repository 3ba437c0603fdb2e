"""The timer's body: sweep the open conversations (mode messaging only)."""

from __future__ import annotations

from shared.messaging.deps import process_deps
from shared.messaging.reconcile import sweep
from shared.platform.log import get_logger, log_event
from shared.platform.settings import DeliveryMode, get_settings

logger = get_logger("reconcile_timer")


def run(*, past_due: bool = False) -> dict[str, int] | None:
    """The sweep's report, or None in mode work_item. A storage or queue outage raises: the next
    tick tries again, and nothing was marked done that was not."""
    if get_settings().delivery_mode is not DeliveryMode.MESSAGING:
        return None
    if past_due:
        log_event(logger, "reconcile.past_due")
    return sweep(process_deps())
