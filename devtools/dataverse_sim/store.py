"""In-memory Dataverse tables. One lock guards them all, so a create (binds checked, key checked, row and
its children inserted) is atomic against concurrent reads and creates.

Rows keep a few simulator-only keys next to the columns (`workstream_id`, `contact_id`, `owner_id`,
`context_items`, ...) so tests can assert what was linked without parsing OData; `api.py` turns rows into
Dataverse's JSON shapes.
"""

from __future__ import annotations

import copy
import random
import string
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from devtools.dataverse_sim import schema
from devtools.dataverse_sim.odata import CODE_DUPLICATE, DUPLICATE_MESSAGE, ODataError, not_found, parse_guid
from devtools.dataverse_sim.privileges import APP_USER_ID
from devtools.dataverse_sim.query import Node
from devtools.dataverse_sim.routing import Routing
from devtools.dataverse_sim.validate import NewContact, NewIncident, NewWorkItem

TABLES = (schema.WORK_ITEM, schema.INCIDENT, schema.CONTACT)


class DuplicateKey(ODataError):
    """412 for a create whose primary key exists. The API layer re-codes it per simulator setting."""

    def __init__(self) -> None:
        super().__init__(412, CODE_DUPLICATE, DUPLICATE_MESSAGE)


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Store:
    """The tables the simulator serves."""

    def __init__(self, seed: int = 0) -> None:
        self.lock = threading.Lock()
        self._seed = seed
        self.contacts: dict[str, dict[str, Any]] = {}
        self.workstreams: dict[str, str] = {}
        self.items: dict[str, dict[str, Any]] = {}
        self.incidents: dict[str, dict[str, Any]] = {}
        self.queues: dict[str, str] = {}
        self.queue_items: dict[str, dict[str, Any]] = {}
        self.systemusers: dict[str, str] = {}
        self.teams: dict[str, str] = {}
        self.routing = Routing()
        self._reset_counters()

    def _reset_counters(self) -> None:
        self.systemusers[APP_USER_ID] = "# DataverseSimulator application user"
        self._next_ticket = schema.TICKET_FIRST_NUMBER
        self._rng = random.Random(self._seed)

    def clear(self) -> None:
        with self.lock:
            for table in (
                self.contacts,
                self.workstreams,
                self.items,
                self.incidents,
                self.queues,
                self.queue_items,
                self.systemusers,
                self.teams,
            ):
                table.clear()
            self.routing.clear()
            self._reset_counters()

    # ------------------------------------------------------------ seeding (admin, no validation beyond ids)

    def _add_named(self, table: dict[str, str], row_id: str | None, id_field: str, name: str) -> str:
        key = new_or_parsed(row_id, id_field)
        with self.lock:
            table[key] = name
        return key

    def add_workstream(self, workstream_id: str | None, name: str) -> str:
        return self._add_named(self.workstreams, workstream_id, "workstream_id", name)

    def add_queue(self, queue_id: str | None, name: str) -> str:
        return self._add_named(self.queues, queue_id, "queue_id", name)

    def add_systemuser(self, user_id: str | None, fullname: str) -> str:
        return self._add_named(self.systemusers, user_id, "user_id", fullname)

    def add_team(self, team_id: str | None, name: str) -> str:
        return self._add_named(self.teams, team_id, "team_id", name)

    def add_contact(self, contactid: str | None, fields: dict[str, str | None], statecode: int = 0) -> str:
        """Insert or replace a contact (seeding may overwrite; the API's POST answers 412 instead)."""
        key = new_or_parsed(contactid, "contactid")
        status = schema.DEFAULT_STATUS[schema.CONTACT].get(statecode)
        if status is None:
            raise ValueError(f"statecode must be 0 (Active) or 1 (Inactive), got {statecode!r}")
        row = _contact_row(key, fields)
        row.update(statecode=statecode, statuscode=status)
        with self.lock:
            self.contacts[key] = row
        return key

    # ------------------------------------------------------------ reads

    def find_contacts(self, where: Node | None, top: int | None) -> list[dict[str, Any]]:
        """Contacts matching `where`, in insertion order (Dataverse promises no order without $orderby)."""
        with self.lock:
            rows = [dict(row) for row in self.contacts.values() if where is None or where.matches(row)]
        return rows if top is None else rows[:top]

    def workstream_name(self, workstream_id: str) -> str | None:
        with self.lock:
            return self.workstreams.get(workstream_id)

    def get(self, entity: str, row_id: str) -> dict[str, Any] | None:
        key = parse_guid(row_id) or row_id
        with self.lock:
            row = self._table(entity).get(key)
            return copy.deepcopy(row) if row is not None else None

    def rows(self, entity: str) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(list(self._table(entity).values()))

    def all_queue_items(self) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(list(self.queue_items.values()))

    def has_systemuser(self, user_id: str) -> bool:
        with self.lock:
            return user_id in self.systemusers

    def counts(self) -> dict[str, int]:
        with self.lock:
            return {
                "work_items": len(self.items),
                "incidents": len(self.incidents),
                "contacts": len(self.contacts),
                "queue_items": len(self.queue_items),
            }

    def _table(self, entity: str) -> dict[str, dict[str, Any]]:
        tables = {
            schema.WORK_ITEM: self.items,
            schema.INCIDENT: self.incidents,
            schema.CONTACT: self.contacts,
        }
        if entity not in tables:
            raise ValueError(f"entity must be one of {', '.join(TABLES)}, got {entity!r}")
        return tables[entity]

    # ------------------------------------------------------------ creates

    def commit_work_item(self, new: NewWorkItem) -> dict[str, Any]:
        """Insert the row and its context items in one step, or raise without changing anything."""
        with self.lock:
            if new.workstream_id not in self.workstreams:
                raise not_found(schema.WORKSTREAM, new.workstream_id)
            if new.contact_id is not None and new.contact_id not in self.contacts:
                raise not_found(schema.CONTACT, new.contact_id)
            if new.activityid in self.items:
                raise DuplicateKey()
            row = dict(new.body)
            row.update(
                activityid=new.activityid,
                statecode=0,
                statuscode=schema.DEFAULT_STATUS[schema.WORK_ITEM][0],
                createdon=now(),
                context_items=new.context_items,
                workstream_id=new.workstream_id,
                contact_id=new.contact_id,
            )
            self.items[new.activityid] = row
            return copy.deepcopy(row)

    # ------------------------------------------------------------ work items: routing, listing, update, delete

    def note_work_item_created(self, activity_id: str) -> None:
        with self.lock:
            self.routing.note_created(activity_id)

    def routed_work_item(self, row_id: str) -> dict[str, Any] | None:
        """The work item after any routing that is due (routing.py), or None."""
        key = parse_guid(row_id) or row_id
        with self.lock:
            row = self.items.get(key)
            if row is None:
                return None
            self.routing.apply(row)
            return copy.deepcopy(row)

    def work_items_with_subject_prefix(self, prefix: str, top: int | None) -> list[dict[str, Any]]:
        with self.lock:
            rows = []
            for row in self.items.values():
                if str(row.get("subject") or "").casefold().startswith(prefix.casefold()):
                    self.routing.apply(row)
                    rows.append(copy.deepcopy(row))
        return rows if top is None else rows[:top]

    def update_work_item_state(self, row_id: str, statecode: int, statuscode: int | None) -> dict[str, Any]:
        key = parse_guid(row_id) or row_id
        with self.lock:
            if key not in self.items:
                raise not_found(schema.WORK_ITEM, key)
        return self.set_state(schema.WORK_ITEM, key, statecode, statuscode)

    def delete_work_item(self, row_id: str) -> None:
        """Delete the row; its context items go with it (they live inside the row here)."""
        key = parse_guid(row_id) or row_id
        with self.lock:
            if self.items.pop(key, None) is None:
                raise not_found(schema.WORK_ITEM, key)
            self.routing.created.pop(key, None)

    def commit_incident(self, new: NewIncident) -> dict[str, Any]:
        """Insert an incident; the customer and owner must exist. A missing bind target is the 404
        Dataverse answers ("contact With Id = ... Does Not Exist")."""
        with self.lock:
            if new.contact_id not in self.contacts:
                raise not_found(schema.CONTACT, new.contact_id)
            if new.primary_contact_id is not None and new.primary_contact_id not in self.contacts:
                raise not_found(schema.CONTACT, new.primary_contact_id)
            owner_set, owner_id = new.owner or (schema.SYSTEMUSER_SET, APP_USER_ID)
            owners = self.systemusers if owner_set == schema.SYSTEMUSER_SET else self.teams
            if owner_id not in owners:
                entity = schema.SYSTEMUSER if owner_set == schema.SYSTEMUSER_SET else schema.TEAM
                raise not_found(entity, owner_id)
            if new.incidentid in self.incidents:
                raise DuplicateKey()
            row = dict(new.columns)
            row.setdefault("ticketnumber", self._ticket_number())
            row.setdefault("statuscode", schema.DEFAULT_STATUS[schema.INCIDENT][0])
            row.update(
                incidentid=new.incidentid,
                statecode=0,
                createdon=now(),
                contact_id=new.contact_id,
                primary_contact_id=new.primary_contact_id,
                owner_type=schema.SYSTEMUSER if owner_set == schema.SYSTEMUSER_SET else schema.TEAM,
                owner_id=owner_id,
            )
            self.incidents[new.incidentid] = row
            return copy.deepcopy(row)

    def _ticket_number(self) -> str:
        """CAS-<number>-<suffix>, the stock case auto-number (see schema.TICKET_PREFIX)."""
        number = self._next_ticket
        self._next_ticket += 1
        alphabet = string.ascii_uppercase + string.digits
        suffix = "".join(self._rng.choice(alphabet) for _ in range(schema.TICKET_SUFFIX_LENGTH))
        return f"{schema.TICKET_PREFIX}-{number:05d}-{suffix}"

    def commit_contact(self, new: NewContact) -> dict[str, Any]:
        with self.lock:
            if new.contactid in self.contacts:
                raise DuplicateKey()
            row = _contact_row(new.contactid, dict(new.columns))
            row.update(statecode=0, statuscode=schema.DEFAULT_STATUS[schema.CONTACT][0])
            self.contacts[new.contactid] = row
            return copy.deepcopy(row)

    # ------------------------------------------------------------ state and queues

    def set_state(self, entity: str, row_id: str, statecode: int, statuscode: int | None) -> dict[str, Any]:
        """Change a row's state, as SetState / a PATCH of statecode+statuscode would. Deactivating an
        incident deactivates its queue items ("A queue item is automatically deactivated if the state of
        the record in the queue item changed from Active to Inactive", powerapps-docs queue-entities.md)."""
        if entity not in schema.DEFAULT_STATUS:
            raise ValueError(f"entity must be one of {', '.join(TABLES)}, got {entity!r}")
        defaults = schema.DEFAULT_STATUS[entity]
        if statecode not in defaults:
            raise ValueError(f"statecode {statecode!r} is not a state of {entity}: one of {sorted(defaults)}")
        status = defaults[statecode] if statuscode is None else statuscode
        if schema.STATUS_STATE[entity].get(status) != statecode:
            raise ValueError(f"statuscode {status!r} does not belong to statecode {statecode} of {entity}")
        key = parse_guid(row_id) or row_id
        with self.lock:
            row = self._table(entity).get(key)
            if row is None:
                raise KeyError(f"{entity} {row_id} does not exist")
            row.update(statecode=statecode, statuscode=status)
            if entity == schema.INCIDENT and statecode != 0:
                for item in self.queue_items.values():
                    if item["objectid"] == key and item["statecode"] == 0:
                        item.update(statecode=1, statuscode=2)
            return copy.deepcopy(row)

    def add_to_queue(self, queue_id: str, entity: str, object_id: str) -> tuple[str, bool]:
        """AddToQueue: returns (queueitemid, created).

        "An entity record cannot be added in multiple queues" and AddToQueue "moves a queue item from a
        source queue to a destination queue" (powerapps-docs .../data-platform/queue-entities.md). So a
        record with an active queue item keeps that one item: in the same queue nothing changes, in another
        queue the item moves. Only a record without an active item gets a new one."""
        with self.lock:
            if queue_id not in self.queues:
                raise not_found(schema.QUEUE, queue_id)
            table = {schema.INCIDENT: self.incidents}.get(entity)
            if table is None or object_id not in table:
                raise not_found(entity, object_id)
            for item in self.queue_items.values():
                if item["objectid"] == object_id and item["statecode"] == 0:
                    if item["queueid"] != queue_id:
                        item.update(queueid=queue_id, modifiedon=now())
                    return item["queueitemid"], False
            item_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
            self.queue_items[item_id] = {
                "queueitemid": item_id,
                "queueid": queue_id,
                "objectid": object_id,
                "objecttypecode": entity,
                "title": table[object_id].get("title"),
                "statecode": 0,
                "statuscode": 1,
                "createdon": now(),
            }
            return item_id, True


def _contact_row(key: str, fields: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {column: None for column in schema.CONTACT_COLUMNS}
    row.update({name: value for name, value in fields.items() if value is not None})
    if row.get("fullname") is None:
        name = " ".join(part for part in (row.get("firstname"), row.get("lastname")) if part)
        row["fullname"] = name or None
    row.update(contactid=key, createdon=now())
    return row


def new_or_parsed(value: str | None, name: str) -> str:
    if value is None:
        return str(uuid.uuid4())
    guid = parse_guid(value)
    if guid is None:
        raise ValueError(f"{name} must be a GUID, got {value!r}")
    return guid
