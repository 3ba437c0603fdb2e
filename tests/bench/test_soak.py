"""The short soak inside `make test`: the same faults (on OpenCX and Dataverse), kill and outage as
`make soak`, fewer handoffs."""

import pytest

from bench.soak import run_soak, verdict


@pytest.mark.timeout(300)
def test_short_soak_loses_nothing_and_duplicates_nothing():
    report = run_soak(count=200, rate=20.0, settle_seconds=90.0)
    print(f"\nshort soak: {report}")
    assert verdict(report) == []
    assert report["accepted"] == 200
    assert report["duplicates"] == 0
    assert report["accounted_for"] == 200 and report["lost"] == 0  # each handoff: its row, or a dead letter
    # A create that committed but whose answer was dropped, then met the injected 400 on its retry,
    # has its row AND a dead letter: counted in both, never missing, never twice in Dynamics.
    assert 200 <= report["created"] + report["dead_lettered"] <= 200 + report["permanent_faults_injected"]
    assert report["incidents"] > 0 and report["work_items"] > 0  # both Dynamics paths were soaked
    assert report["dead_lettered"] <= report["permanent_faults_injected"]
    assert (
        report["duplicates_answered"] >= report["redeliveries"] // 2
    )  # redeliveries mostly met ingress dedup
    assert report["opencx_fault_rate"] >= 0.12, "the OpenCX faults did not fire: the soak proved nothing"
    assert report["dataverse_fault_rate"] >= 0.12, (
        "the Dataverse faults did not fire: the soak proved nothing"
    )
    assert any("SIGKILL" in event for event in report["events"])
    assert any("Azurite stopped" in event for event in report["events"])
    assert report["sender_retries"], "no webhook had to be retried: the outages were not felt"


def test_verdict_names_each_broken_promise():
    broken = {
        "never_accepted": 1,
        "lost": 2,
        "duplicates": 3,
        "dead_lettered_unexpectedly": 1,
        "dead_lettered": 4,
        "permanent_faults_injected": 3,
        "accounted_for": 5,
        "accepted": 7,
    }
    problems = verdict(broken)
    assert len(problems) == 6
    assert any("lost" in p for p in problems) and any("duplicate" in p for p in problems)
