"""docs/deploy.md stays in step with infra/: variables, outputs, roles and the Dataverse privileges."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pycep import BicepParser

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "deploy.md").read_text()
MAIN = BicepParser().parse(file_path=ROOT / "infra" / "main.bicep")

PRIVILEGES = ("Create", "Read", "Write", "Delete", "Append", "Append To")
# What the bridge's Dataverse calls need (DESIGN section 4): create the item and its context items
# in one deep insert, bind the item to the workstream and contact, look contacts up. Nothing else.
EXPECTED_PRIVILEGES = {
    "msdyn_ocliveworkitem": {"Create", "Read", "Append", "Append To"},
    "msdyn_ocliveworkitemcontextitem": {"Create", "Read", "Append"},
    "contact": {"Read", "Append To"},
    "msdyn_liveworkstream": {"Read", "Append To"},
}


def privilege_table() -> dict[str, dict[str, str]]:
    """The Dataverse security role table: logical name -> privilege -> depth."""
    rows: dict[str, dict[str, str]] = {}
    lines = DOC.splitlines()
    header_index = next(i for i, line in enumerate(lines) if line.startswith("| Table | Create |"))
    header = [cell.strip() for cell in lines[header_index].strip("|").split("|")]
    for line in lines[header_index + 2 :]:
        if not line.startswith("|"):
            break
        cells = dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")), strict=True))
        logical_name = re.search(r"`(\w+)`", cells["Table"]).group(1)
        rows[logical_name] = {privilege: cells[privilege] for privilege in PRIVILEGES}
    return rows


def test_every_parameter_variable_is_documented():
    variables = re.findall(
        r"readEnvironmentVariable\('(\w+)'", (ROOT / "infra" / "main.bicepparam").read_text()
    )
    assert variables
    for variable in variables:
        assert f"`{variable}`" in DOC, f"docs/deploy.md does not explain {variable}"


@pytest.mark.parametrize("output", sorted(MAIN["outputs"]))
def test_every_output_is_documented(output):
    assert f"`{output}`" in DOC


@pytest.mark.parametrize(
    "role",
    [
        "Storage Blob Data Owner",
        "Storage Queue Data Contributor",
        "Storage Table Data Contributor",
        "Key Vault Secrets User",
        "Monitoring Metrics Publisher",
    ],
)
def test_every_azure_role_is_explained(role):
    assert f"| {role} |" in DOC


def test_the_least_privilege_role_grants_exactly_what_the_calls_need():
    table = privilege_table()
    assert set(table) == set(EXPECTED_PRIVILEGES)
    for table_name, expected in EXPECTED_PRIVILEGES.items():
        granted = {privilege for privilege, depth in table[table_name].items() if depth != "none"}
        assert granted == expected, f"{table_name}: grants {sorted(granted)}, needs {sorted(expected)}"
        for privilege in granted:
            assert table[table_name][privilege] in ("User", "Organization"), f"{table_name} {privilege}"


def test_rows_it_creates_are_only_reachable_at_user_depth():
    table = privilege_table()
    for table_name in ("msdyn_ocliveworkitem", "msdyn_ocliveworkitemcontextitem"):
        assert {depth for depth in table[table_name].values() if depth != "none"} == {"User"}


@pytest.mark.parametrize(
    "command",
    [
        "az deployment group create",
        "--parameters infra/main.bicepparam",
        "azd up",
        "func azure functionapp publish",
        "az functionapp deployment source config-zip",
        "pac admin assign-user",
        "--application-user",
        "az functionapp function keys set",
        "/api/health",
        "az functionapp restart",
    ],
)
def test_the_steps_name_the_commands(command):
    assert command in DOC


def test_steps_are_in_the_issue_order():
    headings = re.findall(r"^## (\d)\. (.+)$", DOC, re.MULTILINE)
    assert [number for number, _ in headings] == [str(n) for n in range(1, 8)]
    titles = " | ".join(title.lower() for _, title in headings)
    for word in ("deploy", "publish", "dataverse", "function key", "opencx", "health", "test handoff"):
        assert word in titles, word
