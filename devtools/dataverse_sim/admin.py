"""The `/_sim/` admin API: the Python API over HTTP, for a simulator running in another process."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from devtools.dataverse_sim.faults import FaultRule
from devtools.dataverse_sim.server import Reply, json_reply

if TYPE_CHECKING:
    from devtools.dataverse_sim.simulator import DataverseSimulator

_CONTACT_FIELDS = frozenset({"email", "mobilephone", "telephone1", "fullname", "contactid"})
_CONFIG_FIELDS = frozenset({"latency", "max_concurrency", "token_lifetime", "concurrency_retry_after"})


def admin_route(sim: DataverseSimulator, method: str, name: str, data: dict[str, Any]) -> Reply:
    """Answer one admin call; unknown routes are a 404 that lists the known ones."""
    routes: dict[tuple[str, str], Callable[[DataverseSimulator, dict[str, Any]], Reply]] = {
        ("GET", "workitems"): lambda s, _: json_reply(200, {"value": s.work_items}),
        ("GET", "requests"): lambda s, _: json_reply(200, {"value": [r._asdict() for r in s.requests]}),
        ("GET", "stats"): lambda s, _: json_reply(200, s.stats()),
        ("GET", "faults"): lambda s, _: json_reply(200, {"value": [f.to_dict() for f in s.faults]}),
        ("GET", "config"): lambda s, _: json_reply(200, _config(s)),
        ("POST", "contacts"): _add_contact,
        ("POST", "workstreams"): _add_workstream,
        ("POST", "faults"): _add_fault,
        ("DELETE", "faults"): lambda s, _: _done(s.clear_faults()),
        ("POST", "reset"): lambda s, _: _done(s.reset()),
        ("POST", "expire-tokens"): lambda s, _: _done(s.expire_tokens()),
        ("POST", "config"): _set_config,
        ("POST", "seed-demo"): _seed_demo,
    }
    handler = routes.get((method, name))
    if handler is None:
        known = ", ".join(f"{m} /_sim/{n}" for m, n in routes)
        return json_reply(404, {"error": {"code": "sim", "message": f"unknown admin route; known: {known}"}})
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return handler(sim, data)


def _done(_: None) -> Reply:
    return Reply(204, b"", content_type=None)


def _add_contact(sim: DataverseSimulator, data: dict[str, Any]) -> Reply:
    unknown = sorted(set(data) - _CONTACT_FIELDS)
    if unknown:
        raise ValueError(f"unknown contact fields: {', '.join(unknown)}")
    return json_reply(201, {"contactid": sim.add_contact(**data)})


def _add_workstream(sim: DataverseSimulator, data: dict[str, Any]) -> Reply:
    workstream_id = sim.add_workstream(data.get("workstream_id"), data.get("name", "SMS workstream"))
    return json_reply(201, {"msdyn_liveworkstreamid": workstream_id})


def _add_fault(sim: DataverseSimulator, data: dict[str, Any]) -> Reply:
    sim.add_fault(FaultRule.from_dict(data))
    return json_reply(201, {"faults": len(sim.faults)})


def _config(sim: DataverseSimulator) -> dict[str, Any]:
    return {name: getattr(sim, name) for name in sorted(_CONFIG_FIELDS)}


def _set_config(sim: DataverseSimulator, data: dict[str, Any]) -> Reply:
    unknown = sorted(set(data) - _CONFIG_FIELDS)
    if unknown:
        raise ValueError(f"unknown settings: {', '.join(unknown)}")
    for name, value in data.items():
        if value is not None and not isinstance(value, int | float):
            raise ValueError(f"{name} must be a number or null")
        if value is None and name != "max_concurrency":
            raise ValueError(f"{name} must be a number")
        setattr(sim, name, value)
    return json_reply(200, _config(sim))


def _seed_demo(sim: DataverseSimulator, _: dict[str, Any]) -> Reply:
    from devtools.dataverse_sim.demo import seed_demo

    return json_reply(201, seed_demo(sim))
