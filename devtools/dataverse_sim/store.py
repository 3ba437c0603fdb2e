"""In-memory Dataverse tables (contacts, workstreams, live work items) and the deep-insert validation."""

from __future__ import annotations

import copy
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from devtools.dataverse_sim.odata import (
    CODE_BAD_QUERY,
    CODE_DUPLICATE,
    CODE_INVALID_ARGUMENT,
    CODE_NOT_FOUND,
    CODE_PAYLOAD,
    CODE_VALIDATION,
    ODataError,
    parse_bind,
    parse_guid,
)

ENTITY = "msdyn_ocliveworkitem"
CHANNELS = frozenset({"192340000", "192300000", "192360000"})  # sms, whatsapp, web
WORKSTREAM_BIND = "msdyn_liveworkstreamid_msdyn_ocliveworkitem@odata.bind"
CONTACT_BIND = "msdyn_customer_msdyn_ocliveworkitem_contact@odata.bind"
CONTEXT_ITEMS = "msdyn_msdyn_ocliveworkitem_msdyn_ocliveworkitemcontextitem_ocliveworkitemid"
PROPERTIES = frozenset(
    {
        "activityid",
        "msdyn_ocliveworkitemid",
        "subject",
        "description",
        "msdyn_channel",
        WORKSTREAM_BIND,
        CONTACT_BIND,
        CONTEXT_ITEMS,
    }
)
CONTEXT_ITEM_PROPERTIES = frozenset({"msdyn_name", "msdyn_value", "msdyn_isdisplayable"})
MAX_SUBJECT, MAX_DESCRIPTION, MAX_CONTEXT_NAME, MAX_CONTEXT_VALUE = 200, 2000, 100, 4000


@dataclass(frozen=True)
class NewWorkItem:
    """A create body that passed validation and still needs its binds and key checked against state."""

    activityid: str
    workstream_id: str
    contact_id: str | None
    body: dict[str, Any]
    context_items: list[dict[str, Any]]


def dataverse_length(text: str) -> int:
    """Length as Dataverse counts it: UTF-16 code units (.NET string.Length), so an emoji counts twice."""
    return len(text.encode("utf-16-le")) // 2


def validate_create(body: object, base_url: str) -> NewWorkItem:
    """Check a deep-insert body the way Dataverse would, raising the first problem as a 400 OData error."""
    if not isinstance(body, dict):
        raise ODataError(
            400, CODE_PAYLOAD, f"Error identified in Payload for Entity '{ENTITY}': not an object."
        )
    for key in body:
        if key not in PROPERTIES and not key.startswith("@odata."):
            raise ODataError(400, CODE_BAD_QUERY, f"Invalid property '{key}' was found in entity '{ENTITY}'.")
    activityid = _require_guid(body, "activityid")
    live_id = body.get("msdyn_ocliveworkitemid")
    if live_id is not None and (not isinstance(live_id, str) or parse_guid(live_id) != activityid):
        raise ODataError(
            400, CODE_INVALID_ARGUMENT, "msdyn_ocliveworkitemid must be the activityid as a string."
        )
    _check_text(body, "subject", MAX_SUBJECT, required=True)
    _check_text(body, "description", MAX_DESCRIPTION, required=False)
    channel = body.get("msdyn_channel")
    if channel is None:
        raise ODataError(400, CODE_INVALID_ARGUMENT, "msdyn_channel is required.")
    if not isinstance(channel, str) or channel not in CHANNELS:
        raise ODataError(
            400,
            CODE_VALIDATION,
            f"A validation error occurred. The value {channel!r} of 'msdyn_channel' is outside the valid "
            f"range: send one of {sorted(CHANNELS)} as a string.",
        )
    if WORKSTREAM_BIND not in body:
        raise ODataError(400, CODE_INVALID_ARGUMENT, f"{WORKSTREAM_BIND} is required (the workstream).")
    workstream_id = parse_bind(body[WORKSTREAM_BIND], WORKSTREAM_BIND, "msdyn_liveworkstreams", base_url)
    contact_id = None
    if body.get(CONTACT_BIND) is not None:
        contact_id = parse_bind(body[CONTACT_BIND], CONTACT_BIND, "contacts", base_url)
    items = _context_items(body.get(CONTEXT_ITEMS))
    return NewWorkItem(activityid, workstream_id, contact_id, copy.deepcopy(body), items)


def _require_guid(body: dict[str, Any], prop: str) -> str:
    value = body.get(prop)
    if value is None:
        raise ODataError(
            400, CODE_INVALID_ARGUMENT, f"{prop} is required by the simulator (idempotent create)."
        )
    guid = parse_guid(value) if isinstance(value, str) else None
    if guid is None:
        raise ODataError(400, CODE_PAYLOAD, f"Cannot convert the literal '{value}' to 'Edm.Guid' for {prop}.")
    return guid


def _check_text(body: dict[str, Any], prop: str, limit: int, *, required: bool, where: str = ENTITY) -> None:
    value = body.get(prop)
    if value is None:
        if required:
            raise ODataError(400, CODE_INVALID_ARGUMENT, f"{prop} is required on '{where}'.")
        return
    if not isinstance(value, str):
        raise ODataError(
            400, CODE_PAYLOAD, f"Cannot convert {value!r} to 'Edm.String' for {prop} on '{where}'."
        )
    if required and not value.strip():
        raise ODataError(400, CODE_INVALID_ARGUMENT, f"{prop} must not be empty on '{where}'.")
    length = dataverse_length(value)
    if length > limit:
        raise ODataError(
            400,
            CODE_VALIDATION,
            f"A validation error occurred. The length of the '{prop}' attribute of the '{where}' entity "
            f"exceeded the maximum allowed length of '{limit}' (got {length}).",
        )


def _context_items(value: object) -> list[dict[str, Any]]:
    """Validate the nested context-item collection of the deep insert."""
    if value is None:
        return []
    where = "msdyn_ocliveworkitemcontextitem"
    if not isinstance(value, list):
        raise ODataError(400, CODE_PAYLOAD, f"{CONTEXT_ITEMS} must be an array of {where} objects.")
    items: list[dict[str, Any]] = []
    for position, item in enumerate(value):
        if not isinstance(item, dict):
            raise ODataError(400, CODE_PAYLOAD, f"{CONTEXT_ITEMS}[{position}] must be an object.")
        for key in item:
            if key not in CONTEXT_ITEM_PROPERTIES and not key.startswith("@odata."):
                raise ODataError(
                    400, CODE_BAD_QUERY, f"Invalid property '{key}' was found in entity '{where}'."
                )
        _check_text(item, "msdyn_name", MAX_CONTEXT_NAME, required=True, where=where)
        _check_text(item, "msdyn_value", MAX_CONTEXT_VALUE, required=False, where=where)
        displayable = item.get("msdyn_isdisplayable")
        if displayable is not None and not isinstance(displayable, bool):
            raise ODataError(400, CODE_PAYLOAD, f"msdyn_isdisplayable must be a boolean on '{where}'.")
        items.append(copy.deepcopy(item))
    return items


class Store:
    """The tables, each guarded by one lock so a create is atomic against concurrent reads and creates."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.contacts: dict[str, dict[str, Any]] = {}
        self.workstreams: dict[str, str] = {}
        self.items: dict[str, dict[str, Any]] = {}

    def clear(self) -> None:
        with self.lock:
            self.contacts.clear()
            self.workstreams.clear()
            self.items.clear()

    def add_workstream(self, workstream_id: str | None, name: str) -> str:
        key = _new_or_parsed(workstream_id, "workstream_id")
        with self.lock:
            self.workstreams[key] = name
        return key

    def add_contact(self, contactid: str | None, fields: dict[str, str | None]) -> str:
        key = _new_or_parsed(contactid, "contactid")
        with self.lock:
            self.contacts[key] = {"contactid": key, **fields}
        return key

    def find_contacts(self, comparisons: list[tuple[str, str]], top: int | None) -> list[dict[str, Any]]:
        """Contacts matching any comparison. String equality is case-insensitive, as Dataverse's collation."""
        with self.lock:
            rows = [
                dict(contact)
                for contact in self.contacts.values()
                if not comparisons or any(_equal(contact.get(f), v) for f, v in comparisons)
            ]
        return rows if top is None else rows[:top]

    def workstream_name(self, workstream_id: str) -> str | None:
        with self.lock:
            return self.workstreams.get(workstream_id)

    def commit(self, new: NewWorkItem) -> dict[str, Any]:
        """Insert the row and its context items in one step, or raise without changing anything."""
        with self.lock:
            if new.workstream_id not in self.workstreams:
                raise ODataError(
                    404, CODE_NOT_FOUND, f"msdyn_liveworkstream With Id = {new.workstream_id} Does Not Exist"
                )
            if new.contact_id is not None and new.contact_id not in self.contacts:
                raise ODataError(404, CODE_NOT_FOUND, f"contact With Id = {new.contact_id} Does Not Exist")
            if new.activityid in self.items:
                raise ODataError(412, CODE_DUPLICATE, "A record with matching key values already exists.")
            row = dict(new.body)
            row.update(
                activityid=new.activityid,
                createdon=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                context_items=new.context_items,
                workstream_id=new.workstream_id,
                contact_id=new.contact_id,
            )
            self.items[new.activityid] = row
            return copy.deepcopy(row)

    def item(self, activityid: str) -> dict[str, Any] | None:
        key = parse_guid(activityid) or activityid
        with self.lock:
            row = self.items.get(key)
            return copy.deepcopy(row) if row is not None else None

    def count(self) -> int:
        with self.lock:
            return len(self.items)

    def all_items(self) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(list(self.items.values()))


def _equal(stored: object, wanted: str) -> bool:
    return isinstance(stored, str) and stored.casefold() == wanted.casefold()


def _new_or_parsed(value: str | None, name: str) -> str:
    if value is None:
        return str(uuid.uuid4())
    guid = parse_guid(value)
    if guid is None:
        raise ValueError(f"{name} must be a GUID, got {value!r}")
    return guid
