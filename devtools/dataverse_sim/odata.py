"""OData basics every other module builds on: error codes and bodies `{"error": {"code", "message"}}`
("Compose HTTP requests and handle errors", powerapps-docs .../webapi/compose-http-requests-handle-errors.md),
replies, GUID keys, `@odata.bind` values, and the query options the store answers: `$select`, `$top` and
`$filter` in a narrow grammar ("Filter results", powerapps-docs .../webapi/query-data-web-api.md; `and`
binds tighter than `or`, parentheses group):

    expr    := conj ('or' conj)*
    conj    := primary ('and' primary)*
    primary := '(' expr ')' | property 'eq' literal
    literal := 'string' (with '' for ') | integer | guid (unquoted, for a lookup's `_x_value`)

Only what the bridge sends is supported, the way a narrow fake should be: any other operator, function or
property is a 400 0x80060888, so a client that drifts from the contract fails here, not in production.
String comparison is case-insensitive, as Dataverse's default collation is."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable
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
CODE_ARGUMENT = "0x80040203"  # required value missing or invalid
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


def bad(message: str, code: str = CODE_BAD_QUERY, status: int = 400) -> ODataError:
    """An error (a 400, coded 0x80060888 "unsupported or invalid", unless told otherwise)."""
    return ODataError(status, code, message)


def error_body(code: str, message: str) -> bytes:
    """The OData JSON error shape Dataverse uses."""
    return json.dumps({"error": {"code": code, "message": message}}).encode()


def parse_guid(text: object) -> str | None:
    """A GUID in Dataverse's canonical lower-case form, or None if `text` is not one."""
    return str(uuid.UUID(text)) if isinstance(text, str) and _GUID.match(text) else None


def parse_key_segment(segment: str) -> tuple[str, str] | None:
    """Split `entityset(key)` into its parts, or None if the segment has no key."""
    match = _KEY_SEGMENT.match(segment)
    return None if match is None else (match["set"], match["key"])


def parse_bind_any(value: object, prop: str, entity_sets: tuple[str, ...], base_url: str) -> tuple[str, str]:
    """(entity set, GUID) of a bind that may point at several sets (`ownerid`: /systemusers or /teams)."""
    wanted = " or ".join(f"'/{name}(<guid>)'" for name in entity_sets)
    if not isinstance(value, str):
        raise bad(f"'{prop}' must be a string like {wanted}.", CODE_PAYLOAD)
    absolute = f"{base_url.rstrip('/')}{API_PREFIX}"
    parts = parse_key_segment(
        value[len(absolute) :] if value.startswith(absolute) else value.removeprefix("/")
    )
    if parts is None or parts[0] not in entity_sets:
        raise bad(f"'{prop}' must reference {wanted}, got '{value}'.")
    if (guid := parse_guid(parts[1])) is None:
        raise bad(f"Unrecognized 'Edm.Guid' literal '{parts[1]}' in '{prop}'.")
    return parts[0], guid


def not_found(entity: str, guid: str) -> ODataError:
    """404 in the message form of Microsoft's own example ("account With Id = ... Does Not Exist",
    perform-conditional-operations-using-web-api.md). Its code is empty; the simulator sends 0x80040217
    (ObjectDoesNotExist) so clients that log codes have one; a client must branch on the status."""
    return ODataError(404, CODE_NOT_FOUND, f"{entity} With Id = {guid} Does Not Exist")


@dataclass
class Reply(simkit_server.Reply):
    """simkit's reply (status, body, extra headers), OData JSON unless told otherwise (None: no body)."""

    content_type: str | None = ODATA_JSON


def json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(payload).encode(), dict(headers or {}))


def error_reply(error: ODataError) -> Reply:
    return Reply(error.status, error_body(error.code, error.message), dict(error.headers))


def no_content(headers: dict[str, str] | None = None) -> Reply:
    return Reply(204, b"", dict(headers or {}), content_type=None)


EDM_STRING, EDM_INT, EDM_GUID = "Edm.String", "Edm.Int32", "Edm.Guid"


@dataclass(frozen=True)
class Eq:  # `field eq value`
    field: str
    value: str | int

    def matches(self, row: dict[str, Any]) -> bool:
        stored = row.get(self.field)
        if isinstance(self.value, int):
            return isinstance(stored, int) and stored == self.value
        return isinstance(stored, str) and stored.casefold() == self.value.casefold()


@dataclass(frozen=True)
class Junction:
    """`a and b and ...` (`every` is all) or `a or b or ...` (`every` is any)."""

    every: Callable[[Iterable[bool]], bool]
    parts: tuple[Node, ...]

    def matches(self, row: dict[str, Any]) -> bool:
        return self.every(part.matches(row) for part in self.parts)


Node = Eq | Junction


def comparisons(node: Node) -> list[tuple[str, str | int]]:
    """Every `field eq value` in the expression, left to right (for tests and diagnostics)."""
    if isinstance(node, Eq):
        return [(node.field, node.value)]
    return [pair for part in node.parts for pair in comparisons(part)]


# One token per match; whitespace between tokens is skipped, `bad` catches any other character.
_TOKEN = re.compile(
    r"(?P<paren>[()])|'(?P<string>(?:[^']|'')*+)'|(?P<guid>[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12})\b"
    r"|(?P<word>(?:-(?=\d))?\w+)|(?P<bad>\S)"
)


def parse_filter(text: str, fields: dict[str, str], entity: str) -> Node:
    """Parse `text` against an entity's filterable columns (name -> Edm type), by recursive descent over
    the grammar in the module docstring. Tokens are (kind, text, position), kind being "(", ")",
    "string" (with `''` unescaped), "int" or "word"."""
    tokens: list[tuple[str, str, int]] = []
    for match in _TOKEN.finditer(text):
        kind, value, pos = match.lastgroup or "", match[match.lastgroup or 0], match.start()
        if kind == "bad":
            problem = "unterminated string literal" if value == "'" else f"character '{value}'"
            raise _filter_error(text, f"Syntax error: {problem} at position {pos}")
        if kind == "string":
            value = value.replace("''", "'")
        elif kind == "word" and value.lstrip("-").isdigit():
            kind = "int"
        tokens.append((value if kind == "paren" else kind, value, pos))
    position = 0

    def take(what: str) -> tuple[str, str, int]:
        nonlocal position
        if position == len(tokens):
            raise _filter_error(text, f"Syntax error: expected {what} at end of filter")
        position += 1
        return tokens[position - 1]

    def next_operator(wanted: str) -> bool:
        nonlocal position
        if position == len(tokens) or tokens[position][0] != "word":
            return False
        word = tokens[position][1]
        if word not in ("and", "or"):
            raise _filter_error(text, f"Operator '{word}' is not supported by the simulator")
        position += word == wanted
        return word == wanted

    def junction(word: str) -> Node:  # expr ("or") or conj ("and")
        part: Callable[[], Node] = primary if word == "and" else lambda: junction("and")
        parts = [part()]
        while next_operator(word):
            parts.append(part())
        return parts[0] if len(parts) == 1 else Junction(all if word == "and" else any, tuple(parts))

    def primary() -> Node:
        kind, name, pos = take("a comparison")
        if kind == "(":
            inner = junction("or")
            if take("')'")[0] != ")":
                raise _filter_error(text, f"Syntax error: expected ')' near position {pos}")
            return inner
        if kind != "word":
            raise _filter_error(text, f"Syntax error at position {pos}: expected a property")
        if (edm_type := fields.get(name)) is None:
            where = f"{_no_property(name, entity)} (the simulator filters on {', '.join(fields)})"
            raise _filter_error(text, where)
        operator = take("'eq'")
        if operator[:2] != ("word", "eq"):
            raise _filter_error(text, f"Operator '{operator[1]}' is not supported by the simulator")
        kind, literal, pos = take("a literal")
        if kind not in ("string", "int", "guid"):
            raise _filter_error(text, f"Syntax error at position {pos}: expected a literal")
        literal_type = {"string": EDM_STRING, "int": EDM_INT, "guid": EDM_GUID}[kind]
        if literal_type != edm_type:
            # The OData library's own wording for a type mismatch.
            raise _filter_error(
                text,
                "A binary operator with incompatible types was detected. Found operand types "
                f"'{edm_type}' and '{literal_type}' for operator kind 'Equal'",
            )
        return Eq(name, int(literal) if kind == "int" else literal)

    node = junction("or")
    if position < len(tokens):
        _, unexpected, pos = tokens[position]
        raise _filter_error(text, f"Syntax error at position {pos}: unexpected '{unexpected}'")
    return node


def _filter_error(text: str, detail: str) -> ODataError:
    return bad(f"Invalid $filter '{text}': {detail}.")


def parse_top(query: dict[str, str]) -> int | None:
    if "$top" not in query:
        return None
    text = query["$top"]
    if not text.isdigit():
        raise bad(f"Invalid value '{text}' for $top query option.")
    return int(text)


def parse_select(query: dict[str, str], allowed: tuple[str, ...], entity: str) -> list[str]:
    """The `$select` columns, each checked against `allowed`; all of `allowed` when absent."""
    text = query.get("$select")
    if text is None:
        return list(allowed)
    columns = [column.strip() for column in text.split(",") if column.strip()]
    if unknown := [column for column in columns if column not in allowed]:
        raise bad(f"{_no_property(unknown[0], entity)}.")
    return columns


def _no_property(name: str, entity: str) -> str:
    return f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{entity}'"


def check_query_options(query: dict[str, str], allowed: set[str]) -> None:
    """Refuse `$` options the operation does not support; parameter aliases (`@p1`) are left alone."""
    for key in query:
        if key.startswith("$") and key not in allowed:
            raise bad(f"The query parameter '{key}' is not supported here.")


def subject_prefix(filter_text: str) -> str:
    """The one `$filter` a work-item listing supports: `startswith(subject,'<prefix>')`."""
    text = filter_text.strip()
    head = "startswith(subject,"
    if not (text.lower().startswith(head) and text.endswith(")")):
        raise bad("Only startswith(subject,'<text>') is supported on msdyn_ocliveworkitems.")
    literal = text[len(head) : -1].strip()
    if len(literal) < 2 or not (literal.startswith("'") and literal.endswith("'")):
        raise bad("startswith needs a quoted string literal.")
    return literal[1:-1].replace("''", "'")
