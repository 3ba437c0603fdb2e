import json
from datetime import UTC, datetime

import pytest
from helpers import SAMPLES
from pydantic import ValidationError

from shared.opencx.webhook import parse_handoff_event
from shared.platform.queue_message import (
    INGRESS_BUDGET_BYTES,
    MESSAGE_LIMIT_BYTES,
    AttemptRecord,
    build_message,
    parse_message,
)

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def sms_handoff(**overrides):
    body = json.loads((SAMPLES / "sms-handoff.json").read_text())
    body["data"].update(overrides)
    return parse_handoff_event(body).data


def test_small_message_is_untouched_and_round_trips():
    message = build_message("msg_1", sms_handoff(), NOW, "00-" + "a" * 32 + "-" + "b" * 16 + "-01")
    decoded = json.loads(message.to_json())
    assert decoded["v"] == 1
    assert decoded["handoffId"] == "msg_1"
    assert decoded["attempt"] == 0
    assert decoded["receivedAt"].startswith("2026-11-25T10:00:00")
    assert decoded["traceparent"].startswith("00-")
    assert decoded["handoff"]["customer"]["phone"] == "+14155550123"
    assert len(decoded["handoff"]["transcript"]) == 4
    assert decoded["handoff"]["transcriptTruncated"] is False
    assert parse_message(message.to_json()) == message


def test_big_transcript_drops_oldest_lines_first():
    lines = [{"role": "customer", "text": f"line {i:04d} " + "é" * 400} for i in range(400)]
    message = build_message("msg_2", sms_handoff(transcript=lines), NOW, None)
    size = len(message.to_json().encode())
    assert size <= INGRESS_BUDGET_BYTES < MESSAGE_LIMIT_BYTES
    kept = message.handoff.transcript
    assert message.handoff.transcriptTruncated is True
    assert kept[-1].text.startswith("line 0399")
    assert 0 < len(kept) < 400
    first_kept = int(kept[0].text[5:9])
    assert [int(line.text[5:9]) for line in kept] == list(range(first_kept, 400))
    # as full as the budget allows: one more line would not fit
    assert size + len(lines[first_kept - 1]["text"].encode()) > INGRESS_BUDGET_BYTES


def test_one_huge_line_is_dropped_rather_than_refusing():
    message = build_message(
        "msg_3", sms_handoff(transcript=[{"role": "customer", "text": "x" * 900_000}]), NOW, None
    )
    assert message.size() <= INGRESS_BUDGET_BYTES
    assert message.handoff.transcript == []
    assert message.handoff.transcriptTruncated


def test_huge_metadata_goes_after_the_transcript():
    message = build_message("msg_4", sms_handoff(metadata={"blob": "m" * 200_000}), NOW, None)
    assert message.size() <= INGRESS_BUDGET_BYTES
    assert message.handoff.metadata == {} and message.handoff.metadataTruncated
    assert message.handoff.summary.startswith("Customer wants")


def test_worst_case_summary_is_cut_last():
    message = build_message(
        "msg_5", sms_handoff(summary="\u0001" * 10_000, metadata={"b": "m" * 50_000}), NOW, None
    )
    assert message.size() <= INGRESS_BUDGET_BYTES
    assert message.handoff.summaryTruncated and len(message.handoff.summary) == 2_000


def test_retry_history_is_capped_and_fits():
    message = build_message("msg_6", sms_handoff(), NOW, None)
    for attempt in range(25):
        record = AttemptRecord(
            attempt=attempt, at=NOW, outcome="transient", status=429, code="0x80072322", message="m" * 300
        )
        message = message.next_attempt(record, NOW)
    assert message.attempt == 25
    assert len(message.history) == 10 and message.history[-1].attempt == 24
    assert message.firstAttemptAt == NOW
    assert message.size() < MESSAGE_LIMIT_BYTES


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "{}",
        '{"v": 2, "handoffId": "x"}',
        json.dumps({"v": 1, "handoffId": "x", "receivedAt": "2026-11-25T10:00:00Z"}),
    ],
)
def test_invalid_messages_are_refused(raw):
    with pytest.raises(ValidationError):
        parse_message(raw)
