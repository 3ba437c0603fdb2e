"""Create-body validation from the column rules in schema.py, the way Dataverse checks a body before it
touches any row ("Create a table row using the Web API", powerapps-docs .../webapi/create-entity-web-api.md:
lookups are set with `<navigation property>@odata.bind`, a related collection is deep-inserted).

`check` returns a `New` row the store then checks against its state (binds exist, key free) and commits
atomically. The first problem is raised as a 400 OData error, coded by what is wrong: an unknown property
0x80060888, a value of the wrong type 0x80048d19, a missing value 0x80040203, one out of range 0x80044331.
"""

from __future__ import annotations

import binascii
import copy
import json
import re
from dataclasses import dataclass
from typing import Any

from devtools.dataverse_sim import schema
from devtools.dataverse_sim.odata import (
    CODE_INVALID_ARGUMENT,
    CODE_PAYLOAD,
    CODE_VALIDATION,
    bad,
    parse_bind_any,
    parse_guid,
)

_LOGICAL_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
BIND = "@odata.bind"


@dataclass(frozen=True)
class New:
    key: str
    columns: dict[str, Any]  # the accepted columns (and a custom lookup's bind text, kept as given)
    binds: dict[str, tuple[str, str]]  # row key -> (entity set, id)
    children: list[dict[str, Any]]  # the deep-inserted context items


def parse_json_body(body: bytes, entity: str) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise bad(
            f"Error identified in Payload provided by the user for Entity '{entity}': {error}", CODE_PAYLOAD
        ) from None


def dataverse_length(text: str) -> int:
    """Length as Dataverse counts it: UTF-16 code units (.NET string.Length), so an emoji counts twice."""
    return len(text.encode("utf-16-le")) // 2


def decoded_size(text: str) -> int:
    """The byte count of a base64 `documentbody`; invalid base64 is a 400 (the column holds a file)."""
    try:
        return len(binascii.a2b_base64(text.encode("ascii"), strict_mode=True))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise bad("documentbody is not valid base64.", CODE_PAYLOAD) from None


def check(table: schema.Table, body: object, base_url: str, custom: frozenset[str] = frozenset()) -> New:
    """Check a `POST <set>` (or upsert) body against the table's rules; `custom` names the environment's
    custom columns (scalar names or `<nav>@odata.bind`), accepted as given."""
    where = table.logical
    data = _object(body, where)
    columns: dict[str, Any] = {}
    binds: dict[str, tuple[str, str]] = {}
    for prop, value in data.items():
        if (
            prop.startswith("@odata.")
            or prop == table.key
            or (table is schema.WORK_ITEM and prop == schema.CONTEXT_ITEMS)
        ):
            continue
        if prop in custom:
            if isinstance(value, dict | list):
                raise bad(f"'{prop}' must be a single value on '{where}'.", CODE_PAYLOAD)
            columns[prop] = value
        elif prop.endswith(BIND) and prop.removesuffix(BIND) in table.binds:
            bind = table.binds[prop.removesuffix(BIND)]
            binds[bind.row_key] = parse_bind_any(value, prop, bind.sets, base_url)
        elif prop in table.columns and _LOGICAL_NAME.match(prop):
            columns[prop] = check_value(table, prop, value)
        else:
            raise bad(f"Invalid property '{prop}' was found in entity 'Microsoft.Dynamics.CRM.{where}'.")
    for prop, column in table.columns.items():
        if column.required and data.get(prop) is None:
            raise bad(f"{prop} is required on '{where}'.", CODE_INVALID_ARGUMENT)
    for name, bind in table.binds.items():
        if bind.required and data.get(f"{name}{BIND}") is None:
            raise bad(bind.required, CODE_INVALID_ARGUMENT)
    key = _require_guid(data, table.key) if table.key else ""
    children: list[dict[str, Any]] = []
    if table is schema.WORK_ITEM:
        live = data.get("msdyn_ocliveworkitemid")
        if live is not None and parse_guid(live) != key:
            raise bad("msdyn_ocliveworkitemid must be the activityid as a string.", CODE_INVALID_ARGUMENT)
        children = _context_items(data.get(schema.CONTEXT_ITEMS), base_url)
    return New(key, columns, binds, children)


def check_value(table: schema.Table, prop: str, value: Any) -> Any:
    """One column's value by its rule (None clears a column and is always accepted here)."""
    rule, where = table.columns[prop], table.logical
    if value is None or (rule.kind == "any" and not isinstance(value, dict | list)):
        return value
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if rule.kind in ("text", "base64") and isinstance(value, str):
        if rule.required and not value.strip():
            raise bad(f"{prop} must not be empty on '{where}'.", CODE_INVALID_ARGUMENT)
        if rule.kind == "base64":
            decoded_size(value)
        elif (length := dataverse_length(value)) > rule.limit:
            raise bad(
                f"A validation error occurred. The length of the '{prop}' attribute of the '{where}' entity "
                f"exceeded the maximum allowed length of '{rule.limit}' (got {length}).",
                CODE_VALIDATION,
            )
        return value
    if rule.kind == "bool" and isinstance(value, bool):
        return value
    if rule.kind == "status":  # a create's statuscode must belong to the first (active) state
        if is_int and table.status_state.get(value) == 0:
            return value
        raise bad(f"statuscode {value!r} is not a status of the active state of '{where}'.", CODE_VALIDATION)
    if rule.kind == "option" and (is_int or not isinstance(next(iter(rule.choices)), int)):
        if value in rule.choices and type(value) is type(next(iter(rule.choices))):
            return value
        choices = sorted(map(str, rule.choices))
        raise bad(
            f"A validation error occurred. The value {value!r} of '{prop}' is outside the valid "
            f"range: one of {choices}.",
            CODE_VALIDATION,
        )
    raise bad(f"Cannot convert {value!r} to the type of '{prop}' on '{where}'.", CODE_PAYLOAD)


def _context_items(value: object, base_url: str) -> list[dict[str, Any]]:
    """The deep-inserted context-item collection."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad(f"{schema.CONTEXT_ITEMS} must be an array of objects.", CODE_PAYLOAD)
    for item in value:
        check(schema.CONTEXT_ITEM, item, base_url)
    return copy.deepcopy(value)


def _object(body: object, entity: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad(f"Error identified in Payload for Entity '{entity}': not an object.", CODE_PAYLOAD)
    return body


def _require_guid(body: dict[str, Any], prop: str) -> str:
    value = body.get(prop)
    if value is None:
        raise bad(f"{prop} is required by the simulator (idempotent create).", CODE_INVALID_ARGUMENT)
    guid = parse_guid(value)
    if guid is None:
        raise bad(f"Cannot convert the literal '{value}' to 'Edm.Guid' for {prop}.", CODE_PAYLOAD)
    return guid
