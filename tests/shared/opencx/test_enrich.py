"""enrich.fetch against the OpenCX simulator: two requests for one page, paging, the page bound,
and what is kept when a page fails (docs/contract.md section 4)."""

from __future__ import annotations

from devtools.opencx_sim import EMAIL_SESSION_ID, SMS_SESSION_ID, FaultRule
from devtools.opencx_sim.contract import history_item
from shared.opencx.client import OpenCXClient
from shared.opencx.enrich import TRANSCRIPT_LINES_MAX, fetch
from shared.platform.failure import FailureKind, Upstream


def client(sim) -> OpenCXClient:
    return OpenCXClient(sim.url, sim.env()["OPENCX_API_KEY"], inline_retry_pauses=())


def seed(sim, session_id: str, lines: int) -> None:
    history = [
        history_item(
            f"line {i:03d}",
            sender_type="contact",
            name="D",
            created_at=f"2026-11-25T10:{i // 60:02d}:{i % 60:02d}Z",
        )
        for i in range(lines)
    ]
    sim.add_session(session_id, channel="sms", phone_number="+14155550123", history=history)


def test_one_page_is_two_requests(opencx):
    fetched = fetch(client(opencx), SMS_SESSION_ID, None, 5)
    assert fetched.failure is None
    enrichment = fetched.enrichment
    assert enrichment.historyComplete and not enrichment.transcriptTruncated
    assert [line.text for line in enrichment.transcript][-1] == "Friday. Can I talk to an agent?"
    assert opencx.stats()["requests"] == 2


def test_several_pages_are_read_in_order(opencx):
    opencx.page_size = 3
    seed(opencx, "s-7", 7)
    fetched = fetch(client(opencx), "s-7", None, 5)
    assert [line.text for line in fetched.enrichment.transcript] == [f"line {i:03d}" for i in range(7)]
    assert opencx.count("list_history") == 3 and fetched.enrichment.pagesRead == 3


def test_page_bound_marks_truncated(opencx):
    opencx.page_size = 2
    seed(opencx, "s-9", 9)
    fetched = fetch(client(opencx), "s-9", None, 2)
    assert opencx.count("list_history") == 2
    assert fetched.enrichment.historyComplete and fetched.enrichment.transcriptTruncated
    assert len(fetched.enrichment.transcript) == 4


def test_transcript_lines_are_bounded(opencx):
    opencx.page_size = 100
    seed(opencx, "s-big", TRANSCRIPT_LINES_MAX + 50)
    fetched = fetch(client(opencx), "s-big", None, 5)
    lines = fetched.enrichment.transcript
    assert len(lines) == TRANSCRIPT_LINES_MAX and fetched.enrichment.transcriptTruncated
    assert lines[-1].text == f"line {TRANSCRIPT_LINES_MAX + 49:03d}"  # the newest are kept


def test_session_failure_returns_nothing_fetched(opencx):
    fetched = fetch(client(opencx), "no-such", None, 5)
    assert fetched.enrichment is None
    assert (fetched.failure.status, fetched.failed_operation) == (404, "get_session")
    assert fetched.failure.kind is FailureKind.GONE and fetched.failure.upstream is Upstream.OPENCX


def test_a_failed_page_keeps_what_was_read_and_resumes(opencx):
    opencx.page_size = 2
    seed(opencx, "s-5", 5)
    opencx.add_fault(FaultRule("slow", operation="list_history", delay=0.01, times=1))
    opencx.add_fault(FaultRule("status", operation="list_history", status=500, times=1))
    first = fetch(client(opencx), "s-5", None, 5)
    assert first.failed_operation == "list_history" and first.failure.status == 500
    assert first.failure.kind is FailureKind.TRANSIENT
    assert first.enrichment.pagesRead == 1 and first.enrichment.nextCursor
    sessions_before = opencx.count("get_session")
    second = fetch(client(opencx), "s-5", first.enrichment, 5)
    assert second.failure is None
    assert [line.text for line in second.enrichment.transcript] == [f"line {i:03d}" for i in range(5)]
    assert opencx.count("get_session") == sessions_before


def test_email_sample_session(opencx):
    fetched = fetch(client(opencx), EMAIL_SESSION_ID, None, 5)
    assert fetched.enrichment.channel == "email"
    assert fetched.enrichment.customer.email == "priya.n@example.com"


def test_newest_first_pages_still_keep_the_newest_lines(opencx):
    opencx.page_size = 100
    opencx.history_order = "newest_first"
    seed(opencx, "s-big-newest", TRANSCRIPT_LINES_MAX + 50)
    fetched = fetch(client(opencx), "s-big-newest", None, 20)
    lines = fetched.enrichment.transcript
    assert len(lines) == TRANSCRIPT_LINES_MAX and fetched.enrichment.transcriptTruncated
    assert [line.text for line in lines[-2:]] == [
        f"line {TRANSCRIPT_LINES_MAX + 48:03d}",
        f"line {TRANSCRIPT_LINES_MAX + 49:03d}",
    ]
