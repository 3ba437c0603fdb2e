"""What a process builds once and shares: its clients and credentials, in one place.

Each is built on first use from the settings the process has now, and kept under a key that says
what it is for. When the settings are loaded afresh (a test that changes the environment), what was
built from the old ones is dropped and built again on next use, so no module keeps a cache of its
own or a reset hook. `close_all` closes everything at shutdown (and after a test).
"""

from __future__ import annotations

import atexit
import contextlib
import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from shared.platform.settings import Settings, get_settings

T = TypeVar("T")

_lock = threading.RLock()  # a build may ask for another shared thing (a client for its credential)
_built: dict[Hashable, Any] = {}
_settings: Settings | None = None
_MISSING: Any = object()  # not built yet (None may be what was built)
_plain: set[Hashable] = set()  # keys built without the settings (kept when the settings change)


def _current() -> Settings:
    """The settings now; what was built from earlier ones is forgotten (not closed: a thread may
    still be using it, and it closes when collected)."""
    global _settings
    settings = get_settings()
    if _settings is not settings:
        for key in [key for key in _built if key not in _plain]:
            del _built[key]
        _settings = settings
    return settings


def shared(key: Hashable, build: Callable[[Settings], T]) -> T:
    """The process's one `key`, built by `build(settings)` on first use."""
    with _lock:
        settings = _current()
        if key not in _built:
            _built[key] = build(settings)
        found: T = _built[key]
        return found


def shared_plain(key: Hashable, build: Callable[[], T], *, fresh: bool = False) -> T:
    """The process's one `key`, built from nothing the settings say (a credential for an identity:
    tools that bring their own configuration use it too). `fresh` replaces it (a credential whose
    token was refused). Dropped only by `close_all`. Found without the lock (a dict read is atomic):
    telemetry asks on every metric and span."""
    if not fresh:
        known: T = _built.get(key, _MISSING)
        if known is not _MISSING:
            return known
    with _lock:
        if fresh or key not in _built:
            _built[key] = build()
            _plain.add(key)
        found: T = _built[key]
        return found


def close_all() -> None:
    """Close everything built (the process is ending, or a test is done with its settings)."""
    global _settings
    with _lock:
        built, _settings = list(_built.values()), None
        _built.clear()
        _plain.clear()
    for item in built:
        with contextlib.suppress(Exception):  # closing is best effort; nothing is lost by a failure
            item.close()


atexit.register(close_all)
