"""Replies built before anything is written, so a fault can still decide to drop them instead.

Its own module so the HTTP server, the Dataverse operations and the admin API share one type without
importing each other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from devtools.dataverse_sim.odata import ODataError
from devtools.simkit import server as simkit_server

ODATA_JSON = "application/json; odata.metadata=minimal"


@dataclass
class Reply(simkit_server.Reply):
    """One HTTP response: status, body, extra headers and the content type (None for no body); OData
    JSON unless told otherwise."""

    content_type: str | None = ODATA_JSON


def json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(payload).encode(), dict(headers or {}))


def error_reply(error: ODataError) -> Reply:
    return Reply(error.status, error.body(), dict(error.headers))


def no_content(headers: dict[str, str] | None = None) -> Reply:
    return Reply(204, b"", dict(headers or {}), content_type=None)
