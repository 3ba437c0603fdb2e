"""How many characters one SMS segment holds for a text: 160 GSM-7 septets, or 70 UCS-2 characters
as soon as one character is outside GSM-7 (3GPP TS 23.038: the default alphabet and its extension
table, whose characters take an escape plus the character, so two septets each).

Every message the bridge writes to a customer must fit one segment: a split SMS may arrive out of
order, or cost the customer twice.
"""

from __future__ import annotations

GSM7_SEGMENT = 160
UCS2_SEGMENT = 70

# The GSM 03.38 default alphabet (basic table), as Unicode.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each costs two septets (ESC + character).
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")


def is_gsm7(text: str) -> bool:
    return all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text)


def gsm7_length(text: str) -> int:
    """Septets the text takes in GSM-7 (extension characters count double)."""
    return sum(2 if char in GSM7_EXTENSION else 1 for char in text)


def ucs2_length(text: str) -> int:
    """UTF-16 code units: a character beyond the BMP (an emoji) takes two."""
    return len(text.encode("utf-16-le")) // 2


def segment_cost(text: str) -> tuple[int, int]:
    """(length in the alphabet the text needs, that alphabet's one-segment limit)."""
    if is_gsm7(text):
        return gsm7_length(text), GSM7_SEGMENT
    return ucs2_length(text), UCS2_SEGMENT


def fits_one_segment(text: str) -> bool:
    length, limit = segment_cost(text)
    return length <= limit
