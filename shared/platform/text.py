"""Text hygiene for values that come from outside: repair, refuse what a log or a rep must never see.

A value blank to a human (zero-width characters only) is blank. Control characters, Unicode line
breaks (U+2028, U+2029, U+0085: `str.splitlines()` and many log viewers split on them) and format
characters (bidi overrides and isolates that reorder what a reader sees, zero-width characters)
would let a caller forge or disguise a log line: log values escape them, ids refuse them.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

MAX_NESTING = 32
# Invisible to a reader: zero-width space/joiners, word joiner, BOM, soft hyphen, bidi marks.
_INVISIBLE = re.compile(r"[\u200b-\u200f\u2028-\u202f\u205f-\u206f\ufeff\u00ad\u180e]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Cc control, Cf format (bidi controls U+202A-U+202E and U+2066-U+2069, LRM/RLM/ALM, zero-width,
# BOM, soft hyphen, tags), Zl/Zp the line and paragraph separators, Cs a lone surrogate, and
# unassigned code points (Cn): a newer Unicode's format character looks unassigned to this one.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Cn"})


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


def _is_unsafe(char: str) -> bool:
    return char < " " or (char >= "\x7f" and unicodedata.category(char) in _UNSAFE_CATEGORIES)


def has_unsafe_characters(text: str) -> bool:
    """Control, format, line-separator or unassigned characters, a lone surrogate, or U+FFFD (the
    mark of a repaired one): nothing an opaque id may hold."""
    if text.isascii():
        return bool(_CONTROL.search(text))
    return "\ufffd" in text or any(_is_unsafe(char) for char in text)


def sanitise(value: Any, max_nesting: int = MAX_NESTING) -> Any:
    """Repair every string in a decoded JSON value, refusing nesting deeper than `max_nesting`.

    Iterative, so a hostile body cannot exhaust the stack.
    """
    root: list[Any] = [value]
    stack: list[tuple[Any, int]] = [(root, 0)]
    while stack:
        container, depth = stack.pop()
        if depth > max_nesting:
            raise NestingTooDeep(f"is nested deeper than {max_nesting} levels")
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


def _escaped(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def escape_for_log(text: str) -> str:
    """Control, format and line-separator characters (and lone surrogates) as visible escapes, so
    no value can start a new log line, reorder one, or break its UTF-8 encoding."""
    if text.isascii():
        return _CONTROL.sub(lambda match: _escaped(match.group(0)), text)
    return "".join(_escaped(char) if _is_unsafe(char) else char for char in text)
