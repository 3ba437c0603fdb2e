"""OData query options the store answers: `$filter` (a narrow grammar), `$select`, `$top`.

Grammar ("Filter results", powerapps-docs .../webapi/query-data-web-api.md; `and` binds tighter than
`or`, parentheses group):

    expr    := conj ('or' conj)*
    conj    := primary ('and' primary)*
    primary := '(' expr ')' | property 'eq' literal
    literal := 'string' (with '' for ') | integer | guid (unquoted, for a lookup's `_x_value`)

Only what the bridge sends is supported, the way a narrow fake should be: any other operator, function or
property is a 400 0x80060888, so a client that drifts from the contract fails here, not in production.
String comparison is case-insensitive, as Dataverse's default collation is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from devtools.dataverse_sim.odata import CODE_BAD_QUERY, ODataError
from devtools.dataverse_sim.schema import Table

EDM_STRING, EDM_INT, EDM_GUID = "Edm.String", "Edm.Int32", "Edm.Guid"


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


def parse_filter(text: str, table: Table) -> Node:
    """Parse `text` against the table's filterable columns (name -> Edm type), by recursive descent
    over the grammar in the module docstring. Tokens are (kind, text, position), kind being "(", ")",
    "string" (with `''` unescaped), "int" or "word"."""
    fields, entity = table.filters, table.logical
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

    def expression() -> Node:
        parts = [conjunction()]
        while next_operator("or"):
            parts.append(conjunction())
        return parts[0] if len(parts) == 1 else Junction(any, tuple(parts))

    def conjunction() -> Node:
        parts = [primary()]
        while next_operator("and"):
            parts.append(primary())
        return parts[0] if len(parts) == 1 else Junction(all, tuple(parts))

    def primary() -> Node:
        kind, name, pos = take("a comparison")
        if kind == "(":
            inner = expression()
            if take("')'")[0] != ")":
                raise _filter_error(text, f"Syntax error: expected ')' near position {pos}")
            return inner
        if kind != "word":
            raise _filter_error(text, f"Syntax error at position {pos}: expected a property")
        edm_type = fields.get(name)
        if edm_type is None:
            raise _filter_error(
                text,
                f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{entity}' "
                f"(the simulator filters on {', '.join(fields)})",
            )
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

    node = expression()
    if position < len(tokens):
        _, unexpected, pos = tokens[position]
        raise _filter_error(text, f"Syntax error at position {pos}: unexpected '{unexpected}'")
    return node


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


def subject_prefix(filter_text: str) -> str:
    """The one `$filter` a work-item listing supports: `startswith(subject,'<prefix>')`."""
    text = filter_text.strip()
    head = "startswith(subject,"
    if not (text.lower().startswith(head) and text.endswith(")")):
        raise ODataError(
            400, CODE_BAD_QUERY, "Only startswith(subject,'<text>') is supported on msdyn_ocliveworkitems."
        )
    literal = text[len(head) : -1].strip()
    if len(literal) < 2 or not (literal.startswith("'") and literal.endswith("'")):
        raise ODataError(400, CODE_BAD_QUERY, "startswith needs a quoted string literal.")
    return literal[1:-1].replace("''", "'")
