"""NCRONTAB schedules as the Functions timer trigger reads them: six fields, seconds first.

`{second} {minute} {hour} {day} {month} {day-of-week}` ("0 */5 * * * *" = every five minutes), each
`*`, `n`, `a-b`, `*/n`, `a-b/n`, `a/n` or a comma list of those; months and weekdays also by name (JAN,
MON), weekday 7 is Sunday like 0. Times are UTC (the host's default without WEBSITE_TIME_ZONE). With
both day fields restricted a time must match both (NCrontab's reading, unlike Vixie cron's "either").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
_FIELDS: list[tuple[str, int, int, dict[str, int]]] = [  # name, low, high, names
    ("second", 0, 59, {}),
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day", 1, 31, {}),
    ("month", 1, 12, {name: i + 1 for i, name in enumerate(_MONTHS)}),
    ("day-of-week", 0, 7, {name: i for i, name in enumerate(_DAYS)}),
]
_SEARCH_LIMIT = timedelta(days=366 * 5)


class ScheduleError(ValueError):
    """A schedule the parser cannot read; the message names the field."""


def _field(text: str, field: str, low: int, high: int, names: dict[str, int]) -> frozenset[int]:
    def number(text: str) -> int:
        value = names.get(text.upper(), int(text) if text.isdigit() else None)
        if value is None or not low <= value <= high:
            raise ScheduleError(f"{field}: {text!r} is not a value in {low}-{high}")
        return value

    values: set[int] = set()
    for part in text.split(","):
        base, slash, step = part.partition("/")
        if slash and (not step.isdigit() or int(step) == 0):
            raise ScheduleError(f"{field}: step {step!r} must be a positive number")
        first, dash, last = base.partition("-")
        start, end = (low, high) if base == "*" else (number(first), number(last) if dash else None)
        if end is None:
            end = high if slash else start
        if end < start:
            raise ScheduleError(f"{field}: range {base!r} runs backwards")
        values.update(range(start, end + 1, int(step) if slash else 1))
    return frozenset(values)


@dataclass(frozen=True)
class Schedule:
    """A parsed six-field NCRONTAB expression."""

    expression: str
    fields: tuple[frozenset[int], ...]  # second, minute, hour, day, month, day-of-week (0 = Sunday)

    @classmethod
    def parse(cls, expression: str) -> Schedule:
        parts = expression.split()
        if len(parts) != 6:
            names = " ".join(name for name, *_ in _FIELDS)
            raise ScheduleError(f"schedule {expression!r} must have 6 fields ({names})")
        sets = [_field(part, *spec) for part, spec in zip(parts, _FIELDS, strict=True)]
        return cls(expression, (*sets[:5], frozenset(d % 7 for d in sets[5])))

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after `moment` (same tzinfo), to the second."""
        seconds, minutes, hours, days, months, weekdays = self.fields
        candidate = moment.replace(microsecond=0) + timedelta(seconds=1)
        while candidate <= moment + _SEARCH_LIMIT:
            weekday = (candidate.weekday() + 1) % 7  # Python: Monday 0; NCRONTAB: Sunday 0
            if not (candidate.month in months and candidate.day in days and weekday in weekdays):
                candidate = candidate.replace(hour=0, minute=0, second=0) + timedelta(days=1)
            elif candidate.hour not in hours:
                candidate = candidate.replace(minute=0, second=0) + timedelta(hours=1)
            elif candidate.minute not in minutes:
                candidate = candidate.replace(second=0) + timedelta(minutes=1)
            elif candidate.second not in seconds:
                candidate += timedelta(seconds=1)
            else:
                return candidate
        raise ScheduleError(f"schedule {self.expression!r} never fires")
