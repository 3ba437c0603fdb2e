"""Fetching a file the bridge was told about, safely (docs/messaging.md, "Pictures and files").

The URL must pass the policy (shared/media/policy.py) before anything is sent. The fetch asks for
no compression (no decompression bomb), follows a redirect only to the same scheme, host and port
(three at most), enforces the size cap WHILE streaming (a Content-Length above it is refused before
the body is read; a body that grows past it is cut off), stops at MEDIA_TIMEOUT_SECONDS in all, and
checks the content type against the allow-list. A URL that answers 401/403 is tried once more with
the source's own credential (whether a file URL needs one is not documented on either side): the
credential goes only to the source's own origin or a host MEDIA_ALLOWED_HOSTS names by itself
(`Credential`), never to a wildcard entry or another service's host, never across a redirect to
another origin. A watchdog shuts the connection at the time cap, so a
host that trickles bytes cannot stretch it.

The body is base64-encoded chunk by chunk as it arrives, and kept only when the caller must embed it
(`Keep`): a 5 MB file is held once, as base64, never as bytes and base64 both. Nothing fetched is
logged; the log names the host, the status and the size.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from urllib.parse import urljoin, urlsplit

import urllib3

from shared.media.policy import HOST_NOT_ALLOWED, MediaPolicy, origin_of
from shared.media.refs import Refusal, RefusalReason, too_big, type_refused
from shared.platform.failure import Failure, FailureKind, Upstream
from shared.platform.http import CONNECT_TIMEOUT_SECONDS, AuthUnavailable, connection_pool, transport_failure
from shared.platform.log import get_logger, log_event
from shared.platform.retry_policy import parse_retry_after

CHUNK_BYTES = 64 * 1024
# Tries a message (or an incident's notes) waits for a file's host; after that the file becomes a
# text ("its host did not answer") and the rest goes on: no outside host holds a conversation.
FILE_TRIES = 3
MAX_REDIRECTS = 3
_GENERIC_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})

logger = get_logger("media")


@dataclass(frozen=True)
class Credential:
    """The Authorization header of a file's source (the Messaging API, the OpenCX API). Sent only
    to that source's own scheme, host and port, or to a host MEDIA_ALLOWED_HOSTS names by itself
    (the operator's word that the service's files live there); never to a `*.domain` entry, to
    another service's host, or across a redirect to another origin."""

    origin: tuple[str, str, int] | str  # a str: the source's URL could not be read (never applies)
    headers: Callable[[], Mapping[str, str]]

    @classmethod
    def of(cls, base_url: str, headers: Callable[[], Mapping[str, str]]) -> Credential:
        return cls(origin_of(base_url), headers)

    def applies_to(self, url: str, policy: MediaPolicy) -> bool:
        origin = origin_of(url)
        if isinstance(origin, str) or isinstance(self.origin, str):
            return False
        return origin == self.origin or f"{origin[1]}:{origin[2]}" in policy.named


class _Watch:
    """Shuts the fetch's sockets at its deadline: a host that trickles its headers or body a byte at
    a time cannot hold a worker past MEDIA_TIMEOUT_SECONDS (a read timeout bounds one read only)."""

    def __init__(self, seconds: float) -> None:
        self.sockets: list[socket.socket] = []
        self.fired = False
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, seconds), self._fire)
        self._timer.daemon = True

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self.sockets.append(sock)
            fired = self.fired
        if fired:
            _shut(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            sockets = list(self.sockets)
        for sock in sockets:
            _shut(sock)

    def __enter__(self) -> _Watch:
        _watching.watch = self
        self._timer.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._timer.cancel()
        _watching.watch = None


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


_watching = threading.local()


class _WatchedConnection(urllib3.connection.HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        watch = getattr(_watching, "watch", None)
        if watch is not None:
            watch.add(sock)
        return sock


class _WatchedTlsConnection(_WatchedConnection, urllib3.connection.HTTPSConnection):
    pass


class _HttpPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _WatchedConnection


class _HttpsPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _WatchedTlsConnection


class Keep(Enum):
    NOTHING = "nothing"  # check it (size, type) and let the other side fetch it by URL
    BODY = "body"  # embed it
    WHEN_TOKEN_NEEDED = "when_needed"  # noqa: S105 - not a password; embed it only when the other side could not fetch it


@dataclass(frozen=True)
class Fetched:
    content_type: str
    size: int
    needed_token: bool
    base64: bytearray | None = None  # the body, base64-encoded, when kept


FetchResult = Fetched | Refusal | Failure


def _pool() -> urllib3.PoolManager:
    from shared.platform.process import shared_plain

    def build() -> urllib3.PoolManager:
        pool = connection_pool("https://files.invalid", 16, urllib3.Timeout(connect=CONNECT_TIMEOUT_SECONDS))
        pool.pool_classes_by_scheme = {"http": _HttpPool, "https": _HttpsPool}
        return pool

    return shared_plain("media.pool", build)


def fetch(
    url: str,
    policy: MediaPolicy,
    *,
    keep: Keep,
    credential: Credential | None = None,
    declared_type: str | None = None,
    max_bytes: int | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> FetchResult:
    """The file at `url`, within the policy's caps (`max_bytes` lowers the cap for this file)."""
    cap = policy.max_bytes if max_bytes is None else min(max_bytes, policy.max_bytes)
    refusal = policy.url_refusal(url)
    if refusal is not None:
        reason = RefusalReason.HOST if refusal == HOST_NOT_ALLOWED else RefusalReason.SCHEME
        _log(url, "refused", reason=reason)
        return Refusal(reason, refusal)
    if cap <= 0:
        return too_big(None, cap)
    with _Watch(policy.timeout_seconds) as watch:
        try:
            result = _fetch(
                url, policy, keep, credential, declared_type, cap, clock() + policy.timeout_seconds, clock
            )
        except ValueError:  # a URL or header no check foresaw: never an exception out of a fetch
            result = Refusal(RefusalReason.GONE, "its link is not valid")
    if watch.fired and not isinstance(result, Fetched):  # what a cut connection left is not the answer
        _log(url, "refused", reason=RefusalReason.SLOW)
        return Refusal(RefusalReason.SLOW, f"not received within {policy.timeout_seconds:g} s")
    return result


def _fetch(
    url: str, policy: MediaPolicy, keep: Keep, credential: Credential | None, declared_type: str | None,
    cap: int, deadline: float, clock: Callable[[], float],
) -> FetchResult:  # fmt: skip
    headers: dict[str, str] = {}
    for _ in range(2):  # plain, then with the source's credential after a 401/403 from the source
        result = _follow(url, policy, headers, deadline, clock)
        if isinstance(result, (Refusal, Failure)):
            return result
        response, final_url = result
        if (
            response.status in (401, 403)
            and credential
            and not headers
            and credential.applies_to(final_url, policy)
        ):
            _discard(response)
            try:
                headers = dict(credential.headers())
            except AuthUnavailable as exc:
                return Failure(Upstream.MEDIA, FailureKind.UNREACHABLE, message=f"no token: {exc}")
            continue
        return _read(response, final_url, policy, cap, keep, bool(headers), declared_type, deadline, clock)
    raise AssertionError("unreachable")  # pragma: no cover


def _follow(
    url: str, policy: MediaPolicy, headers: dict[str, str], deadline: float, clock: Callable[[], float]
) -> tuple[urllib3.BaseHTTPResponse, str] | Refusal | Failure:
    """GET the URL, following same-origin redirects only."""
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        remaining = deadline - clock()
        if remaining <= 0:
            return Refusal(RefusalReason.SLOW, f"not received within {policy.timeout_seconds:g} s")
        try:
            response = _pool().urlopen(
                "GET", current, headers={"Accept-Encoding": "identity", **headers}, redirect=False,
                preload_content=False, decode_content=False, retries=False,
                timeout=urllib3.Timeout(connect=min(CONNECT_TIMEOUT_SECONDS, remaining), read=remaining),
            )  # fmt: skip
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            transport, label = transport_failure(exc)
            _log(current, "unreachable", transport=transport)
            return Failure(Upstream.MEDIA, FailureKind.UNREACHABLE, message=label)
        location = response.headers.get("Location")
        if response.status not in _REDIRECTS or not location:
            return response, current
        _discard(response)
        following = urljoin(current, location)
        if not policy.same_origin(current, following) or policy.url_refusal(following) is not None:
            _log(current, "refused", reason=RefusalReason.REDIRECT)
            return Refusal(RefusalReason.REDIRECT, "it moved to a host that is not allowed")
        current = following
    return Refusal(RefusalReason.REDIRECT, "too many redirects")


def _read(
    response: urllib3.BaseHTTPResponse,
    url: str,
    policy: MediaPolicy,
    cap: int,
    keep: Keep,
    needed_token: bool,
    declared_type: str | None,
    deadline: float,
    clock: Callable[[], float],
) -> FetchResult:
    try:
        status = response.status
        if status >= 300:
            _log(url, "status", status=status)
            return _status_failure(status, response.headers.get("Retry-After"))
        encoding = (response.headers.get("Content-Encoding") or "identity").strip().lower()
        if encoding != "identity":  # asked for none: a compressed body is not the file it claims to be
            _log(url, "refused", reason=RefusalReason.TYPE)
            return Refusal(RefusalReason.TYPE, "it came compressed")
        served = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        content_type = (
            (declared_type or "").split(";")[0].strip().lower() if served in _GENERIC_TYPES else served
        )
        if not policy.allows_type(content_type):
            _log(url, "refused", reason=RefusalReason.TYPE)
            return type_refused(content_type)
        announced = _length(response.headers.get("Content-Length"))
        if announced is not None and announced > cap:
            _log(url, "refused", reason=RefusalReason.TOO_BIG, size=announced)
            return too_big(announced, cap)
        embed = keep is Keep.BODY or (keep is Keep.WHEN_TOKEN_NEEDED and needed_token)
        encoded = bytearray() if embed else None
        carry, size = b"", 0
        for chunk in response.stream(CHUNK_BYTES, decode_content=False):
            size += len(chunk)
            if size > cap:
                _log(url, "refused", reason=RefusalReason.TOO_BIG, size=size)
                return too_big(None, cap)
            if clock() > deadline:
                _log(url, "refused", reason=RefusalReason.SLOW, size=size)
                return Refusal(RefusalReason.SLOW, f"not received within {policy.timeout_seconds:g} s")
            if encoded is not None:
                data = carry + chunk
                whole = len(data) - len(data) % 3
                encoded += base64.b64encode(data[:whole])
                carry = data[whole:]
        if encoded is not None and carry:
            encoded += base64.b64encode(carry)
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        transport, label = transport_failure(exc)
        _log(url, "dropped", transport=transport)
        return Failure(Upstream.MEDIA, FailureKind.UNREACHABLE, message=label)
    finally:
        _discard(response)
    _log(url, "fetched", status=status, size=size, embedded=encoded is not None)
    return Fetched(content_type=content_type, size=size, needed_token=needed_token, base64=encoded)


def _discard(response: urllib3.BaseHTTPResponse) -> None:
    """Let go of an answer. A connection whose body was not read to the end is closed, not pooled:
    reading on could mean megabytes from a hostile server, and a half-read one cannot be reused."""
    try:
        response.close()
    finally:
        response.release_conn()


def _status_failure(status: int, retry_after: str | None) -> Refusal | Failure:
    if status == 429 or status == 408 or status >= 500:
        kind = FailureKind.THROTTLED if status == 429 else FailureKind.TRANSIENT
        return Failure(Upstream.MEDIA, kind, status=status, retry_after=parse_retry_after(retry_after))
    if status in (404, 410):
        return Refusal(RefusalReason.GONE, "the link no longer works")
    return Refusal(RefusalReason.GONE, f"the file could not be opened (HTTP {status})")


def _length(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _log(url: str, outcome: str, level: int = logging.INFO, **fields: object) -> None:
    """The host only: a file URL may carry a signature in its query."""
    log_event(logger, "media.fetch", level, host=urlsplit(url).hostname, outcome=outcome, **fields)
