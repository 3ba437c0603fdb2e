"""The availability answer read case-blind (the docs' table is camelCase, its sample PascalCase),
`0001-01-01` as "during hours", and nothing promised from a 0 or an absent figure."""

from datetime import UTC, datetime

import pytest

from shared.dynamics.availability import custom_context_items, parse_answer, read_result
from shared.platform.http import HttpResult, Transport

SAMPLE = {  # contact-center/includes/cc-availability-response.md, "Sample response"
    "NextTransitionTime": "9999-12-31T23:59:59Z",
    "NumberOfExpertsAvailableInQueue": 5,
    "AverageWaitTimeInSeconds": 45,
    "PositionInQueue": 1,
    "AverageWaitTime": None,
    "StartTimeOfNextOperatingHour": "0001-01-01T00:00:00Z",
    "EndTimeOfNextOperatingHour": "0001-01-01T00:00:00Z",
    "QueueId": "85e55877-f27a-e911-a81a-000d3a1ca610",
    "IsAgentAvailable": True,
    "IsQueueAvailable": True,
}


def test_the_documented_sample():
    answer = parse_answer(SAMPLE)
    assert (answer.known, answer.queue_open, answer.next_opening) == (True, True, None)
    assert (answer.position, answer.average_wait_seconds, answer.experts_available) == (1, 45, 5)
    assert answer.next_transition is None


def test_camel_case_keys_as_the_table_spells_them():
    answer = parse_answer(
        {
            "isQueueAvailable": False,
            "StartTimeOfNextOperatingHour": "2026-12-08T14:00:00Z",
            "positionInQueue": 0,
        }
    )
    assert answer.queue_open is False
    assert answer.next_opening == datetime(2026, 12, 8, 14, tzinfo=UTC)
    assert answer.position is None


def test_zero_and_absent_figures_support_no_estimate():
    answer = parse_answer({"IsQueueAvailable": True, "AverageWaitTimeInSeconds": 0})
    assert (answer.position, answer.average_wait_seconds) == (None, None)


def test_minutes_field_is_used_when_seconds_are_absent():
    assert parse_answer({"IsQueueAvailable": True, "averageWaitTime": 2}).average_wait_seconds == 120


def test_closed_without_a_start_uses_the_next_transition():
    answer = parse_answer({"IsQueueAvailable": False, "NextTransitionTime": "2026-12-08T14:00:00Z"})
    assert answer.next_opening == datetime(2026, 12, 8, 14, tzinfo=UTC)


@pytest.mark.parametrize("status", [400, 401, 404, 405, 429, 500])
def test_every_error_is_unknown_with_its_reason(status):
    answer = read_result(HttpResult(status=status, body={}))
    assert (answer.known, answer.reason, answer.outcome) == (False, f"http_{status}", "unknown")


def test_timeout_and_unreadable_answers_are_unknown():
    assert read_result(HttpResult(status=None, transport=Transport.TIMEOUT)).reason == "timeout"
    assert read_result(HttpResult(status=200, body={"QueueId": "x"})).reason == "unreadable"


def test_context_items_are_a_json_string():
    assert custom_context_items({"channel": "sms", "empty": None}) == (
        '{"channel":{"value":"sms","isDisplayable":true,"datatype":192350000}}'
    )
