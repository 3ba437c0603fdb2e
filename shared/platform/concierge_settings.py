"""The concierge's settings (docs/concierge.md): CONCIERGE, AFTER_HOURS, CONCIERGE_TIME_ZONE,
CONCIERGE_REFRESH_SECONDS, CONCIERGE_TIMEOUT_SECONDS and CONCIERGE_TEMPLATES, read and validated
with the rest of the settings so a bad template or zone is refused at load, naming the setting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.platform import setting_values as read
from shared.platform.notice_templates import DEFAULTS, load_templates


class AfterHours(StrEnum):
    CHAT = "chat"  # create the live chat as today, and tell the customer when the team is back
    INCIDENT = "incident"  # an incident instead of the live chat, its ticket number in the notice


@dataclass(frozen=True)
class ConciergeSettings:
    enabled: bool = False
    after_hours: AfterHours = AfterHours.CHAT
    time_zone: str = "UTC"
    refresh_seconds: float = 120.0
    timeout_seconds: float = 3.0
    templates: dict[str, dict[str, str]] = field(
        default_factory=lambda: {language: dict(texts) for language, texts in DEFAULTS.items()}
    )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


def _zone(raw: str | None, problems: dict[str, str]) -> str:
    name = (raw or "").strip() or "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        problems["CONCIERGE_TIME_ZONE"] = "is not an IANA time zone name (e.g. America/New_York)"
        return "UTC"
    return name


def load_concierge(env: Mapping[str, str], problems: dict[str, str]) -> ConciergeSettings:
    return ConciergeSettings(
        enabled=read.flag("CONCIERGE", env.get("CONCIERGE"), problems, False),
        after_hours=read.choice("AFTER_HOURS", env.get("AFTER_HOURS"), problems, AfterHours, AfterHours.CHAT),
        time_zone=_zone(env.get("CONCIERGE_TIME_ZONE"), problems),
        refresh_seconds=read.number(
            env, "CONCIERGE_REFRESH_SECONDS", problems, kind=float, default=120, low=30, high=3600
        ),
        timeout_seconds=read.number(
            env, "CONCIERGE_TIMEOUT_SECONDS", problems, kind=float, default=3, low=0.5, high=10
        ),
        templates=load_templates(env.get("CONCIERGE_TEMPLATES"), problems),
    )
