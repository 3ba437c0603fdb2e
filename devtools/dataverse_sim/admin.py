"""The `/_sim/` admin API: the Python API over HTTP, for a simulator running in another process.

It drives the simulator through the `AdminTarget` protocol below, so it never imports the simulator
module (which imports this one).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from devtools.dataverse_sim.availability import AvailabilityDesk
from devtools.dataverse_sim.availability import admin as availability_admin
from devtools.dataverse_sim.demo import SeedTarget, seed_crowd, seed_demo
from devtools.dataverse_sim.faults import FaultRule
from devtools.dataverse_sim.privileges import APP_USER_ID
from devtools.dataverse_sim.replies import Reply, json_reply, no_content

_NUMBER_SETTINGS = frozenset({"latency", "max_concurrency", "token_lifetime", "concurrency_retry_after"})
_TEXT_SETTINGS = frozenset({"duplicate_code"})
_CONFIG_FIELDS = _NUMBER_SETTINGS | _TEXT_SETTINGS


class AdminTarget(SeedTarget, Protocol):
    """Everything the admin API reads or changes on a simulator."""

    latency: float
    max_concurrency: int | None
    token_lifetime: float
    concurrency_retry_after: float
    duplicate_code: str

    @property
    def work_items(self) -> list[dict[str, Any]]: ...

    @property
    def incidents(self) -> list[dict[str, Any]]: ...

    @property
    def contacts(self) -> list[dict[str, Any]]: ...

    @property
    def queue_items(self) -> list[dict[str, Any]]: ...

    @property
    def requests(self) -> list[Any]: ...  # the simulator's RequestRecord named tuples

    @property
    def faults(self) -> list[FaultRule]: ...

    def stats(self) -> dict[str, Any]: ...

    def add_fault(self, rule: FaultRule) -> None: ...

    def clear_faults(self) -> None: ...

    def reset(self) -> None: ...

    def expire_tokens(self) -> None: ...

    def set_state(
        self, entity: str, row_id: str, statecode: int, statuscode: int | None = None
    ) -> dict[str, Any]: ...

    def close(self, entity: str, row_id: str) -> dict[str, Any]: ...

    def add_incident_columns(self, *names: str) -> None: ...

    def privileges_of(self, user_id: str) -> dict[str, str]: ...

    def set_privileges(self, privileges: Iterable[str] | Mapping[str, str], user_id: str = ...) -> None: ...

    def grant_privilege(self, name: str, depth: str = ..., user_id: str = ...) -> None: ...

    def revoke_privilege(self, name: str, user_id: str = ...) -> None: ...

    @property
    def routing(self) -> dict[str, Any]: ...

    def set_routing(self, enabled: bool, *, delay: float | None = None) -> None: ...

    def route_workstream(self, workstream_id: str, queue_id: str, agent_id: str | None = None) -> None: ...

    def set_streamsource(self, workstream_id: str, streamsource: int | None) -> None: ...

    @property
    def availability(self) -> AvailabilityDesk: ...


Handler = Callable[[AdminTarget, dict[str, Any]], Reply]


def admin_route(sim: AdminTarget, method: str, name: str, data: Any) -> Reply:
    """Answer one admin call; unknown routes are a 404 that lists the known ones."""
    handler = ROUTES.get((method, name))
    if handler is None:
        known = ", ".join(f"{m} /_sim/{n}" for m, n in ROUTES)
        return json_reply(404, {"error": {"code": "sim", "message": f"unknown admin route; known: {known}"}})
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return handler(sim, data)


def _done(action: Callable[[], None] | None = None) -> Reply:
    if action is not None:
        action()
    return no_content()


def _listing(rows: list[Any]) -> Reply:
    return json_reply(200, {"value": rows})


def _only(data: dict[str, Any], allowed: set[str] | frozenset[str], what: str) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValueError(f"unknown {what} fields: {', '.join(unknown)}")


def _keywords(method: Callable[..., Any]) -> set[str]:
    """The keyword arguments a seeding method takes: the fields its admin call accepts."""
    return set(inspect.signature(method).parameters)


def _add_contact(sim: AdminTarget, data: dict[str, Any]) -> Reply:
    _only(data, _keywords(sim.add_contact), "contact")
    return json_reply(201, {"contactid": sim.add_contact(**data)})


def _adder(method: str, id_field: str, name_field: str, default: str, answer: str) -> Handler:
    """POST /_sim/<table>: `{id_field, name_field}` in, `{answer: id}` out."""

    def add(sim: AdminTarget, data: dict[str, Any]) -> Reply:
        _only(data, {id_field, name_field}, method.removeprefix("add_"))
        row_id = getattr(sim, method)(data.get(id_field), data.get(name_field, default))
        return json_reply(201, {answer: row_id})

    return add


def _add_fault(sim: AdminTarget, data: dict[str, Any]) -> Reply:
    sim.add_fault(FaultRule.from_dict(data))
    return json_reply(201, {"faults": len(sim.faults)})


def _set_state(sim: AdminTarget, data: dict[str, Any]) -> Reply:
    _only(data, {"entity", "id", "statecode", "statuscode"}, "state")
    try:
        row = sim.set_state(data["entity"], data["id"], data["statecode"], data.get("statuscode"))
    except KeyError as missing:
        if isinstance(missing.args[0], str) and " does not exist" in missing.args[0]:
            return json_reply(404, {"error": {"code": "sim", "message": missing.args[0]}})
        raise ValueError(f"missing field {missing}") from None
    return json_reply(200, row)


def _close(sim: AdminTarget, data: dict[str, Any]) -> Reply:
    _only(data, {"entity", "id"}, "close")
    return _set_state(sim, {**data, "statecode": 1})


def _incident_columns(sim: AdminTarget, data: dict[str, Any]) -> Reply:
    _only(data, {"columns"}, "incident-columns")
    columns = data.get("columns")
    if not isinstance(columns, list):
        raise ValueError("columns must be a list of logical names")
    sim.add_incident_columns(*columns)
    return no_content()


def _privileges(sim: AdminTarget, data: dict[str, Any]) -> Reply:
    return json_reply(200, {"user_id": APP_USER_ID, "privileges": sim.privileges_of(APP_USER_ID)})


def _set_privileges(sim: AdminTarget, data: dict[str, Any]) -> Reply:
    _only(data, {"privileges", "user_id"}, "privileges")
    privileges = data.get("privileges")
    if not isinstance(privileges, list | dict):
        raise ValueError("privileges must be a list of names or an object of name: depth")
    user_id = data.get("user_id", APP_USER_ID)
    sim.set_privileges(privileges, user_id=user_id)
    return json_reply(200, {"user_id": user_id, "privileges": sim.privileges_of(user_id)})


def _grant(sim: AdminTarget, data: dict[str, Any]) -> Reply:
    _only(data, {"name", "depth", "user_id"}, "grant")
    sim.grant_privilege(data["name"], data.get("depth", "Global"), user_id=data.get("user_id", APP_USER_ID))
    return no_content()


def _revoke(sim: AdminTarget, data: dict[str, Any]) -> Reply:
    _only(data, {"name", "user_id"}, "revoke")
    sim.revoke_privilege(data["name"], user_id=data.get("user_id", APP_USER_ID))
    return no_content()


def _config(sim: AdminTarget) -> dict[str, Any]:
    return {name: getattr(sim, name) for name in sorted(_CONFIG_FIELDS)}


def _set_config(sim: AdminTarget, data: dict[str, Any]) -> Reply:
    _only(data, _CONFIG_FIELDS, "settings")
    for name, value in data.items():
        if name in _TEXT_SETTINGS:
            if not isinstance(value, str):
                raise ValueError(f"{name} must be a string ('' for the empty code)")
        elif value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
            raise ValueError(f"{name} must be a number or null")
        elif value is None and name != "max_concurrency":
            raise ValueError(f"{name} must be a number")
        setattr(sim, name, value)
    return json_reply(200, _config(sim))


def _crowd(sim: AdminTarget, data: dict[str, Any]) -> Reply:
    _only(data, {"phone", "email", "size"}, "crowd")
    return json_reply(201, seed_crowd(sim, **data))


def _routing(sim: AdminTarget, data: dict[str, Any]) -> Reply:
    """`{"enabled": bool, "delay": s, "workstreams": {id: {"queue_id", "agent_id"}}, "streamsource": {id: n}}`."""
    _only(data, {"enabled", "delay", "workstreams", "streamsource"}, "routing")
    for workstream_id, route in (data.get("workstreams") or {}).items():
        _only(route, {"queue_id", "agent_id"}, "routing workstream")
        sim.route_workstream(workstream_id, route["queue_id"], route.get("agent_id"))
    for workstream_id, source in (data.get("streamsource") or {}).items():
        sim.set_streamsource(workstream_id, source)
    if "enabled" in data or "delay" in data:
        current = sim.routing
        sim.set_routing(bool(data.get("enabled", current["enabled"])), delay=data.get("delay"))
    return json_reply(200, sim.routing)


ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "workitems"): lambda s, _: _listing(s.work_items),
    ("GET", "incidents"): lambda s, _: _listing(s.incidents),
    ("GET", "contacts"): lambda s, _: _listing(s.contacts),
    ("GET", "queueitems"): lambda s, _: _listing(s.queue_items),
    ("GET", "requests"): lambda s, _: _listing([r._asdict() for r in s.requests]),
    ("GET", "stats"): lambda s, _: json_reply(200, s.stats()),
    ("GET", "faults"): lambda s, _: _listing([f.to_dict() for f in s.faults]),
    ("GET", "config"): lambda s, _: json_reply(200, _config(s)),
    ("GET", "privileges"): _privileges,
    ("POST", "contacts"): _add_contact,
    ("POST", "workstreams"): _adder(
        "add_workstream", "workstream_id", "name", "SMS workstream", "msdyn_liveworkstreamid"
    ),
    ("POST", "queues"): _adder("add_queue", "queue_id", "name", "Support queue", "queueid"),
    ("POST", "systemusers"): _adder("add_systemuser", "user_id", "fullname", "Support rep", "systemuserid"),
    ("POST", "teams"): _adder("add_team", "team_id", "name", "Support team", "teamid"),
    ("POST", "faults"): _add_fault,
    ("DELETE", "faults"): lambda s, _: _done(s.clear_faults),
    ("POST", "reset"): lambda s, _: _done(s.reset),
    ("POST", "expire-tokens"): lambda s, _: _done(s.expire_tokens),
    ("POST", "config"): _set_config,
    ("POST", "state"): _set_state,
    ("POST", "close"): _close,
    ("POST", "incident-columns"): _incident_columns,
    ("POST", "privileges"): _set_privileges,
    ("POST", "grant-privilege"): _grant,
    ("POST", "revoke-privilege"): _revoke,
    ("POST", "seed-demo"): lambda s, _: json_reply(201, seed_demo(s)),
    ("POST", "crowd"): _crowd,
    ("GET", "routing"): lambda s, _: json_reply(200, s.routing),
    ("POST", "routing"): _routing,
    ("GET", "availability"): lambda s, d: availability_admin(s.availability, "GET", d),
    ("POST", "availability"): lambda s, d: availability_admin(s.availability, "POST", d),
}
