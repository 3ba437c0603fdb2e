"""The customer notices' templates: names, placeholders, shipped wording, and the check that each
fits one SMS segment (shared/platform/sms.py). Here, below the settings, so an operator's template
that cannot fit, or names an unknown placeholder, is refused when settings load.

Syntax: `{name}` is a value; `[...]` is an optional part, dropped when one of its values is unknown
or, last first, when the text would not fit one segment. Braces and brackets are syntax only.
Rendering with real values is shared/concierge/wording.py's job; this module only checks and fills.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from shared.platform.sms import fits_one_segment

SETTING = "CONCIERGE_TEMPLATES"
DEFAULT_LANGUAGE = "en"
_PLACEHOLDER = re.compile(r"\{([A-Za-z_]+)\}")
_PART = re.compile(r"\[([^\[\]]*)\]|([^\[\]]+)")

# Template name -> its placeholders. `required` values must be known for the notice to exist.
PLACEHOLDERS: dict[str, frozenset[str]] = {
    "closed_chat": frozenset({"opens", "zone"}),
    "closed_incident": frozenset({"opens", "zone", "ticket"}),
    "queued": frozenset({"position", "wait"}),
    # Mode messaging, while the customer waits for a rep (shared/messaging/waiting.py).
    "out_of_hours": frozenset({"opens", "zone"}),
    "holiday": frozenset({"opens", "zone"}),
    "transfer_failed": frozenset(),
    "position_update": frozenset({"position", "wait"}),
}

# The longest value each placeholder takes, and (when one exists) the longest that needs UCS-2,
# per language: shared/concierge/wording.py's formatters never exceed them (its tests check).
# `ticket`: Dynamics' default case number `CAS-01234-A1B2C3`, with room for a longer prefix.
WORST_VALUES: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "opens": ("12:30 PM Wed",),
        "zone": ("+0530",),
        "ticket": ("CASE-0123456-A1B2C3",),
        "position": ("999",),
        "wait": ("about 55 minutes",),
    },
    "es": {
        "opens": ("mié 23:30", "sáb 23:30"),
        "zone": ("+0530",),
        "ticket": ("CASE-0123456-A1B2C3",),
        "position": ("999",),
        "wait": ("menos de un minuto",),
    },
}

# The shipped wording. English stays in GSM-7 (160); Spanish needs accents, so UCS-2 (70).
DEFAULTS: dict[str, dict[str, str]] = {
    "en": {
        "closed_chat": "Our team is closed now and back at {opens}[ {zone}]. Your request is saved "
        "in line and a person will reply right here when we open.",
        "closed_incident": "Our team is closed now and back at {opens}[ {zone}]. We opened case "
        "{ticket} for you and a person will follow up here then.",
        "queued": "A person will reply here soon.[ You are number {position} in line.][ The usual "
        "wait is {wait}.]",
        "out_of_hours": "Our team is closed now[, back at {opens}][ {zone}]. Your message is saved and "
        "a person will reply right here.",
        "holiday": "Our team is away for a holiday[, back at {opens}][ {zone}]. Your message is saved "
        "and a person will reply right here.",
        "transfer_failed": "We could not pass your chat to the right team just now. It is saved and a "
        "person will reply here as soon as they can.",
        "position_update": "Update: you are now number {position} in line.[ The usual wait is {wait}.]",
    },
    "es": {
        "closed_chat": "Estamos cerrados; volvemos el {opens}[ {zone}]. Te responderemos aquí.",
        "closed_incident": "Cerrado hasta el {opens}[ {zone}]. Tu caso es {ticket}.",
        "queued": "Una persona te responderá aquí.[ Vas {position}º en la fila.][ Espera: {wait}.]",
        "out_of_hours": "Estamos cerrados.[ Volvemos el {opens}.] Te responderemos aquí.",
        "holiday": "Hoy es festivo.[ Volvemos el {opens}.] Te responderemos aquí.",
        "transfer_failed": "No pudimos pasar tu chat al equipo. Te responderemos aquí pronto.",
        "position_update": "Ahora vas {position}º en la fila.[ Espera: {wait}.]",
    },
}


@dataclass(frozen=True)
class Part:
    text: str
    optional: bool

    @property
    def names(self) -> frozenset[str]:
        return frozenset(_PLACEHOLDER.findall(self.text))


def parse(template: str) -> tuple[Part, ...]:
    """The template's parts; ValueError naming what is wrong (an unbalanced bracket or brace)."""
    parts: list[Part] = []
    position = 0
    for match in _PART.finditer(template):
        if match.start() != position:
            break
        position = match.end()
        optional, plain = match.group(1), match.group(2)
        parts.append(Part(optional if optional is not None else plain, optional is not None))
    if position != len(template):
        raise ValueError("unbalanced or nested [ ]")
    for part in parts:
        if "{" in _PLACEHOLDER.sub("", part.text) or "}" in _PLACEHOLDER.sub("", part.text):
            raise ValueError("a { or } that is not a {placeholder}")
    return tuple(parts)


def fill(parts: tuple[Part, ...], values: Mapping[str, str | None]) -> str | None:
    """The text with `values`, in one segment: optional parts whose values are unknown dropped, then
    the last optional parts until it fits. None when a required value is unknown or nothing fits."""
    known = {name: value for name, value in values.items() if value}
    kept: list[Part] = []
    for part in parts:
        if part.names <= known.keys():
            kept.append(part)
        elif not part.optional:
            return None
    while True:
        text = "".join(_PLACEHOLDER.sub(lambda m: known[m.group(1)], part.text) for part in kept)
        text = re.sub(r" {2,}", " ", text).strip()
        if fits_one_segment(text):
            return text or None
        optional = [index for index, part in enumerate(kept) if part.optional]
        if not optional:
            return None
        del kept[optional[-1]]


def problem(name: str, language: str, template: str) -> str | None:
    """Why the template is refused, or None: unknown placeholders, bad syntax, or a text that does
    not fit one segment with the longest values even after every optional part is dropped."""
    allowed = PLACEHOLDERS[name]
    try:
        parts = parse(template)
    except ValueError as exc:
        return f"{language}.{name}: {exc}"
    unknown = sorted(set(_PLACEHOLDER.findall(template)) - allowed)
    if unknown:
        return f"{language}.{name}: unknown placeholder(s) {unknown}; allowed: {sorted(allowed)}"
    worst = WORST_VALUES.get(language, WORST_VALUES[DEFAULT_LANGUAGE])
    required = frozenset().union(*(part.names for part in parts if not part.optional))
    names = sorted(required)
    for combination in itertools.product(*(worst[n] for n in names)):
        values = dict(zip(names, combination, strict=True))
        if fill(tuple(p for p in parts if not p.optional), values) is None:
            return f"{language}.{name}: does not fit one SMS segment with the longest values"
    return None


def load_templates(raw: str | None, problems: dict[str, str]) -> dict[str, dict[str, str]]:
    """The shipped templates with the operator's overrides (`{"es": {"queued": "..."}}`) merged in."""
    templates = {language: dict(texts) for language, texts in DEFAULTS.items()}
    if raw and raw.strip():
        try:
            overrides = json.loads(raw)
        except ValueError:
            problems[SETTING] = "is not JSON (an object of language -> template name -> text)"
            return templates
        if not isinstance(overrides, dict) or not all(
            isinstance(texts, dict) and all(isinstance(t, str) for t in texts.values())
            for texts in overrides.values()
        ):
            problems[SETTING] = "must be an object of language -> template name -> text"
            return templates
        for language, texts in overrides.items():
            code = str(language).strip().lower()
            for name, text in texts.items():
                if name not in PLACEHOLDERS:
                    problems[SETTING] = f"{code}.{name}: unknown template; known: {sorted(PLACEHOLDERS)}"
                    continue
                templates.setdefault(code, {})[name] = text
    found = [
        reason
        for language, texts in templates.items()
        for name, text in texts.items()
        if (reason := problem(name, language, text))
    ]
    if found:
        problems[SETTING] = "; ".join(found)
    return templates
