"""A JSON request body, encoded once: as requests encodes `json=`, except that `Embedded` values (a
file's base64, megabytes of it) are spliced in as they are and the body is sent as a stream of its
parts, so a relayed file is held once, in the fetch's buffer (docs/benchmarks.md, "Files")."""

from __future__ import annotations

import io
import json
import secrets
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Embedded:
    """A large ASCII value (a file's base64) placed into a JSON body as a string without passing
    through json.dumps: the body then holds the file once more, not twice (docs/benchmarks.md)."""

    data: bytes | bytearray
    prefix: str = ""  # "data:image/png;base64," for a data URL

    def __post_init__(self) -> None:
        if not self.data.isascii() or b'"' in self.data or b"\\" in self.data:
            raise ValueError("embedded data must be base64 text")


class Spliced:
    """A JSON body with `Embedded` values, sent as a stream of its parts (never joined into one
    bytes object): a 5 MB file's base64 is held once, in the fetch's buffer, not copied again."""

    def __init__(self, parts: list[bytes | bytearray]) -> None:
        self.parts = parts
        self.length = sum(len(part) for part in parts)

    def reader(self) -> io.BufferedReader:
        return io.BufferedReader(_PartsReader(self.parts), buffer_size=64 * 1024)


class _PartsReader(io.RawIOBase):
    def __init__(self, parts: list[bytes | bytearray]) -> None:
        self._views = [memoryview(part) for part in parts if part]
        self._index, self._offset = 0, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self._index < len(self._views):
            view = self._views[self._index]
            if self._offset < len(view):
                count = min(len(buffer), len(view) - self._offset)
                buffer[:count] = view[self._offset : self._offset + count]
                self._offset += count
                return count
            self._index, self._offset = self._index + 1, 0
        return 0


def encode_json(payload: Any) -> bytes | Spliced:
    """As requests encodes `json=`: no NaN, UTF-8; `Embedded` values spliced in as they are."""
    embedded: list[Embedded] = []
    mark = "embedded" + secrets.token_hex(12)  # never in a base64 value, never guessed by a sender

    def marker(value: object) -> str:
        if not isinstance(value, Embedded):
            raise TypeError(f"{type(value).__name__} is not JSON serialisable")
        embedded.append(value)
        return f"{mark}{len(embedded) - 1}{mark}"

    text = json.dumps(payload, allow_nan=False, default=marker).encode("utf-8")
    if not embedded:
        return text
    parts = text.split(mark.encode())
    out: list[bytes | bytearray] = [parts[0]]
    for index in range(1, len(parts) - 1, 2):
        value = embedded[int(parts[index])]
        out += [value.prefix.encode(), value.data, parts[index + 1]]
    return Spliced(out)
