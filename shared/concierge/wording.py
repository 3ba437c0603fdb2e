"""Values written as people write them, per language, and a notice's text from its template.

Times: the next opening in CONCIERGE_TIME_ZONE, `9:00 AM Tue` in English (12-hour), `mar 9:00` in
Spanish (24-hour). Waits: rounded as a person would ("under a minute", "about 3 minutes", "about
15 minutes", "about 2 hours"), and only from a figure Dynamics gave (never from a 0 or an absence).
Every value stays within shared/platform/notice_templates.py's WORST_VALUES, so a template accepted
at load always renders within one segment.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from shared.platform.notice_templates import DEFAULT_LANGUAGE, fill, parse

_WEEKDAYS = {
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    "es": ("lun", "mar", "mié", "jue", "vie", "sáb", "dom"),
}
ZONE_MAX = 5


def language_of(code: str | None, templates: Mapping[str, object]) -> str:
    """`es-MX` -> `es` when Spanish templates exist; English otherwise."""
    for candidate in ((code or "").strip().lower(), (code or "").strip().lower().split("-")[0]):
        if candidate and candidate in templates:
            return candidate
    return DEFAULT_LANGUAGE


def local_time(instant: datetime, zone: ZoneInfo, language: str) -> tuple[str, str | None]:
    """(the time, the zone's abbreviation or None when it is long or numeric-looking)."""
    local = instant.astimezone(zone)
    weekday = _WEEKDAYS.get(language, _WEEKDAYS["en"])[local.weekday()]
    if language == "en":
        hour = local.hour % 12 or 12
        text = f"{hour}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'} {weekday}"
    else:
        text = f"{weekday} {local.hour}:{local.minute:02d}"
    abbreviation = local.tzname() or ""
    zone_text = abbreviation if 0 < len(abbreviation) <= ZONE_MAX else None
    return text, zone_text


def wait_phrase(seconds: float | None, language: str) -> str | None:
    """A wait rounded as a person would, or None when the figure supports no estimate."""
    if seconds is None or seconds <= 0:
        return None
    minutes = seconds / 60
    spanish = language == "es"
    if seconds < 60:
        return "menos de un minuto" if spanish else "under a minute"
    if minutes < 1.5:
        return "un minuto" if spanish else "about a minute"
    if minutes < 10:
        count = round(minutes)
    elif minutes < 55:
        count = int(5 * round(minutes / 5))
    else:
        hours = max(1, round(minutes / 60))
        if hours == 1:
            return "una hora" if spanish else "about an hour"
        if hours > 9:
            return "varias horas" if spanish else "several hours"
        return f"unas {hours} horas" if spanish else f"about {hours} hours"
    return f"unos {count} minutos" if spanish else f"about {count} minutes"


def render(template: str, values: Mapping[str, str | None]) -> str | None:
    """The notice's text in one SMS segment, or None when a required value is unknown."""
    return fill(parse(template), values)


def compose(
    templates: Mapping[str, Mapping[str, str]],
    name: str,
    language: str | None,
    values: Mapping[str, str | None],
) -> tuple[str | None, str]:
    """(text or None, the language used): the handoff's language when shipped, English otherwise."""
    chosen = language_of(language, templates)
    template = templates.get(chosen, {}).get(name) or templates[DEFAULT_LANGUAGE][name]
    return render(template, values), chosen
