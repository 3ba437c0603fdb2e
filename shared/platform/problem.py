"""RFC 9457 problem+json answers. They name the failing fields and never echo input values."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Protocol

import azure.functions as func

PROBLEM_BASE = "urn:handoff-bridge:problem:"


class FieldProblem(Protocol):
    """One failing field and why (shared.opencx.webhook.FieldError is one); never its value.
    A protocol, so the platform needs no import from the adapters above it."""

    @property
    def field(self) -> str: ...

    @property
    def message(self) -> str: ...


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    kind: str = "about:blank",
    errors: Sequence[FieldProblem] = (),
    headers: dict[str, str] | None = None,
) -> func.HttpResponse:
    body: dict[str, object] = {
        "type": kind if kind == "about:blank" else PROBLEM_BASE + kind,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = [{"field": error.field, "message": error.message} for error in errors]
    return func.HttpResponse(
        json.dumps(body),
        status_code=status,
        mimetype="application/problem+json",
        headers=headers,
    )


def json_response(status: int, body: dict[str, object]) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json")
