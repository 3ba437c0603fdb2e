"""The v2 queue message (docs/contract.md section 3): round trip, budget trimming, retries."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from helpers import sample_event
from pydantic import ValidationError

from shared.opencx.handoff_message import (
    DEADLETTER_EMBED_BYTES,
    INGRESS_BUDGET_BYTES,
    MESSAGE_LIMIT_BYTES,
    RETRY_BUDGET_BYTES,
    AttemptRecord,
    build_message,
    fit_to_budget,
    parse_message,
)
from shared.opencx.session import Customer, Enrichment, TranscriptLine
from shared.opencx.webhook import parse_event

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
TRACEPARENT = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"


def message(**data):
    return build_message("h_1", parse_event(sample_event(**data)), NOW, TRACEPARENT)


def enriched(lines: int, text_size: int = 400):
    transcript = [
        TranscriptLine(
            role="customer", text=f"line {i:04d} " + "é" * text_size, at=f"2026-11-25T10:00:{i % 60:02d}Z"
        )
        for i in range(lines)
    ]
    enrichment = Enrichment(
        channel="sms",
        customer=Customer(name="Dana", phone="+14155550123"),
        transcript=transcript,
        historyComplete=True,
    )
    return message().model_copy(update={"enrichment": enrichment})


def test_small_message_is_v2_and_round_trips():
    m = message()
    decoded = json.loads(m.to_json())
    assert decoded["v"] == 2
    assert decoded["handoffId"] == "h_1"
    assert decoded["attempt"] == 0 and decoded["throttled"] == 0
    assert decoded["receivedAt"].startswith("2026-11-25T10:00:00")
    assert decoded["traceparent"] == TRACEPARENT
    assert decoded["event"]["conversation_id"] == "6f1d0c2e-2b8a-4a53-9a51-0c6f3f0e7b21"
    assert "enrichment" not in decoded  # ingress never calls OpenCX
    assert parse_message(m.to_json()) == m


def test_enrichment_round_trips():
    m = enriched(3, 10)
    again = parse_message(m.to_json())
    assert again.enrichment == m.enrichment and again.enrichment.customer.phone == "+14155550123"


def test_big_transcript_drops_oldest_lines_first_and_marks_truncated():
    m = fit_to_budget(enriched(400), RETRY_BUDGET_BYTES)
    assert m.size() <= RETRY_BUDGET_BYTES < MESSAGE_LIMIT_BYTES
    kept = m.enrichment.transcript
    assert m.enrichment.transcriptTruncated
    assert 0 < len(kept) < 400 and kept[-1].text.startswith("line 0399")
    first = int(kept[0].text[5:9])
    assert [int(line.text[5:9]) for line in kept] == list(range(first, 400))
    assert m.enrichment.customer.name == "Dana"  # the customer is never trimmed


def test_a_message_within_budget_is_untouched():
    m = enriched(5, 10)
    assert fit_to_budget(m, RETRY_BUDGET_BYTES) is m
    assert not m.enrichment.transcriptTruncated


def test_huge_summary_is_cut_never_refused():
    m = message()
    big = m.model_copy(update={"event": m.event.model_copy(update={"summary": "\u0001" * 30_000})})
    trimmed = fit_to_budget(big, INGRESS_BUDGET_BYTES)
    assert trimmed.size() <= INGRESS_BUDGET_BYTES
    assert trimmed.event.summaryTruncated and len(trimmed.event.summary) == 2_000


def test_deadletter_embedding_fits_its_budget():
    assert fit_to_budget(enriched(400), DEADLETTER_EMBED_BYTES).size() <= DEADLETTER_EMBED_BYTES


def test_retry_and_throttle_counts_are_kept_apart_and_history_capped():
    m = message()
    for n in range(25):
        record = AttemptRecord(attempt=n, at=NOW, outcome="transient", status=503, message="m" * 300)
        m = m.next_attempt(record, throttled=n % 2 == 1)
    assert (m.attempt, m.throttled) == (13, 12)
    assert len(m.history) == 10 and m.history[-1].attempt == 24
    assert m.size() < MESSAGE_LIMIT_BYTES


def test_next_attempt_keeps_the_enrichment_within_the_retry_budget():
    m = enriched(400).next_attempt(AttemptRecord(attempt=0, at=NOW, outcome="transient"), throttled=False)
    assert m.enrichment is not None and m.enrichment.historyComplete
    assert m.size() <= RETRY_BUDGET_BYTES


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "{}",
        "[]",
        '{"v": 2, "handoffId": "x"}',
        '{"v": 3, "handoffId": "x"}',
        json.dumps({"v": 1, "handoffId": "x", "receivedAt": "2026-11-25T10:00:00Z"}),
    ],
)
def test_invalid_messages_are_refused(raw):
    with pytest.raises(ValidationError):
        parse_message(raw)


def test_every_text_is_bounded_so_any_message_fits_even_with_a_full_history():
    """Review finding: an emoji-heavy session summary, a long customer message and a full attempt
    history once left a message over the queue's limit, so it could be neither retried nor
    dead-lettered."""
    from datetime import UTC, datetime

    from shared.opencx.handoff_message import RETRY_BUDGET_BYTES, AttemptRecord

    big = enriched(lines=5, text_size=300)
    big = big.model_copy(
        update={
            "event": big.event.model_copy(update={"summary": "🙂" * 10_000, "message": "💬" * 6_000}),
            "enrichment": big.enrichment.model_copy(update={"summary": "😀" * 10_000}),
            "history": [
                AttemptRecord(attempt=i, at=datetime.now(UTC), outcome="transient", message="x" * 300)
                for i in range(10)
            ],
        }
    )
    assert big.size() > RETRY_BUDGET_BYTES
    for budget in (RETRY_BUDGET_BYTES, 8 * 1024):
        fitted = fit_to_budget(big, budget)
        assert fitted.size() <= budget
        assert parse_message(fitted.to_json()).handoffId == "h_1"  # still a valid message
