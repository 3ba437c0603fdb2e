"""Reading captured log records without racing other tests' background threads.

pytest's `caplog` sees every record of the process: a status write, a relay fast path or a local
runner's listener started by an EARLIER test may log while this one runs, and a duration, a port or
a count can contain any digits. So a test never asserts over `caplog.text` or over all of
`caplog.records`. It picks the records it caused with `own_records` (logged on the test's own thread,
or carrying one of its correlation ids when the work ran on a pool) and checks each one on its own
with `assert_never_logged`, which also renders everything a handler could write (message, exception,
every attribute), so no field escapes the check.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Iterable, Mapping

import pytest

_FORMATTER = logging.Formatter("%(levelname)s %(name)s %(message)s")


def rendered(record: logging.LogRecord) -> str:
    """What any handler could write for `record`: the formatted line (with a traceback) and its attributes."""
    return _FORMATTER.format(record) + "\n" + repr(vars(record))


def own_records(
    caplog: pytest.LogCaptureFixture,
    *,
    logger: str | None = None,
    correlated: Mapping[str, Collection[object]] | None = None,
) -> list[logging.LogRecord]:
    """The records this test caused, oldest first.

    A record is the test's when it was logged on the test's own thread (alive for the whole test, so
    its id is not reused), or when one of its attributes holds one of this test's ids:
    `correlated={"handoffId": {"msg_1"}}` for work the test handed to a thread pool. `logger` keeps
    only that logger and its children."""
    me = threading.get_ident()
    wanted = {key: set(values) for key, values in (correlated or {}).items()}

    def is_mine(record: logging.LogRecord) -> bool:
        if logger is not None and record.name != logger and not record.name.startswith(logger + "."):
            return False
        if record.thread == me:
            return True
        return any(getattr(record, key, None) in values for key, values in wanted.items())

    return [record for record in caplog.records if is_mine(record)]


def assert_never_logged(records: Iterable[logging.LogRecord], *needles: str) -> None:
    """No needle appears in any one record (each checked on its own, so one test's failure names
    the record that leaked, and text from two records cannot combine)."""
    for record in records:
        text = rendered(record)
        leaked = [needle for needle in needles if needle in text]
        assert not leaked, f"{leaked} logged by {record.name} ({record.threadName}): {record.getMessage()!r}"


def logged(records: Iterable[logging.LogRecord], fragment: str) -> bool:
    """Whether any of `records` has `fragment` in its message."""
    return any(fragment in record.getMessage() for record in records)
