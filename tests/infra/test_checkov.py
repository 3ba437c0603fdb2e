"""checkov --framework bicep passes on infra/, and every skip says why in one line of Bicep.

checkov lives in its own venv (.venv-checkov, built by `make deps`) because it pins an older
pycep-parser than the tests use.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
SKIP = re.compile(r"checkov:skip=([A-Z0-9_]+)(.*)")
JUSTIFIED_SKIP = re.compile(r"^\s*// checkov:skip=(CKV2?_[A-Z]+_\d+): (\S.{19,})$")


@cache
def checkov_report() -> dict:
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV.relative_to(ROOT)} is missing: run `make deps` to build the checkov venv")
    result = subprocess.run(
        [str(CHECKOV), "--framework", "bicep", "-d", str(INFRA), "--output", "json", "--skip-download"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        # checkov phones home for check metadata unless told not to; the result does not depend on it.
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"},
    )
    assert result.stdout.strip(), (
        f"checkov printed nothing (exit {result.returncode}):\n{result.stderr[-2000:]}"
    )
    report = json.loads(result.stdout)
    assert isinstance(report, dict) and "results" in report, (
        f"unexpected checkov output: {result.stdout[:500]}"
    )
    return report


def skip_comments() -> list[tuple[Path, int, str]]:
    found = []
    for path in sorted(INFRA.rglob("*.bicep")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if "checkov:skip" in line:
                found.append((path, number, line))
    return found


def test_checkov_parses_every_bicep_file():
    report = checkov_report()
    assert report["results"]["parsing_errors"] == []
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["resource_count"] >= 30, "checkov saw far fewer resources than infra/ declares"


def test_checkov_finds_nothing_to_fix():
    failed = checkov_report()["results"]["failed_checks"]
    assert failed == [], "\n".join(
        f"{c['check_id']} {c['file_path']} {c['resource']}: {c['check_name']}" for c in failed
    )


def test_checkov_really_checked_the_security_properties():
    passed = {c["check_id"] for c in checkov_report()["results"]["passed_checks"]}
    # storage TLS/HTTPS, key vault purge protection/soft delete, app HTTPS/TLS/FTPS, secure params
    assert {"CKV_AZURE_3", "CKV_AZURE_44", "CKV_AZURE_110", "CKV_AZURE_42", "CKV_AZURE_70"} <= passed
    assert {"CKV_AZURE_15", "CKV_AZURE_78", "CKV_AZURE_131"} <= passed


def test_every_skip_has_a_one_line_justification():
    comments = skip_comments()
    assert comments, "expected the documented skips"
    for path, number, line in comments:
        assert JUSTIFIED_SKIP.match(line), (
            f"{path.relative_to(ROOT)}:{number}: skip without a reason: {line.strip()}"
        )


def test_every_skip_in_the_bicep_is_one_checkov_applied():
    applied = {
        (c["check_id"], Path(c["file_path"]).name, c["check_result"]["suppress_comment"].strip())
        for c in checkov_report()["results"]["skipped_checks"]
    }
    for path, number, line in skip_comments():
        check_id, reason = SKIP.search(line).groups()
        reason = reason.removeprefix(":").strip()
        assert (check_id, path.name, reason) in applied, (
            f"{path.relative_to(ROOT)}:{number}: {check_id} is not skipped by checkov (stale, or outside its resource)"
        )
