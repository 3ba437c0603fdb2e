"""OData pieces the simulator needs: error bodies, GUID keys, binds and the contact `$filter` grammar."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field

API_PREFIX = "/api/data/v9.2/"

# Dataverse error codes the simulator answers with. Where the real service is not documented or varies,
# the code is the one Dataverse uses for the closest case, so clients can branch on it.
CODE_DUPLICATE = "0x80040237"  # A record with matching key values already exists.
CODE_NOT_FOUND = "0x80040217"  # <entity> With Id = <id> Does Not Exist
CODE_BAD_QUERY = "0x80060888"  # query option, filter or property not supported / invalid
CODE_NO_SEGMENT = "0x8006088a"  # Resource not found for the segment '...'
CODE_PAYLOAD = "0x80048d19"  # Error identified in Payload provided by the user for Entity
CODE_VALIDATION = "0x80044331"  # A validation error occurred (length, range)
CODE_INVALID_ARGUMENT = "0x80040203"  # required value missing or invalid
CODE_THROTTLE_REQUESTS = "0x80072322"  # service protection: number of requests
CODE_THROTTLE_CONCURRENCY = "0x80072326"  # service protection: concurrent requests
CODE_UNEXPECTED = "0x80040216"  # An unexpected error occurred.
CODE_UNAUTHORIZED = "0x80072560"  # simulator's choice: real Dataverse often sends an empty 401 body

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_KEY_SEGMENT = re.compile(r"^(?P<set>[A-Za-z_][A-Za-z0-9_]*)\((?P<key>[^()]*)\)$")
FILTERABLE_CONTACT_FIELDS = ("emailaddress1", "mobilephone", "telephone1")


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


def parse_guid(text: str) -> str | None:
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


def parse_bind(value: object, prop: str, entity_set: str, base_url: str) -> str:
    """The GUID an `@odata.bind` value points at. Relative, slash-less and absolute forms are accepted."""
    if not isinstance(value, str):
        raise ODataError(400, CODE_PAYLOAD, f"'{prop}' must be a string like '/{entity_set}(<guid>)'.")
    text = value
    for prefix in (f"{base_url.rstrip('/')}{API_PREFIX}", "/"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    parts = parse_key_segment(text)
    if parts is None or parts[0] != entity_set:
        raise ODataError(
            400, CODE_BAD_QUERY, f"'{prop}' must reference '/{entity_set}(<guid>)', got '{value}'."
        )
    guid = parse_guid(parts[1])
    if guid is None:
        raise ODataError(400, CODE_BAD_QUERY, f"Unrecognized 'Edm.Guid' literal '{parts[1]}' in '{prop}'.")
    return guid


# ---------------------------------------------------------------- contact $filter


@dataclass(frozen=True)
class Token:
    """One lexical token of a `$filter` expression."""

    kind: str  # "word", "string", "(", ")"
    text: str
    pos: int


def tokenize_filter(text: str) -> list[Token]:
    """Split a filter into words, quoted strings (with `''` unescaped) and parentheses."""
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "()":
            tokens.append(Token(char, char, i))
            i += 1
        elif char == "'":
            start = i
            value, i = _read_string(text, i)
            tokens.append(Token("string", value, start))
        elif char.isalnum() or char == "_":
            start = i
            while i < len(text) and (text[i].isalnum() or text[i] == "_"):
                i += 1
            tokens.append(Token("word", text[start:i], start))
        else:
            raise _filter_error(text, f"Syntax error: character '{char}' at position {i}")
    return tokens


def _read_string(text: str, start: int) -> tuple[str, int]:
    """Read a single-quoted OData string literal starting at `start`; returns (value, next index)."""
    chars: list[str] = []
    i = start + 1
    while i < len(text):
        if text[i] == "'":
            if i + 1 < len(text) and text[i + 1] == "'":
                chars.append("'")
                i += 2
                continue
            return "".join(chars), i + 1
        chars.append(text[i])
        i += 1
    raise _filter_error(text, f"Syntax error: unterminated string literal at position {start}")


def parse_contact_filter(text: str) -> list[tuple[str, str]]:
    """Parse `field eq 'v' [or field eq 'v']...` (parentheses allowed) into (field, value) pairs.

    Only what the bridge sends is supported, the way a narrow fake should be: anything else is a 400,
    so a client that drifts from the contract fails here instead of in production.
    """
    parser = _FilterParser(text, tokenize_filter(text))
    comparisons = parser.expression()
    if parser.peek() is not None:
        token = parser.peek()
        assert token is not None
        raise _filter_error(text, f"Syntax error at position {token.pos}: unexpected '{token.text}'")
    return comparisons


class _FilterParser:
    """Recursive descent over `expr := term ('or' term)*; term := '(' expr ')' | field 'eq' string`."""

    def __init__(self, text: str, tokens: list[Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.index = 0

    def peek(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, what: str) -> Token:
        token = self.peek()
        if token is None:
            raise _filter_error(self.text, f"Syntax error: expected {what} at end of filter")
        self.index += 1
        return token

    def expression(self) -> list[tuple[str, str]]:
        comparisons = self.term()
        while (token := self.peek()) is not None and token.kind == "word":
            if token.text != "or":
                raise _filter_error(self.text, f"Operator '{token.text}' is not supported by the simulator")
            self.index += 1
            comparisons += self.term()
        return comparisons

    def term(self) -> list[tuple[str, str]]:
        token = self.take("a comparison")
        if token.kind == "(":
            inner = self.expression()
            if self.take("')'").kind != ")":
                raise _filter_error(self.text, f"Syntax error: expected ')' near position {token.pos}")
            return inner
        if token.kind != "word":
            raise _filter_error(self.text, f"Syntax error at position {token.pos}: expected a property")
        if token.text not in FILTERABLE_CONTACT_FIELDS:
            raise _filter_error(
                self.text,
                f"Could not find a property named '{token.text}' on type 'Microsoft.Dynamics.CRM.contact' "
                f"(the simulator filters on {', '.join(FILTERABLE_CONTACT_FIELDS)})",
            )
        operator = self.take("'eq'")
        if operator.kind != "word" or operator.text != "eq":
            raise _filter_error(self.text, f"Operator '{operator.text}' is not supported by the simulator")
        value = self.take("a string literal")
        if value.kind != "string":
            raise _filter_error(self.text, f"Syntax error at position {value.pos}: expected a quoted string")
        return [(token.text, value.text)]


def _filter_error(text: str, detail: str) -> ODataError:
    return ODataError(400, CODE_BAD_QUERY, f"Invalid $filter '{text}': {detail}.")
