"""Reading a history whose page order is not documented: the same lines, in time order, either way;
an early stop only when pages come newest first; a failure keeps what was read. A narrow unit case:
the pages come from a stand-in for the client (the simulator's own order knob is tested over HTTP in
tests/relay_queue/test_documented_service.py)."""

from __future__ import annotations

from typing import Any

import pytest

from shared.opencx.history import Position, read_history
from shared.platform.http import HttpResult


def _item(n: int) -> dict[str, Any]:
    return {"id": f"m{n:02d}", "created_at": f"2026-12-01T10:00:{n:02d}Z",
            "event": {"type": "message", "sender": {"type": "contact"}, "content": {"text": f"line {n:02d}"}}}  # fmt: skip


class Pages:
    def __init__(self, count: int, size: int, newest_first: bool, fail_at: int | None = None) -> None:
        items = [_item(n) for n in range(count)]
        items = items[::-1] if newest_first else items
        self.pages = [items[i : i + size] for i in range(0, count, size)]
        self.fail_at = fail_at
        self.calls = 0

    def get_history(self, session_id: str, cursor: str | None = None) -> HttpResult:
        index = int(cursor or 0)
        self.calls += 1
        if index == self.fail_at:
            return HttpResult(status=503)
        following = str(index + 1) if index + 1 < len(self.pages) else None
        return HttpResult(status=200, body={"items": self.pages[index], "next": following})


@pytest.mark.parametrize("newest_first", [False, True])
def test_every_line_in_time_order_whatever_the_page_order(newest_first: bool) -> None:
    read = read_history(Pages(40, 5, newest_first), "s", max_pages=20)  # type: ignore[arg-type]
    assert read.complete and [line.text for line in read.lines] == [f"line {n:02d}" for n in range(40)]


def test_the_ceiling_says_the_read_is_incomplete() -> None:
    read = read_history(Pages(40, 5, False), "s", max_pages=3)  # type: ignore[arg-type]
    assert not read.complete and len(read.lines) == 15


def test_newest_first_stops_at_the_first_page_with_nothing_newer() -> None:
    pages = Pages(40, 5, True)
    read = read_history(pages, "s", max_pages=20, after=Position("2026-12-01T10:00:31Z", "m31"))  # type: ignore[arg-type]
    assert [line.text for line in read.lines] == [f"line {n:02d}" for n in range(32, 40)]
    assert (
        pages.calls == 3
    )  # 39..35, 34..30 (detected newest first, still newer lines), 29..25: nothing newer


def test_oldest_first_reads_to_the_end_for_what_is_newer() -> None:
    pages = Pages(40, 5, False)
    read = read_history(pages, "s", max_pages=20, after=Position("2026-12-01T10:00:37Z"))  # type: ignore[arg-type]
    assert [line.text for line in read.lines] == ["line 38", "line 39"] and pages.calls == 8


def test_a_failure_keeps_what_was_read_and_says_so() -> None:
    read = read_history(Pages(40, 5, False, fail_at=2), "s", max_pages=20)  # type: ignore[arg-type]
    assert read.failure is not None and read.failure.status == 503 and len(read.lines) == 10
