"""OData basics every other module builds on (it imports nothing from the package): error codes and bodies
`{"error": {"code", "message"}}` ("Compose HTTP requests and handle errors", powerapps-docs
.../webapi/compose-http-requests-handle-errors.md), replies, GUID keys, `@odata.bind` values."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from devtools.simkit import server as simkit_server

API_PREFIX = "/api/data/v9.2/"
ODATA_JSON = "application/json; odata.metadata=minimal"

# Dataverse error codes the simulator answers with. Where the real service is not documented or varies,
# the code is the one Dataverse uses for the closest case, so clients can branch on it.
CODE_DUPLICATE = "0x80040237"  # DuplicateRecord: A record with matching key values already exists.
# Microsoft's own 412 example for an existing key ("Prevent update in upsert", powerapps-docs
# .../webapi/perform-conditional-operations-using-web-api.md) carries an EMPTY code with this message,
# so a client must never require the code: the simulator can answer either way (duplicate_code).
DUPLICATE_MESSAGE = "A record with matching key values already exists."
CODE_NOT_FOUND = "0x80040217"  # <entity> With Id = <id> Does Not Exist
CODE_BAD_QUERY = "0x80060888"  # query option, filter or property not supported / invalid
CODE_NO_SEGMENT = "0x8006088a"  # Resource not found for the segment '...'
CODE_PAYLOAD = "0x80048d19"  # Error identified in Payload provided by the user for Entity
CODE_VALIDATION = "0x80044331"  # A validation error occurred (length, range)
CODE_INVALID_ARGUMENT = "0x80040203"  # required value missing or invalid
CODE_THROTTLE_REQUESTS = "0x80072322"  # service protection: number of requests
CODE_THROTTLE_CONCURRENCY = "0x80072326"  # service protection: concurrent requests
CODE_UNEXPECTED = "0x80040216"  # An unexpected error occurred.
CODE_UNRESOLVED = "0x80060888"  # bound operation called without the Microsoft.Dynamics.CRM namespace
CODE_UNAUTHORIZED = "0x80072560"  # simulator's choice: real Dataverse often sends an empty 401 body

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_KEY_SEGMENT = re.compile(r"^(?P<set>[A-Za-z_][A-Za-z0-9_]*)\((?P<key>[^()]*)\)$")


@dataclass
class ODataError(Exception):
    """An error answered as `{"error": {"code", "message"}}`: raised anywhere in request handling."""

    status: int
    code: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"

    def body(self) -> bytes:
        return error_body(self.code, self.message)


def error_body(code: str, message: str) -> bytes:
    """The OData JSON error shape Dataverse uses."""
    return json.dumps({"error": {"code": code, "message": message}}).encode()


def parse_guid(text: object) -> str | None:
    """A GUID in Dataverse's canonical lower-case form, or None if `text` is not one."""
    if not isinstance(text, str) or not _GUID.match(text):
        return None
    return str(uuid.UUID(text))


def parse_key_segment(segment: str) -> tuple[str, str] | None:
    """Split `entityset(key)` into its parts, or None if the segment has no key."""
    match = _KEY_SEGMENT.match(segment)
    if match is None:
        return None
    return match.group("set"), match.group("key")


def parse_bind_any(value: object, prop: str, entity_sets: tuple[str, ...], base_url: str) -> tuple[str, str]:
    """(entity set, GUID) of a bind that may point at one of several sets, e.g. `ownerid` at
    `/systemusers(...)` or `/teams(...)`."""
    wanted = " or ".join(f"'/{name}(<guid>)'" for name in entity_sets)
    if not isinstance(value, str):
        raise ODataError(400, CODE_PAYLOAD, f"'{prop}' must be a string like {wanted}.")
    text = value
    for prefix in (f"{base_url.rstrip('/')}{API_PREFIX}", "/"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    parts = parse_key_segment(text)
    if parts is None or parts[0] not in entity_sets:
        raise ODataError(400, CODE_BAD_QUERY, f"'{prop}' must reference {wanted}, got '{value}'.")
    guid = parse_guid(parts[1])
    if guid is None:
        raise ODataError(400, CODE_BAD_QUERY, f"Unrecognized 'Edm.Guid' literal '{parts[1]}' in '{prop}'.")
    return parts[0], guid


def not_found(entity: str, guid: str) -> ODataError:
    """404 for a missing row, in the message form of Microsoft's own example ("account With Id = ...
    Does Not Exist", perform-conditional-operations-using-web-api.md). The example's code is empty;
    the simulator sends 0x80040217 (ObjectDoesNotExist) so clients that log codes have one, and a
    client must branch on the status, never on this code."""
    return ODataError(404, CODE_NOT_FOUND, f"{entity} With Id = {guid} Does Not Exist")


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
