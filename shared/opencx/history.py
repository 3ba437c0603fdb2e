"""Reading a session's history when the page order is not documented.

OpenCX's `list_history` pages by an opaque forward-only cursor and does not say whether pages come
oldest or newest first. So every reader here reads to the end (or to a ceiling of pages), then
orders the lines by time itself: the newest lines are right whatever the order. When the pages turn
out to come newest first and a page holds nothing newer than what the caller already has, the
reading stops early: everything past it is older still.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.opencx.client import OpenCXClient
from shared.opencx.session import TranscriptLine, next_cursor, transcript_lines
from shared.platform.http import HttpResult
from shared.platform.times import instant


@dataclass(frozen=True)
class Position:
    """Where a reader got to: the time and id of the last line it has."""

    at: str | None
    id: str | None = None


@dataclass(frozen=True)
class HistoryRead:
    lines: list[TranscriptLine]  # oldest first
    complete: bool  # False: the ceiling of pages was reached with more to read
    failure: HttpResult | None = None  # the answer that stopped the reading, when one did
    pages: int = 0


def order_key(line: TranscriptLine) -> tuple[float, str]:
    return (instant(line.at) or 0.0, line.id or "")


def is_after(line: TranscriptLine, position: Position | None) -> bool:
    """Whether the line comes after the position: later in time, or at the same instant and after the
    position's id (a position without an id covers its whole instant)."""
    if position is None or position.at is None:
        return True
    key, mark = order_key(line), (instant(position.at) or 0.0, position.id or "")
    if position.id is None:
        return key[0] > mark[0]
    return key > mark


def read_history(
    client: OpenCXClient, session_id: str, *, max_pages: int, after: Position | None = None
) -> HistoryRead:
    """All message lines after `after` (all of them when None), oldest first."""
    lines: list[TranscriptLine] = []
    cursor: str | None = None
    previous_oldest: float | None = None
    newest_first: bool | None = None
    for page_number in range(1, max_pages + 1):
        answer = client.get_history(session_id, cursor)
        if not answer.ok:
            return HistoryRead(_ordered(lines, after), complete=False, failure=answer, pages=page_number)
        page = transcript_lines(answer.body)
        lines += page
        keys = [order_key(line)[0] for line in page if line.at]
        if keys and previous_oldest is not None and newest_first is None:
            newest_first = max(keys) <= previous_oldest
        if keys:
            previous_oldest = min(keys) if previous_oldest is None else min(previous_oldest, *keys)
        following = next_cursor(answer.body)
        if not following or following == cursor:
            return HistoryRead(_ordered(lines, after), complete=True, pages=page_number)
        if newest_first and after is not None and page and not any(is_after(line, after) for line in page):
            return HistoryRead(_ordered(lines, after), complete=True, pages=page_number)
        cursor = following
    return HistoryRead(_ordered(lines, after), complete=False, pages=max_pages)


def _ordered(lines: list[TranscriptLine], after: Position | None) -> list[TranscriptLine]:
    unique = {(line.id or f"{line.at}|{line.role}|{line.text}"): line for line in lines}
    return sorted((line for line in unique.values() if is_after(line, after)), key=order_key)
