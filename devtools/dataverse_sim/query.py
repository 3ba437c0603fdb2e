"""OData query options the store answers: `$filter` (a narrow grammar), `$select`, `$top`.

Grammar ("Filter results", powerapps-docs .../webapi/query-data-web-api.md; `and` binds tighter than
`or`, parentheses group):

    expr    := conj ('or' conj)*
    conj    := primary ('and' primary)*
    primary := '(' expr ')' | property 'eq' literal
    literal := 'string' (with '' for ') | integer

Only what the bridge sends is supported, the way a narrow fake should be: any other operator, function or
property is a 400 0x80060888, so a client that drifts from the contract fails here, not in production.
String comparison is case-insensitive, as Dataverse's default collation is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from devtools.dataverse_sim.odata import CODE_BAD_QUERY, ODataError

EDM_STRING, EDM_INT = "Edm.String", "Edm.Int32"
# contact columns a `$filter` may compare: the lookup's three plus statecode (0 Active, 1 Inactive).
CONTACT_FILTER_FIELDS: dict[str, str] = {
    "emailaddress1": EDM_STRING,
    "mobilephone": EDM_STRING,
    "telephone1": EDM_STRING,
    "statecode": EDM_INT,
}


@dataclass(frozen=True)
class Token:
    """One lexical token of a `$filter` expression."""

    kind: str  # "word", "string", "int", "(", ")"
    text: str
    pos: int


@dataclass(frozen=True)
class Eq:
    """`field eq value`."""

    field: str
    value: str | int

    def matches(self, row: dict[str, Any]) -> bool:
        stored = row.get(self.field)
        if isinstance(self.value, int):
            return isinstance(stored, int) and stored == self.value
        return isinstance(stored, str) and stored.casefold() == self.value.casefold()


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Node, ...]

    def matches(self, row: dict[str, Any]) -> bool:
        return all(part.matches(row) for part in self.parts)


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Node, ...]

    def matches(self, row: dict[str, Any]) -> bool:
        return any(part.matches(row) for part in self.parts)


Node = Eq | AllOf | AnyOf


def comparisons(node: Node) -> list[tuple[str, str | int]]:
    """Every `field eq value` in the expression, left to right (for tests and diagnostics)."""
    if isinstance(node, Eq):
        return [(node.field, node.value)]
    return [pair for part in node.parts for pair in comparisons(part)]


def tokenize_filter(text: str) -> list[Token]:
    """Split a filter into words, integers, quoted strings (with `''` unescaped) and parentheses."""
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
        elif char.isalnum() or char == "_" or (char == "-" and text[i + 1 : i + 2].isdigit()):
            start = i
            i += 1
            while i < len(text) and (text[i].isalnum() or text[i] == "_"):
                i += 1
            word = text[start:i]
            kind = "int" if word.lstrip("-").isdigit() else "word"
            tokens.append(Token(kind, word, start))
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


def parse_filter(text: str, fields: dict[str, str], entity: str) -> Node:
    """Parse `text` against the filterable `fields` (name -> Edm type) of `entity`."""
    parser = _FilterParser(text, tokenize_filter(text), fields, entity)
    node = parser.expression()
    token = parser.peek()
    if token is not None:
        raise _filter_error(text, f"Syntax error at position {token.pos}: unexpected '{token.text}'")
    return node


def parse_contact_filter(text: str) -> Node:
    return parse_filter(text, CONTACT_FILTER_FIELDS, "contact")


class _FilterParser:
    """Recursive descent over the grammar in the module docstring."""

    def __init__(self, text: str, tokens: list[Token], fields: dict[str, str], entity: str) -> None:
        self.text = text
        self.tokens = tokens
        self.fields = fields
        self.entity = entity
        self.index = 0

    def peek(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, what: str) -> Token:
        token = self.peek()
        if token is None:
            raise _filter_error(self.text, f"Syntax error: expected {what} at end of filter")
        self.index += 1
        return token

    def expression(self) -> Node:
        parts = [self.conjunction()]
        while self._next_operator("or"):
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else AnyOf(tuple(parts))

    def conjunction(self) -> Node:
        parts = [self.primary()]
        while self._next_operator("and"):
            parts.append(self.primary())
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def _next_operator(self, wanted: str) -> bool:
        token = self.peek()
        if token is None or token.kind != "word":
            return False
        if token.text not in ("and", "or"):
            raise _filter_error(self.text, f"Operator '{token.text}' is not supported by the simulator")
        if token.text != wanted:
            return False
        self.index += 1
        return True

    def primary(self) -> Node:
        token = self.take("a comparison")
        if token.kind == "(":
            inner = self.expression()
            if self.take("')'").kind != ")":
                raise _filter_error(self.text, f"Syntax error: expected ')' near position {token.pos}")
            return inner
        if token.kind != "word":
            raise _filter_error(self.text, f"Syntax error at position {token.pos}: expected a property")
        edm_type = self.fields.get(token.text)
        if edm_type is None:
            raise _filter_error(
                self.text,
                f"Could not find a property named '{token.text}' on type 'Microsoft.Dynamics.CRM.{self.entity}' "
                f"(the simulator filters on {', '.join(self.fields)})",
            )
        operator = self.take("'eq'")
        if operator.kind != "word" or operator.text != "eq":
            raise _filter_error(self.text, f"Operator '{operator.text}' is not supported by the simulator")
        value = self.take("a literal")
        if value.kind not in ("string", "int"):
            raise _filter_error(self.text, f"Syntax error at position {value.pos}: expected a literal")
        literal_type = EDM_STRING if value.kind == "string" else EDM_INT
        if literal_type != edm_type:
            # The OData library's own wording for a type mismatch.
            raise _filter_error(
                self.text,
                "A binary operator with incompatible types was detected. Found operand types "
                f"'{edm_type}' and '{literal_type}' for operator kind 'Equal'",
            )
        return Eq(token.text, int(value.text) if value.kind == "int" else value.text)


def _filter_error(text: str, detail: str) -> ODataError:
    return ODataError(400, CODE_BAD_QUERY, f"Invalid $filter '{text}': {detail}.")


def parse_top(query: dict[str, str]) -> int | None:
    if "$top" not in query:
        return None
    text = query["$top"]
    if not text.isdigit():
        raise ODataError(400, CODE_BAD_QUERY, f"Invalid value '{text}' for $top query option.")
    return int(text)


def parse_select(query: dict[str, str], allowed: tuple[str, ...], entity: str) -> list[str]:
    """The `$select` columns, each checked against `allowed`; all of `allowed` when absent."""
    text = query.get("$select")
    if text is None:
        return list(allowed)
    columns = [column.strip() for column in text.split(",") if column.strip()]
    for column in columns:
        if column not in allowed:
            raise ODataError(
                400,
                CODE_BAD_QUERY,
                f"Could not find a property named '{column}' on type 'Microsoft.Dynamics.CRM.{entity}'.",
            )
    return columns


def check_query_options(query: dict[str, str], allowed: set[str]) -> None:
    """Refuse `$` options the operation does not support; parameter aliases (`@p1`) are left alone."""
    for key in query:
        if key.startswith("$") and key not in allowed:
            raise ODataError(400, CODE_BAD_QUERY, f"The query parameter '{key}' is not supported here.")
