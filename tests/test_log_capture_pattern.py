"""No test reads all of caplog: background threads of earlier tests log into it too (tests/logs.py).

`caplog.text` or a loop over `caplog.records` sees a status write, a relay fast path or a runner
listener an earlier test started; a privacy assertion over it fails when a duration or a port holds
the digits it looks for, and a count over it counts another test's records. Tests pick their own
records with `logs.own_records` (or filter by a correlation id, as the one exception below does)."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
_ALL_OF_CAPLOG = re.compile(r"caplog\.(text|records|messages|record_tuples)\b")
# Reads caplog.records through a filter on the queue message's own id, the runner's correlation.
_FILTERED_BY_ID = {("devtools/test_localhost.py", 'if f"id={message_id} " in r.getMessage()')}


def _reads_all_of_caplog() -> list[str]:
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        relative = path.relative_to(TESTS).as_posix()
        if relative in {"logs.py", "test_log_capture_pattern.py"}:
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if _ALL_OF_CAPLOG.search(line) and not any(
                relative == name and fragment in line for name, fragment in _FILTERED_BY_ID
            ):
                found.append(f"tests/{relative}:{number}: {line.strip()}")
    return found


def test_no_test_asserts_over_all_captured_records() -> None:
    offenders = _reads_all_of_caplog()
    assert offenders == [], "use logs.own_records / logs.assert_never_logged instead:\n" + "\n".join(
        offenders
    )


def test_the_pattern_catches_the_old_race() -> None:
    """The guard can fail: the shape the text-privacy test used to have is caught."""
    assert _ALL_OF_CAPLOG.search("everything = caplog.text + repr(vars(record))")
    assert _ALL_OF_CAPLOG.search("[r for r in caplog.records if r.event == 'x']")
    assert not _ALL_OF_CAPLOG.search("caplog.set_level(logging.INFO)")
