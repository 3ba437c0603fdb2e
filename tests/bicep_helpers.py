"""Reading infra/ with pycep-parser, and evaluating it for given parameters the way ARM would.

The Bicep CLI is not available here, so infra tests cannot `bicep build`. Instead they evaluate
main.bicep (and the modules it calls) for concrete parameter values and ask what that deployment
does: which app settings the Function App gets, which role lands on which resource, which secret
a Key Vault reference resolves to. Values that only exist at deployment time (principal ids,
connection strings) become `Unknown` placeholders that name where they come from; ids, names and
endpoints are built the way Azure builds them, so tests can match them across modules.

Covers the Bicep this repository uses. An unsupported function or operator raises, so a new
construct fails loudly instead of being evaluated wrongly.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from pycep import BicepParser

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"

SUBSCRIPTION_ID = "00000000-0000-0000-0000-00000000aaaa"
TENANT_ID = "00000000-0000-0000-0000-00000000bbbb"
RESOURCE_GROUP = "rg-test"
RESOURCE_GROUP_LOCATION = "eastus2"
_INTERPOLATION = re.compile(r"\$\{([^}]*)\}")


@cache
def parse(relative: str | Path) -> dict:
    """A Bicep file under infra/, parsed once per test session."""
    return BicepParser().parse(file_path=INFRA / relative)


@cache
def _parse_expression(text: str) -> object:
    """One Bicep expression (the inside of `${...}`) as pycep's tree."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "expression.bicep"
        path.write_text(f"var expression = {text}\n")
        return BicepParser().parse(file_path=path)["variables"]["expression"]["value"]


def body(declaration: dict) -> dict:
    """The configuration of a resource or module, unwrapped from loops and conditions."""
    config = declaration["config"]
    while "config" in config and ("condition" in config or "loop_type" in config):
        config = config["config"]
    return config


def decorator(parameter: dict, kind: str) -> object:
    """A parameter's decorator argument (`@minLength(36)` -> 36), True for `@secure()`, else None."""
    matches = [d.get("argument", True) for d in parameter["decorators"] if d["type"] == kind]
    return matches[0] if matches else None


class Unknown(str):
    """A value known only once Azure deploys (`<id-x.principalId>`). Equal placeholders are equal."""

    def attribute(self, name: str) -> Unknown:
        return Unknown(f"{self[:-1]}.{name}>")


class NotDeployed(Exception):
    """A template read a property of a conditional resource or module that is not deployed."""


def arm_string(value: object) -> str:
    """ARM's string(): note that booleans become 'True' and 'False'."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _unique_string(*parts: object) -> str:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()
    return "".join(chr(ord("a") + int(c, 16) % 26) if c.isalpha() else c for c in digest)[:13]


@dataclass
class Resource:
    """One deployed (or `existing`) resource, its body evaluated on demand."""

    template: Template
    symbol: str
    type: str
    name: str
    parent: Resource | None
    existing: bool
    config: dict
    local: dict = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.parent.full_name}/{self.name}" if self.parent else self.name

    @property
    def id(self) -> str:
        kinds = self.type.split("/")
        names = self.full_name.split("/")
        segments = "/".join(f"{kind}/{name}" for kind, name in zip(kinds[1:], names, strict=True))
        return (
            f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{RESOURCE_GROUP}"
            f"/providers/{kinds[0]}/{segments}"
        )

    @cached_property
    def properties(self) -> dict:
        """Everything the declaration sets besides name and parent (properties, scope, tags, ...)."""
        return {
            key: self.template.evaluate(value, self.local)
            for key, value in self.config.items()
            if key not in ("name", "parent", "dependsOn")
        }

    def runtime(self, path: list[str]) -> object:
        """`<resource>.properties.<path>` as Azure would answer it."""
        joined = ".".join(path)
        if self.type == "Microsoft.KeyVault/vaults" and joined == "vaultUri":
            return f"https://{self.name}.vault.azure.net/"
        if self.type == "Microsoft.Storage/storageAccounts" and path[0] == "primaryEndpoints":
            return f"https://{self.name}.{path[1]}.core.windows.net/"
        if self.type == "Microsoft.Web/sites" and joined == "defaultHostName":
            return f"{self.name}.azurewebsites.net"
        return Unknown(f"<{self.full_name}.{joined}>")


class Template:
    """One Bicep file evaluated for given parameter values (a module call is another Template)."""

    def __init__(self, relative: str, parameters: Mapping[str, object]) -> None:
        self.relative = relative
        self.tree = parse(relative)
        declared = self.tree.get("parameters", {})
        unknown = set(parameters) - set(declared)
        if unknown:
            raise TypeError(f"{relative}: no parameter {sorted(unknown)}")
        missing = {n for n, p in declared.items() if p["default"] is None and n not in parameters}
        if missing:
            raise TypeError(f"{relative}: required parameters not set: {sorted(missing)}")
        self.given = dict(parameters)
        self._memo: dict[str, object] = {}

    # -- symbols ----------------------------------------------------------------------------

    def symbol(self, name: str) -> object:
        if name not in self._memo:
            self._memo[name] = self._resolve(name)
        return self._memo[name]

    def _resolve(self, name: str) -> object:
        tree = self.tree
        if name in tree.get("parameters", {}):
            if name in self.given:
                return self.given[name]
            return self.evaluate(tree["parameters"][name]["default"], {})
        if name in tree.get("variables", {}):
            return self.evaluate(tree["variables"][name]["value"], {})
        if name in tree.get("resources", {}):
            return self._declare(name, tree["resources"][name], self._resource)
        if name in tree.get("modules", {}):
            return self._declare(name, tree["modules"][name], self._module)
        raise KeyError(name)

    def is_symbol(self, name: str) -> bool:
        return any(
            name in self.tree.get(kind, {}) for kind in ("parameters", "variables", "resources", "modules")
        )

    def _declare(self, name: str, declaration: dict, build: Callable[[str, dict, dict], object]) -> object:
        """A resource or module: None when its condition is false, a list when it loops."""
        config = declaration["config"]
        if "loop_type" in config:
            detail = config["loop_type"]["detail"]
            items = self.evaluate(detail["array_name"], {})
            built = []
            for index, item in enumerate(items):
                local = {detail["item_name"]: item}
                if detail.get("index_name"):
                    local[detail["index_name"]] = index
                inner = config["config"]
                if config.get("condition") is not None and not self.evaluate(config["condition"], local):
                    continue
                built.append(build(name, unwrap(inner), local))
            return built
        if "condition" in config and "config" in config:
            if not self.evaluate(config["condition"], {}):
                return None
            config = config["config"]
        return build(name, config, {})

    def _resource(self, name: str, config: dict, local: dict) -> Resource:
        declaration = self.tree["resources"][name]
        parent = self.evaluate(config["parent"], local) if "parent" in config else None
        return Resource(
            template=self,
            symbol=name,
            type=declaration["type"],
            name=self.evaluate(config["name"], local),
            parent=parent,
            existing=declaration["existing"],
            config=config,
            local=local,
        )

    def _module(self, name: str, config: dict, local: dict) -> Template:
        path = self.tree["modules"][name]["detail"]["path"]
        relative = str(Path(self.relative).parent / path)
        parameters = {key: self.evaluate(value, local) for key, value in config.get("params", {}).items()}
        return Template(relative, parameters)

    # -- results ----------------------------------------------------------------------------

    def output(self, name: str) -> object:
        return self.evaluate(self.tree["outputs"][name]["value"], {})

    @property
    def outputs(self) -> dict[str, object]:
        return {name: self.output(name) for name in self.tree.get("outputs", {})}

    def modules(self) -> Iterator[Template]:
        """This template and every module it deploys, depth first."""
        yield self
        for name in self.tree.get("modules", {}):
            value = self.symbol(name)
            for module in value if isinstance(value, list) else [value]:
                if module is not None:
                    yield from module.modules()

    def resources(self, type_: str | None = None, *, existing: bool = False) -> list[Resource]:
        """Resources this deployment creates (or, with existing=True, only refers to), of a type."""
        found = []
        for template in self.modules():
            for name in template.tree.get("resources", {}):
                value = template.symbol(name)
                for resource in value if isinstance(value, list) else [value]:
                    if resource is None or resource.existing != existing:
                        continue
                    if type_ is None or resource.type == type_:
                        found.append(resource)
        return found

    # -- expressions ------------------------------------------------------------------------

    def evaluate(self, node: object, local: dict) -> Any:
        if node is None or isinstance(node, bool | int | float):
            return node
        if isinstance(node, list):
            return [self.evaluate(item, local) for item in node]
        if isinstance(node, str):
            return self._string(node, local)
        # An object literal may have a key named "operator" (alert criteria): pycep's own nodes
        # are a single key holding a dict with a "type".
        wrapper = next(iter(node)) if len(node) == 1 else None
        if wrapper == "operator" and isinstance(node["operator"], dict) and "type" in node["operator"]:
            return self._operator(node["operator"], local)
        if wrapper == "function" and isinstance(node["function"], dict) and "type" in node["function"]:
            return self._function(node["function"], local)
        if set(node) == {"loop_type", "condition", "config"}:
            detail = node["loop_type"]["detail"]
            results = []
            for index, item in enumerate(self.evaluate(detail["array_name"], local)):
                inner = {**local, detail["item_name"]: item}
                if detail.get("index_name"):
                    inner[detail["index_name"]] = index
                results.append(self.evaluate(node["config"], inner))
            return results
        return {
            self._literal(key.strip("'"), local): self.evaluate(value, local) for key, value in node.items()
        }

    def _string(self, text: str, local: dict) -> Any:
        # pycep writes an identifier and a string literal the same way: a name in scope wins.
        if text in local:
            return local[text]
        if self.is_symbol(text):
            return self.symbol(text)
        return self._literal(text, local)

    def _literal(self, text: str, local: dict) -> str:
        """A string literal (or an object key), with its ${...} interpolations evaluated."""
        literal = text.replace("\\'", "'")
        return _INTERPOLATION.sub(
            lambda m: arm_string(self.evaluate(_parse_expression(m.group(1)), local)), literal
        )

    def _operator(self, operator: dict, local: dict) -> Any:
        kind, operands = operator["type"], operator["operands"]
        if kind == "conditional":
            # Like ARM's if(): only the branch taken is evaluated.
            taken = "true_value" if self.evaluate(operands["condition"], local) else "false_value"
            return self.evaluate(operands[taken], local)
        if kind == "not":
            return not self.evaluate(operands["bool_value"], local)
        if kind == "property_accessor":
            base = self.evaluate(operands["operand_1"], local)
            return self._access(base, self._path(operands["operand_2"], local))
        if kind == "index_accessor":
            base = self.evaluate(operands["operand_1"], local)
            index = self.evaluate(operands["operand_2"], local)
            if base is None:
                raise NotDeployed(f"{self.relative}: indexes a resource that is not deployed")
            return base[index]
        if kind in ("equals", "not_equals"):
            same = self.evaluate(operands["operand_1"], local) == self.evaluate(operands["operand_2"], local)
            return same if kind == "equals" else not same
        raise NotImplementedError(f"{self.relative}: operator {kind}")

    def _path(self, node: object, local: dict) -> list[object]:
        """The right-hand side of a.b.c[i] as a list of property names and indexes."""
        if isinstance(node, str):
            return [node]
        operator = node["operator"]
        if operator["type"] == "property_accessor":
            return self._path(operator["operands"]["operand_1"], local) + self._path(
                operator["operands"]["operand_2"], local
            )
        if operator["type"] == "index_accessor":
            return [
                *self._path(operator["operands"]["operand_1"], local),
                [self.evaluate(operator["operands"]["operand_2"], local)],
            ]
        raise NotImplementedError(f"{self.relative}: accessor {operator['type']}")

    def _access(self, base: object, path: list[object]) -> Any:
        while path:
            step, *path = path
            if base is None:
                raise NotDeployed(f"{self.relative}: reads {step} of something not deployed")
            if isinstance(step, list):  # an index
                base = base[step[0]]
            elif isinstance(base, Template):
                if step != "outputs":
                    raise NotImplementedError(f"module property {step}")
                name, *path = path
                base = base.output(name)
            elif isinstance(base, Resource):
                if step == "id":
                    base = base.id
                elif step == "name":
                    base = base.name
                elif step == "properties":
                    names = [p for p in path if isinstance(p, str)]
                    return base.runtime(names)
                else:
                    base = base.properties[step]
            elif isinstance(base, Unknown):
                base = base.attribute(str(step))
            elif isinstance(base, dict):
                base = base[step]
            else:
                raise TypeError(f"{self.relative}: cannot read {step} of {base!r}")
        return base

    def _function(self, function: dict, local: dict) -> Any:
        kind = function["type"]
        raw = [value for value in function.get("parameters", {}).values() if value is not None]
        if kind in ("filter", "map"):
            items = self.evaluate(raw[0], local)
            lambda_ = raw[1]["detail"]
            apply = lambda item: self.evaluate(lambda_["expression"], {**local, lambda_["var_1"]: item})  # noqa: E731
            return [i for i in items if apply(i)] if kind == "filter" else [apply(i) for i in items]
        args = [self.evaluate(value, local) for value in raw]
        simple: dict[str, Callable[..., Any]] = {
            "empty": lambda x: x in (None, "", [], {}),
            "string": arm_string,
            "int": int,
            "bool": lambda x: x if isinstance(x, bool) else str(x).lower() == "true",
            "json": json.loads,
            "length": len,
            "contains": lambda container, item: item in container,
            "concat": lambda *parts: (
                [x for part in parts for x in part]
                if isinstance(parts[0], list)
                else "".join(map(str, parts))
            ),
            "union": lambda *parts: {k: v for part in parts for k, v in part.items()},
            "items": lambda obj: [{"key": k, "value": v} for k, v in sorted(obj.items())],
            "take": lambda value, count: value[:count],
            "to_lower": str.lower,
            "replace": lambda text, old, new: text.replace(old, new),
            "unique_string": _unique_string,
            "guid": lambda *parts: str(uuid.uuid5(uuid.NAMESPACE_URL, "|".join(map(str, parts)))),
            "subscription": lambda: {
                "id": f"/subscriptions/{SUBSCRIPTION_ID}",
                "subscriptionId": SUBSCRIPTION_ID,
            },
            "resource_group": lambda: {
                "id": f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{RESOURCE_GROUP}",
                "name": RESOURCE_GROUP,
                "location": RESOURCE_GROUP_LOCATION,
            },
            "tenant": lambda: {"tenantId": TENANT_ID},
            "subscription_resource_id": lambda type_, *names: (
                f"/subscriptions/{SUBSCRIPTION_ID}/providers/{type_}/{'/'.join(names)}"
            ),
        }
        if kind not in simple:
            raise NotImplementedError(f"{self.relative}: function {kind}")
        return simple[kind](*args)


def unwrap(config: dict) -> dict:
    while "config" in config and ("condition" in config or "loop_type" in config):
        config = config["config"]
    return config


def deploy(**parameters: object) -> Template:
    """main.bicep evaluated for these parameters (the required ones default to a test deployment).

    Cached per parameter set: a Template only memoises what it evaluated, so sharing one is safe.
    """
    return _deploy(json.dumps(parameters, sort_keys=True))


@cache
def _deploy(parameters_json: str) -> Template:
    parameters = json.loads(parameters_json)
    required = {
        "namePrefix": "handoff",
        "alertEmail": "oncall@example.com",
        "dataverseUrl": "https://contoso.crm.dynamics.com",
        "defaultQueueId": "11111111-1111-1111-1111-111111111111",
        "opencxApiKey": "ocx-test-api-key",
    }
    return Template("main.bicep", {**required, **parameters})
