"""Masking of personal data before anything reaches a log, a response or a dead-letter listing."""

from __future__ import annotations

import re

# Not inside a longer token: a GUID's digit runs are not phone numbers.
_PHONE_IN_TEXT = re.compile(r"(?<![\w.-])\+?\(?\d[\d ().-]{6,}\d(?![\w-])")
_EMAIL_IN_TEXT = re.compile(r"[^\s@<>\"'(),;:]+@[^\s@<>\"'(),;:]+\.[A-Za-z]{2,}")


def mask_phone(phone: str | None) -> str | None:
    """`+14155550123` -> `+1******0123`: country code and last four digits, enough to correlate."""
    if not phone:
        return phone
    digits = re.sub(r"\D", "", phone)
    if len(digits) <= 6:
        return "*" * len(digits)
    lead = "+" + digits[:1] if phone.lstrip().startswith("+") else digits[:1]
    return lead + "*" * (len(digits) - 5) + digits[-4:]


def mask_email(email: str | None) -> str | None:
    """`priya.n@example.com` -> `p***@e***.com`: shape only, never the mailbox or the domain."""
    if not email:
        return email
    local, _, domain = email.partition("@")
    host, _, tld = domain.rpartition(".")
    masked_domain = f"{host[:1]}***.{tld}" if host else f"{domain[:1]}***"
    return f"{local[:1]}***@{masked_domain}"


def scrub_text(text: str) -> str:
    """Mask anything that looks like an email or a phone number inside free text."""
    text = _EMAIL_IN_TEXT.sub(lambda match: mask_email(match.group(0)) or "", text)
    return _PHONE_IN_TEXT.sub(lambda match: mask_phone(match.group(0)) or "", text)


KNOWN_TEXT_MIN = 4
RUN_WORDS = 4  # this many words in a row, as in a known text, are that text echoed
_WORD = re.compile(r"\w[\w'-]*")


def redact_known(text: str, known: list[str]) -> str:
    """Remove the handoff's own customer texts (name, summary, transcript lines) from an upstream's
    error text, then mask emails and phones: a plugin that echoes a summary in its 400 must not put
    it in the status table or a dead-letter listing. Dynamics echoes what it was sent, often cut (a
    subject at 200 units) or split, so any run of RUN_WORDS words found in a known text goes, as do
    the capitalised words of a known text (a name's parts). Adjacent hidden words share one marker."""
    runs: set[tuple[str, ...]] = set()
    names: set[str] = set()
    for value in known:
        found = _WORD.findall(value or "")
        lowered = [word.lower() for word in found]
        runs.update(tuple(lowered[i : i + RUN_WORDS]) for i in range(len(lowered) - RUN_WORDS + 1))
        names.update(word for word in found if len(word) >= KNOWN_TEXT_MIN and word[:1].isupper())
    matches = list(_WORD.finditer(text))
    lowered = [match.group(0).lower() for match in matches]
    hidden = [match.group(0) in names for match in matches]
    for i in range(len(matches) - RUN_WORDS + 1):
        if tuple(lowered[i : i + RUN_WORDS]) in runs:
            hidden[i : i + RUN_WORDS] = [True] * RUN_WORDS
    pieces: list[str] = []
    position = 0
    for i, match in enumerate(matches):
        between = text[position : match.start()]
        if hidden[i] and i and hidden[i - 1] and not between.strip():
            position = match.end()  # the previous marker covers this word too
            continue
        pieces += [between, "[redacted]" if hidden[i] else match.group(0)]
        position = match.end()
    pieces.append(text[position:])
    return scrub_text("".join(pieces))
