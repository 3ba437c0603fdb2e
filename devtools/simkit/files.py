"""A loopback file host a simulator mounts at `/files/`: what its rep sends or its history links to.

`put()` returns `{sim.url}/files/<id>/<quoted name>`; a GET streams the bytes in chunks. Whether a URL
needs the simulator's bearer token is undocumented on both vendors' pages, so files need one by
default (`needs_token`: else 401 with `WWW-Authenticate: Bearer`). Per-file behaviours for a
fetcher's safety tests (set at `put()` or later with `set()`):
- `redirect_to`: 302 to that URL (another host, say) instead of the body;
- `lie_length`: a Content-Length smaller than the body that follows;
- `grow_past`: no Content-Length, a chunked body that keeps going past that many bytes (to twice it);
- `served_type`: a Content-Type other than the file's real one;
- `slow`: seconds slept before each chunk; `gone`: 404.
Every request to a file is counted (`statuses`, `gets`), so a test can prove nothing was fetched.
File requests are not API calls: no fault rule, latency or record applies to them.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import quote, urlsplit

from werkzeug.wrappers import Request

from devtools.simkit.server import Reply

FILES_PREFIX = "/files/"
CHUNK = 64 * 1024


@dataclass
class HostedFile:
    file_id: str
    name: str
    content_type: str
    data: bytes = field(repr=False)
    needs_token: bool = True
    redirect_to: str | None = None
    lie_length: int | None = None
    grow_past: int | None = None
    served_type: str | None = None
    slow: float = 0.0
    gone: bool = False
    statuses: list[int] = field(default_factory=list)  # one per request, in order

    @property
    def gets(self) -> int:
        return len(self.statuses)

    def as_dict(self) -> dict[str, Any]:
        shown = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "data"}
        return {**shown, "size": len(self.data), "gets": self.gets}


BEHAVIOURS = frozenset(
    {"needs_token", "redirect_to", "lie_length", "grow_past", "served_type", "slow", "gone"}
)


class FileHost:
    """Files by id; `authorized(authorization header)` is the owning simulator's token check."""

    def __init__(self, base_url: Callable[[], str], authorized: Callable[[str | None], bool]) -> None:
        self._base_url, self._authorized = base_url, authorized
        self._lock = threading.Lock()
        self._files: dict[str, HostedFile] = {}

    def put(
        self, data: bytes, content_type: str, name: str, *, host: str | None = None, **behaviour: Any
    ) -> str:
        """Host `data`; its URL (naming `host`, e.g. "localhost", instead of 127.0.0.1, so a test can tell
        hosts apart on one machine)."""
        hosted = HostedFile(secrets.token_hex(8), name, content_type, bytes(data))
        self._apply(hosted, behaviour)
        with self._lock:
            self._files[hosted.file_id] = hosted
        base = self._base_url().replace("127.0.0.1", host or "127.0.0.1", 1)
        return f"{base}{FILES_PREFIX}{hosted.file_id}/{quote(name, safe='')}"

    def file(self, url_or_id: str) -> HostedFile:
        """The hosted file behind a URL (or id); KeyError when this host never served it."""
        path = urlsplit(url_or_id).path
        file_id = path[len(FILES_PREFIX) :].split("/")[0] if path.startswith(FILES_PREFIX) else url_or_id
        with self._lock:
            return self._files[file_id]

    def set(self, url_or_id: str, **behaviour: Any) -> None:
        self._apply(self.file(url_or_id), behaviour)

    def gets(self, url_or_id: str | None = None) -> int:
        with self._lock:
            every = list(self._files.values())
        return self.file(url_or_id).gets if url_or_id is not None else sum(f.gets for f in every)

    def listing(self) -> list[dict[str, Any]]:
        with self._lock:
            return [hosted.as_dict() for hosted in self._files.values()]

    def clear(self) -> None:
        with self._lock:
            self._files.clear()

    @staticmethod
    def _apply(hosted: HostedFile, behaviour: dict[str, Any]) -> None:
        if unknown := sorted(set(behaviour) - BEHAVIOURS):
            raise ValueError(f"unknown file behaviours: {', '.join(unknown)}; known: {sorted(BEHAVIOURS)}")
        for name, value in behaviour.items():
            setattr(hosted, name, value)

    def answer(self, request: Request) -> Reply:
        with self._lock:
            hosted = self._files.get(request.path[len(FILES_PREFIX) :].split("/")[0])
        if hosted is None:
            return _plain(404, "No such file.")
        reply = self._reply(hosted, request)
        with self._lock:
            hosted.statuses.append(reply.status)
        return reply

    def _reply(self, hosted: HostedFile, request: Request) -> Reply:
        if request.method not in ("GET", "HEAD"):
            return _plain(405, "Files answer GET and HEAD only.", {"Allow": "GET, HEAD"})
        if hosted.gone:
            return _plain(404, "The file is gone.")
        if hosted.needs_token and not self._authorized(request.headers.get("Authorization")):
            return _plain(401, "A bearer token is required.", {"WWW-Authenticate": "Bearer"})
        if hosted.redirect_to:
            return _plain(302, "Moved.", {"Location": hosted.redirect_to})
        headers = {"Content-Type": hosted.served_type or hosted.content_type}
        if hosted.grow_past is None:
            length = len(hosted.data) if hosted.lie_length is None else hosted.lie_length
            headers["Content-Length"] = str(length)
        return Reply(200, headers=headers, content_type=None, stream=_chunks(hosted))


def _chunks(hosted: HostedFile) -> Iterator[bytes]:
    """The body in CHUNK pieces (slicing copies one chunk at a time, never the whole file); with
    `grow_past` zeros follow the data until twice that many bytes went out."""
    data = hosted.data
    total = len(data) if hosted.grow_past is None else max(len(data), 2 * hosted.grow_past + 1)
    for offset in range(0, total, CHUNK):
        if hosted.slow:
            time.sleep(hosted.slow)
        end = min(offset + CHUNK, total)
        yield data[offset:end] if end <= len(data) else data[offset:] + bytes(end - max(offset, len(data)))


def _plain(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, f'{{"error": "{message}"}}'.encode(), dict(headers or {}))
