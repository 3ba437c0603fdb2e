"""Who the caller is (WhoAmI) and which privileges a user holds (RetrieveUserPrivileges).

Shapes: "Use Web API functions" (powerapps-docs .../webapi/use-web-api-functions.md): WhoAmI's
`{BusinessUnitId, UserId, OrganizationId}`; RetrieveUserPrivileges' `RolePrivileges`, each
`{Depth: "Global", PrivilegeId, BusinessUnitId, PrivilegeName}` (the RolePrivilege complex type).
Names: `prv` + Create/Read/Write/... + the table's SchemaName (prvAppendToQueue, prvReadQueue in
queue-entities.md); for the Omnichannel tables the lower-case logical name (prvCreatemsdyn_ocliveworkitem),
a reading chosen here as the docs list no such name verbatim. AddToQueue needs prvAppendToQueue.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping

from shared.dynamics.privileges import PRIVILEGE_NAMES

APP_USER_ID = "6a1b2c3d-0000-4000-8000-00000000a11e"  # WhoAmI's UserId: the bridge's application user
BUSINESS_UNIT_ID = "6a1b2c3d-0000-4000-8000-0000000000b0"
ORGANIZATION_ID = "6a1b2c3d-0000-4000-8000-0000000000a0"
DEPTHS = ("Basic", "Local", "Deep", "Global")  # the PrivilegeDepth enum, serialised by name
_PRIVILEGE_NAMESPACE = uuid.UUID("5c0ffee0-0000-4000-8000-000000000001")

# The app's one list (shared/dynamics/privileges.py), held at Global by the application user by default.
BRIDGE_PRIVILEGES: tuple[str, ...] = PRIVILEGE_NAMES


def privilege_id(name: str) -> str:
    """A stable PrivilegeId per name, so tests can compare answers across runs."""
    return str(uuid.uuid5(_PRIVILEGE_NAMESPACE, name))


def normalise(privileges: Iterable[str] | Mapping[str, str]) -> dict[str, str]:
    """{name: depth} from names (Global) or a name->depth mapping; a bad depth is a ValueError."""
    pairs = privileges.items() if isinstance(privileges, Mapping) else ((n, "Global") for n in privileges)
    result: dict[str, str] = {}
    for name, depth in pairs:
        if not isinstance(name, str) or not name.startswith("prv"):
            raise ValueError(f"privilege names start with 'prv', got {name!r}")
        if depth not in DEPTHS:
            raise ValueError(f"depth must be one of {', '.join(DEPTHS)}, got {depth!r}")
        result[name] = depth
    return result


def role_privileges(held: Mapping[str, str], only: str | None = None) -> list[dict[str, str]]:
    """The RolePrivileges array: every held privilege, or just `only` when the user holds it."""
    names = sorted(held) if only is None else [only] if only in held else []
    fields = ("Depth", "PrivilegeId", "BusinessUnitId", "PrivilegeName")
    return [dict(zip(fields, (held[n], privilege_id(n), BUSINESS_UNIT_ID, n), strict=True)) for n in names]
