"""docs/deploy.md stays in step with what infra/ deploys: variables, outputs, roles, Dataverse privileges."""

from __future__ import annotations

import re

from bicep_helpers import INFRA, ROOT, deploy

from shared.dynamics.privileges import PRIVILEGES, Needed

DOC = (ROOT / "docs" / "deploy.md").read_text()

COLUMNS = ("Create", "Read", "Write", "Delete", "Append", "Append To", "Assign")


def expected_role() -> dict[str, dict[str, str]]:
    """The app's one privilege list (shared/dynamics/privileges.py) as the doc's role table:
    logical name -> column -> depth ("none" where not granted)."""
    role: dict[str, dict[str, str]] = {}
    for privilege in PRIVILEGES:
        columns = role.setdefault(privilege.table, dict.fromkeys(COLUMNS, "none"))
        columns["Append To" if privilege.action == "AppendTo" else privilege.action] = privilege.depth.value
    return role


def privilege_table() -> dict[str, dict[str, str]]:
    """The security role table: logical name -> privilege -> depth."""
    rows: dict[str, dict[str, str]] = {}
    lines = DOC.splitlines()
    header_index = next(i for i, line in enumerate(lines) if line.startswith("| Table | Create |"))
    header = [cell.strip() for cell in lines[header_index].strip("|").split("|")]
    for line in lines[header_index + 2 :]:
        if not line.startswith("|"):
            break
        cells = dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")), strict=True))
        logical_name = re.search(r"`(\w+)`", cells["Table"]).group(1)
        rows[logical_name] = {column: cells[column] for column in COLUMNS}
    return rows


def test_every_environment_variable_and_output_is_documented():
    variables = re.findall(r"readEnvironmentVariable\('(\w+)'", (INFRA / "main.bicepparam").read_text())
    outputs = list(deploy().outputs)
    missing = [name for name in [*variables, *outputs] if f"`{name}`" not in DOC]
    assert variables and outputs and missing == [], f"docs/deploy.md does not explain {missing}"


def test_every_azure_role_the_identity_gets_is_explained():
    names = {
        "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
        "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
        "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
        "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
        "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
    }
    deployed = deploy(webhookSecret="whsec_x", messagingClientSecret="s")
    for assignment in deployed.resources("Microsoft.Authorization/roleAssignments"):
        role = assignment.properties["properties"]["roleDefinitionId"].rsplit("/", 1)[1]
        assert f"| {names[role]} |" in DOC, names[role]
    for queue in deployed.resources("Microsoft.Storage/storageAccounts/queueServices/queues"):
        assert f"`{queue.name}`" in DOC, f"the deployed queue {queue.name} is not described"
    for secret in deployed.resources("Microsoft.KeyVault/vaults/secrets"):
        assert f"`{secret.name}`" in DOC, f"the Key Vault secret {secret.name} is not described"


def test_the_least_privilege_role_is_the_apps_privilege_list():
    """The doc's role table grants exactly what health checks and the simulator grants, at its depth."""
    table, expected = privilege_table(), expected_role()
    assert set(table) == set(expected)
    for table_name, columns in expected.items():
        assert table[table_name] == columns, (
            f"{table_name}: the doc grants {table[table_name]}, the app needs {columns}"
        )
        assert columns["Create"] in ("User", "none"), f"{table_name}: rows it creates are its own"


def test_the_privilege_names_are_the_apps_privilege_list():
    """The names a 403 quotes, per table, are the names health looks for."""
    listed: dict[str, set[str]] = {}
    for line in DOC.splitlines():
        row = re.match(r"\| `(\w+)` \| (`prv.*)\|$", line)
        if row:
            listed[row[1]] = set(re.findall(r"`(prv\w+)`", row[2]))
    expected: dict[str, set[str]] = {}
    for privilege in PRIVILEGES:
        expected.setdefault(privilege.table, set()).add(privilege.name)
    assert listed == expected


def test_the_doc_says_when_a_conditional_privilege_can_be_left_out():
    for privilege in PRIVILEGES:
        if privilege.needed is not Needed.ALWAYS:
            assert f"`{privilege.needed.value}`" in DOC, f"{privilege.name}: say when it may be left out"


def test_the_steps_are_in_order_and_name_their_commands():
    headings = re.findall(r"^## (\d)\. (.+)$", DOC, re.MULTILINE)
    assert [number for number, _ in headings] == [str(n) for n in range(1, 8)]
    titles = " | ".join(title.lower() for _, title in headings)
    for word in ("deploy", "publish", "dataverse", "function key", "opencx", "health", "test handoff"):
        assert word in titles, word
    for command in (
        "az deployment group create",
        "--parameters infra/main.bicepparam",
        "azd up",
        "func azure functionapp publish",
        "pac admin assign-user",
        "az functionapp function keys set",
        "/api/handoffs?code=",
        "az functionapp restart",
    ):
        assert command in DOC, command


def test_the_guide_ends_with_the_go_live_check_after_the_messaging_setup():
    sections = re.findall(r"^## (.+)$", DOC, re.MULTILINE)
    assert sections[-2:] == ["Mode messaging: Dynamics setup", "Go-live check"]
    assert "make golive" in DOC.split("## Go-live check", 1)[1]
