"""NCRONTAB schedules as the Functions timer trigger reads them: six fields, seconds first.

    {second} {minute} {hour} {day} {month} {day-of-week}      "0 */5 * * * *" = every five minutes

Each field takes `*`, a number, a range `a-b`, a step `*/n` or `a-b/n` or `a/n`, and comma lists of
those; months and weekdays also take three-letter names (JAN, MON), and weekday 7 is Sunday like 0.
Times are UTC (the host's default without WEBSITE_TIME_ZONE). When both day fields are restricted a
time must match both (NCrontab's reading, unlike Vixie cron's "either").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
# name, low, high, names (index + offset = value)
_FIELDS: list[tuple[str, int, int, dict[str, int]]] = [
    ("second", 0, 59, {}),
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day", 1, 31, {}),
    ("month", 1, 12, {name: index + 1 for index, name in enumerate(_MONTHS)}),
    ("day-of-week", 0, 7, {name: index for index, name in enumerate(_DAYS)}),
]
_SEARCH_LIMIT = timedelta(days=366 * 5)


class ScheduleError(ValueError):
    """A schedule the parser cannot read; the message names the field."""


def _number(text: str, field: str, low: int, high: int, names: dict[str, int]) -> int:
    value = names.get(text.upper())
    if value is None:
        if not text.isdigit():
            raise ScheduleError(f"{field}: {text!r} is not a number")
        value = int(text)
    if not low <= value <= high:
        raise ScheduleError(f"{field}: {value} is outside {low}-{high}")
    return value


def _field(text: str, field: str, low: int, high: int, names: dict[str, int]) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ScheduleError(f"{field}: step {step_text!r} must be a positive number")
            step = int(step_text)
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start = _number(first, field, low, high, names)
            end = _number(last, field, low, high, names)
            if end < start:
                raise ScheduleError(f"{field}: range {base!r} runs backwards")
        else:
            start = _number(base, field, low, high, names)
            end = high if slash else start
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Schedule:
    """A parsed six-field NCRONTAB expression."""

    expression: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday

    @classmethod
    def parse(cls, expression: str) -> Schedule:
        parts = expression.split()
        if len(parts) != 6:
            raise ScheduleError(
                f"schedule {expression!r} must have 6 fields (second minute hour day month day-of-week)"
            )
        sets = [_field(p, *spec) for p, spec in zip(parts, _FIELDS, strict=True)]
        weekdays = frozenset(d % 7 for d in sets[5])
        return cls(expression, sets[0], sets[1], sets[2], sets[3], sets[4], weekdays)

    def _day_matches(self, moment: datetime) -> bool:
        weekday = (moment.weekday() + 1) % 7  # Python: Monday 0; NCRONTAB: Sunday 0
        return moment.month in self.months and moment.day in self.days and weekday in self.weekdays

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after `moment` (same tzinfo), to the second."""
        candidate = moment.replace(microsecond=0) + timedelta(seconds=1)
        limit = moment + _SEARCH_LIMIT
        while candidate <= limit:
            if not self._day_matches(candidate):
                candidate = candidate.replace(hour=0, minute=0, second=0) + timedelta(days=1)
                continue
            if candidate.hour not in self.hours:
                candidate = candidate.replace(minute=0, second=0) + timedelta(hours=1)
                continue
            if candidate.minute not in self.minutes:
                candidate = candidate.replace(second=0) + timedelta(minutes=1)
                continue
            if candidate.second not in self.seconds:
                candidate += timedelta(seconds=1)
                continue
            return candidate
        raise ScheduleError(f"schedule {self.expression!r} never fires")
