"""The `/_sim/` admin routes every simulator shares, and the settings they set: a simulator's Python API
over HTTP for a simulator in another process. Plain JSON (`{"error": ...}`), no auth: a loopback tool."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from devtools.simkit.faults import FaultRule
from devtools.simkit.server import Reply, json_reply

Route = Callable[[Any, dict[str, Any]], Reply]


def done(_: object = None) -> Reply:
    return Reply(204, b"", content_type=None)


def common_routes(rule: type[FaultRule]) -> dict[tuple[str, str], Route]:
    """Records, stats, faults (rules of `rule`'s class), hosted files and reset."""

    def add_fault(sim: Any, data: dict[str, Any]) -> Reply:
        sim.add_fault(rule.from_dict(data))
        return json_reply(201, {"faults": len(sim.faults)})

    return {
        ("GET", "requests"): lambda s, _: json_reply(200, {"value": [r._asdict() for r in s.requests]}),
        ("GET", "stats"): lambda s, _: json_reply(200, s.stats()),
        ("GET", "faults"): lambda s, _: json_reply(200, {"value": [f.to_dict() for f in s.faults]}),
        ("GET", "files"): lambda s, _: json_reply(200, {"value": s.files.listing()}),
        ("POST", "faults"): add_fault,
        ("DELETE", "faults"): lambda s, _: done(s.clear_faults()),
        ("POST", "reset"): lambda s, _: done(s.reset()),
    }


def route(routes: dict[tuple[str, str], Route], sim: Any, method: str, name: str, data: Any) -> Reply:
    """Answer one admin call; an unknown route is a 404 listing the known ones."""
    if (handler := routes.get((method, name))) is None:
        return unknown(f"{m} /_sim/{n}" for m, n in routes)
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return handler(sim, data)


def unknown(known: Iterable[str]) -> Reply:
    return json_reply(404, {"error": f"unknown admin route; known: {', '.join(known)}"})


def configure(target: Any, data: dict[str, Any], names: Iterable[str], prefix: str = "") -> None:
    """Set settings by name, each value None or of its current type (an int widens to a float) and never
    negative; unknown names and wrong types are a ValueError (a 400)."""
    if unknown_names := sorted(f"{prefix}{name}" for name in set(data) - set(names)):
        raise ValueError(f"unknown settings: {', '.join(unknown_names)}")
    for name, value in data.items():
        current = getattr(target, name)
        widening = isinstance(current, float) and isinstance(value, int) and not isinstance(value, bool)
        if None not in (current, value) and type(current) is not type(value) and not widening:
            raise ValueError(f"{prefix}{name} must be a {type(current).__name__}")
        if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
            raise ValueError(f"{prefix}{name} must not be negative")
        setattr(target, name, float(value) if widening else value)
