"""In-memory Dataverse tables under one lock, so a write (binds checked, key checked, row and its children
inserted) is atomic. Rows keep simulator-only keys (`workstream_id`, `contact_id`, ...) so tests can
assert what was linked without parsing OData.

Unified routing is played here too: it happens inside Dynamics, no API call triggers it, so the go-live
check (ops/golive) watches a work item for its effects on the columns msdyn_ocliveworkitem.md
(dynamics-365-customer-engagement .../reference/entities/) names: `msdyn_cdsqueueid`, `msdyn_activeagentid`
("the agent currently assigned") and `statuscode` (1 Open, 2 Active, 3 Waiting, 4 Closed, 5 Wrap-up).
When `enabled`, a work item on a workstream with a target gets, `delay` seconds after its create, the
target's queue, its agent if any and statuscode 2 Active (1 Open without an agent); otherwise nothing
changes. A workstream's `msdyn_streamsource` (the "Channel": 192340000 SMS, 192300000 WhatsApp,
192360000 Live chat, ...) is kept here too; unset, the simulator answers null.
"""

from __future__ import annotations

import copy
import random
import string
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from devtools.dataverse_sim import schema
from devtools.dataverse_sim.odata import CODE_DUPLICATE, DUPLICATE_MESSAGE, ODataError, not_found, parse_guid
from devtools.dataverse_sim.privileges import APP_USER_ID, ORGANIZATION_ID
from devtools.dataverse_sim.schema import New, decoded_size


class DuplicateKey(ODataError):
    """412 for a create whose primary key exists (api.py re-codes it per the duplicate_code setting)."""

    def __init__(self) -> None:
        super().__init__(412, CODE_DUPLICATE, DUPLICATE_MESSAGE)


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class RouteTarget(NamedTuple):
    """Where routing sends a workstream's work items: a queue, and optionally a rep who takes them."""

    queue_id: str
    agent_id: str | None = None


@dataclass
class Routing:
    """The routing switch and its per-workstream targets. Guarded by the store's lock."""

    enabled: bool = False
    delay: float = 0.5
    targets: dict[str, RouteTarget] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)  # workstream id -> msdyn_streamsource
    created: dict[str, float] = field(default_factory=dict)  # activityid -> monotonic create time

    def apply(self, row: dict[str, Any]) -> None:
        """Route `row` in place when routing is on, its workstream has a target and the delay passed."""
        if not self.enabled or row.get("routed") or row.get("statecode") != 0:
            return
        target = self.targets.get(str(row.get("workstream_id")))
        created = self.created.get(str(row.get("activityid")))
        if target is None or created is None or time.monotonic() - created < self.delay:
            return
        status = 2 if target.agent_id else 1  # Active with a rep, Open in the queue
        row.update(routed=True, queue_id=target.queue_id, agent_id=target.agent_id, statuscode=status)


class Store:
    """The tables the simulator serves: full rows per logical name, names only for the seeded tables."""

    def __init__(self, seed: int = 0) -> None:
        self.lock = threading.Lock()
        self._seed = seed
        self.clear()

    def clear(self) -> None:
        with self.lock:
            self.tables: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in schema.TABLES}
            self.named: dict[str, dict[str, str]] = {name: {} for name in schema.NAMED}
            self.named["systemuser"][APP_USER_ID] = "# DataverseSimulator application user"
            self.queue_items: dict[str, dict[str, Any]] = {}
            self.routing = Routing()
            self.organization = dict(schema.DEFAULT_ORGANIZATION, organizationid=ORGANIZATION_ID)
            self._next_ticket = schema.TICKET_FIRST_NUMBER
            self._rng = random.Random(self._seed)

    def add_named(self, entity: str, row_id: str | None, name: str) -> str:
        key = new_or_parsed(row_id, schema.NAMED[entity][1])
        with self.lock:
            self.named[entity][key] = name
        return key

    def add_contact(self, contactid: str | None, fields: dict[str, str | None], statecode: int = 0) -> str:
        """Insert or replace a contact (seeding may overwrite; the API's POST answers 412 instead)."""
        key = new_or_parsed(contactid, "contactid")
        if unknown := sorted(set(fields) - {*schema.CONTACT.columns, "fullname"}):
            raise ValueError(f"unknown contact fields: {', '.join(unknown)}")
        if (status := schema.CONTACT.states.get(statecode)) is None:
            raise ValueError(f"statecode must be 0 (Active) or 1 (Inactive), got {statecode!r}")
        row = _contact_row(key, {k: v for k, v in fields.items() if v is not None})
        row.update(statecode=statecode, statuscode=status)
        with self.lock:
            self.tables["contact"][key] = row
        return key

    def name_of(self, entity: str, row_id: str) -> str | None:
        with self.lock:
            return self.named[entity].get(row_id)

    def get(self, entity: str, row_id: str) -> dict[str, Any] | None:
        return next(iter(self.rows(entity, parse_guid(row_id) or row_id)), None)

    def rows(self, entity: str, key: str | None = None) -> list[dict[str, Any]]:
        """Copies of the table's rows (or of the one with `key`), work items routed first when due."""
        with self.lock:
            table = self._table(entity)
            rows = list(table.values()) if key is None else [table[key]] if key in table else []
            for row in rows if entity == "msdyn_ocliveworkitem" else ():
                self.routing.apply(row)
            return copy.deepcopy(rows)

    def all_queue_items(self) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(list(self.queue_items.values()))

    def counts(self) -> dict[str, int]:
        names = ("work_items", "incidents", "contacts", "notes")  # in schema.TABLES' order
        with self.lock:
            sizes = {name: len(rows) for name, rows in zip(names, self.tables.values(), strict=True)}
            return {**sizes, "queue_items": len(self.queue_items)}

    def _table(self, entity: str) -> dict[str, dict[str, Any]]:
        if entity not in self.tables:
            raise ValueError(f"entity must be one of {', '.join(self.tables)}, got {entity!r}")
        return self.tables[entity]

    def insert(self, table: schema.Table, new: New, mode: str = "create") -> dict[str, Any]:
        """Write the row (and its children) in one step, or raise without changing anything. `mode`:
        "create" (an existing key is 412), "update" (an absent one is 404) or "upsert" (either)."""
        binds = dict(new.binds)
        if table is schema.INCIDENT:
            binds.setdefault("owner_id", (schema.SYSTEMUSER_SET, APP_USER_ID))
        with self.lock:
            for entity_set, row_id in binds.values():
                entity = schema.SET_ENTITY[entity_set]
                if row_id not in (self.tables[entity] if entity in self.tables else self.named[entity]):
                    raise not_found(entity, row_id)
            rows = self.tables[table.logical]
            if (existing := rows.get(new.key)) is not None and mode == "create":
                raise DuplicateKey()
            if existing is None and mode == "update":
                raise not_found(table.logical, new.key)
            row = existing if existing is not None else self._new_row(table, new)
            row.update(new.columns)
            row.update({row_key: row_id for row_key, (_, row_id) in binds.items()})
            if table is schema.INCIDENT:
                row["owner_type"] = schema.SET_ENTITY[binds["owner_id"][0]]
            if table is schema.ANNOTATION:
                body = row.get("documentbody")
                row["filesize"] = decoded_size(body) if isinstance(body, str) else 0
                row["objecttypecode"] = "incident" if row.get("object_id") else None
            if table is schema.CONTACT:
                row.update(_contact_row(new.key, row))
            rows[new.key] = row
            return copy.deepcopy(row)

    def _new_row(self, table: schema.Table, new: New) -> dict[str, Any]:
        row: dict[str, Any] = {table.key: new.key, "createdon": now()}
        row.update(dict.fromkeys(bind.row_key for bind in table.binds.values()))  # unlinked: None
        if table.states:
            row.update(statecode=0, statuscode=table.states[0])
        if table is schema.WORK_ITEM:
            row["context_items"] = new.children
            self.routing.created[new.key] = time.monotonic()
        if (
            table is schema.INCIDENT
        ):  # CAS-<number>-<suffix>, the stock case auto-number (schema.TICKET_PREFIX)
            alphabet = string.ascii_uppercase + string.digits
            suffix = "".join(self._rng.choice(alphabet) for _ in range(schema.TICKET_SUFFIX_LENGTH))
            row["ticketnumber"] = f"{schema.TICKET_PREFIX}-{self._next_ticket:05d}-{suffix}"
            self._next_ticket += 1
        if table is schema.ANNOTATION:
            row["isdocument"] = False
        return row

    def delete(self, entity: str, row_id: str) -> None:
        """Delete the row; a work item's context items go with it (they live inside the row here)."""
        key = parse_guid(row_id) or row_id
        with self.lock:
            if self._table(entity).pop(key, None) is None:
                raise not_found(entity, key)
            self.routing.created.pop(key, None)

    def set_state(self, entity: str, row_id: str, statecode: int, statuscode: int | None) -> dict[str, Any]:
        """Change a row's state, as SetState / a PATCH of statecode+statuscode would. Deactivating an
        incident deactivates its queue items ("A queue item is automatically deactivated if the state of
        the record in the queue item changed from Active to Inactive", powerapps-docs queue-entities.md)."""
        if (table := schema.TABLES.get(entity)) is None or not table.states:
            raise ValueError(f"entity must be one of msdyn_ocliveworkitem, incident, contact, got {entity!r}")
        if statecode not in table.states:
            raise ValueError(f"statecode {statecode!r} is not a state of {entity}: {sorted(table.states)}")
        status = table.states[statecode] if statuscode is None else statuscode
        if table.status_state.get(status) != statecode:
            raise ValueError(f"statuscode {status!r} does not belong to statecode {statecode} of {entity}")
        key = parse_guid(row_id) or row_id
        with self.lock:
            if (row := self.tables[entity].get(key)) is None:
                raise KeyError(f"{entity} {row_id} does not exist")
            row.update(statecode=statecode, statuscode=status)
            if table is schema.INCIDENT and statecode != 0:
                for item in self.queue_items.values():
                    if item["objectid"] == key and item["statecode"] == 0:
                        item.update(statecode=1, statuscode=2)
            return copy.deepcopy(row)

    def add_to_queue(self, queue_id: str, object_id: str) -> str:
        """AddToQueue for an incident: the queueitemid. "An entity record cannot be added in multiple queues"
        and AddToQueue "moves a queue item from a source queue to a destination queue" (powerapps-docs
        .../data-platform/queue-entities.md): a record with an active queue item keeps that one item (in
        another queue it moves there); only a record without an active item gets a new one."""
        with self.lock:
            if queue_id not in self.named["queue"]:
                raise not_found("queue", queue_id)
            if (incident := self.tables["incident"].get(object_id)) is None:
                raise not_found("incident", object_id)
            for item in self.queue_items.values():
                if item["objectid"] == object_id and item["statecode"] == 0:
                    if item["queueid"] != queue_id:
                        item.update(queueid=queue_id, modifiedon=now())
                    return str(item["queueitemid"])
            item_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
            self.queue_items[item_id] = {
                "queueitemid": item_id, "queueid": queue_id, "objectid": object_id, "objecttypecode": "incident",
                "title": incident.get("title"), "statecode": 0, "statuscode": 1, "createdon": now(),
            }  # fmt: skip
            return item_id


def _contact_row(key: str, fields: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(schema.CONTACT.read)
    row.update(fields)
    if row.get("fullname") is None:
        name = " ".join(part for part in (row.get("firstname"), row.get("lastname")) if part)
        row["fullname"] = name or None
    row.update(contactid=key, createdon=row.get("createdon") or now())
    return row


def new_or_parsed(value: str | None, name: str) -> str:
    if value is None:
        return str(uuid.uuid4())
    if (guid := parse_guid(value)) is None:
        raise ValueError(f"{name} must be a GUID, got {value!r}")
    return guid
