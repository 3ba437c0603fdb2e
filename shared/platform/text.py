"""Text hygiene for values that come from outside: repair, refuse what a log or a rep must never see.

A value blank to a human (zero-width characters only) is blank; control characters in an id would
let a caller forge a log line, so ids refuse them.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

MAX_NESTING = 32
# Invisible to a reader: zero-width space/joiners, word joiner, BOM, soft hyphen, bidi marks.
_INVISIBLE = re.compile(r"[\u200b-\u200f\u2028-\u202f\u205f-\u206f\ufeff\u00ad\u180e]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class NestingTooDeep(ValueError):
    """A JSON value nested deeper than MAX_NESTING levels."""


def repair_text(text: str) -> str:
    """Lone UTF-16 surrogates (a JSON `\\ud83d` from an emoji cut in half) cannot be encoded as
    UTF-8 and would crash serialisation later: pair what pairs, replace the rest with U+FFFD."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def is_blank(text: str | None) -> bool:
    """True for None, '' and text made only of whitespace and invisible characters."""
    return not text or not _INVISIBLE.sub("", text).strip()


def has_control_characters(text: str) -> bool:
    return bool(_CONTROL.search(text)) or any(unicodedata.category(char) == "Cc" for char in text)


def sanitise(value: Any) -> Any:
    """Repair every string in a decoded JSON value, refusing nesting deeper than MAX_NESTING.

    Iterative, so a hostile body cannot exhaust the stack.
    """
    root: list[Any] = [value]
    stack: list[tuple[Any, int]] = [(root, 0)]
    while stack:
        container, depth = stack.pop()
        if depth > MAX_NESTING:
            raise NestingTooDeep(f"is nested deeper than {MAX_NESTING} levels")
        keys = range(len(container)) if isinstance(container, list) else list(container)
        for key in keys:
            item = container[key]
            if isinstance(item, str):
                container[key] = repair_text(item)
            elif isinstance(item, dict):
                repaired = {repair_text(k) if isinstance(k, str) else k: v for k, v in item.items()}
                container[key] = repaired
                stack.append((repaired, depth + 1))
            elif isinstance(item, list):
                stack.append((item, depth + 1))
    return root[0]


def escape_for_log(text: str) -> str:
    """Control characters as visible escapes, so no value can start a new log line."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group(0)):02x}", text)
