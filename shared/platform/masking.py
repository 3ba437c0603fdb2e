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


def redact_known(text: str, known: list[str]) -> str:
    """Remove the handoff's own customer texts (name, summary, transcript lines) from an upstream's
    error text, then mask emails and phones: a plugin that echoes a summary in its 400 must not
    put it in the status table or a dead-letter listing."""
    for value in sorted(
        {k.strip() for k in known if k and len(k.strip()) >= KNOWN_TEXT_MIN}, key=len, reverse=True
    ):
        text = text.replace(value, "[redacted]")
        for word in value.split():
            if (
                len(word) >= KNOWN_TEXT_MIN and word[:1].isupper()
            ):  # a name's parts, as a plugin might echo them
                text = text.replace(word, "[redacted]")
    return scrub_text(text)
