"""Reading infra/ with pycep-parser: what every infra test needs (tests/ is on sys.path)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pycep import BicepParser

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"


@cache
def parse(relative: str) -> dict:
    """A Bicep file under infra/, parsed once per test session."""
    return BicepParser().parse(file_path=INFRA / relative)


def body(declaration: dict) -> dict:
    """The configuration of a resource or module, unwrapped from loops and conditions."""
    config = declaration["config"]
    while "config" in config and ("condition" in config or "loop_type" in config):
        config = config["config"]
    return config


def render(expression: object) -> str:
    """A pycep expression back in Bicep-like text, for comparing wiring (a.b.c, a[i], !x, f(x, y))."""
    if isinstance(expression, dict) and "operator" in expression:
        operator = expression["operator"]
        operands = [render(o) for o in operator["operands"].values()]
        if operator["type"] == "property_accessor":
            return ".".join(operands)
        if operator["type"] == "index_accessor":
            return f"{operands[0]}[{operands[1]}]"
        if operator["type"] == "not":
            return f"!{operands[0]}"
        return f"{operator['type']}({', '.join(operands)})"
    if isinstance(expression, dict) and "function" in expression:
        function = expression["function"]
        arguments = [render(a) for a in function.get("parameters", {}).values() if a is not None]
        return f"{function['type']}({', '.join(arguments)})"
    return str(expression)
