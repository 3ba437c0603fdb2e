"""An incident's session files become notes on it (issue 19), through worker.handle against the
Dataverse and OpenCX simulators: each file once under redelivery and faults, a file that may not
cross as a note saying why, the transcript marking where each file was."""

from __future__ import annotations

import base64

from helpers import sample_event
from worker_support import handle, message_for, spy_requeue, status_of

from devtools.dataverse_sim import FaultRule as DvFault
from devtools.opencx_sim import EMAIL_SESSION_ID
from shared.opencx.handoff_message import parse_message

METER = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 100  # ~25 KB


def email_message(handoff_id: str = "h_email_files"):
    return message_for(sample_event("handoff-email-array.json"), handoff_id)


def test_an_email_sessions_photo_becomes_one_note_on_its_incident(bridge_env, dataverse, opencx) -> None:
    opencx.add_message(EMAIL_SESSION_ID, "Here is the meter", files=[("meter.jpg", "image/jpeg", METER)])
    message = email_message()
    assert handle(message) == "created"
    [incident] = dataverse.incidents
    [note] = dataverse.notes
    assert note["object_id"] == incident["incidentid"]
    assert (note["filename"], note["mimetype"]) == ("meter.jpg", "image/jpeg")
    assert base64.b64decode(note["documentbody"]) == METER
    assert "[photo: meter.jpg]" in incident["description"]  # where the file was, in the transcript
    row = status_of(message)
    assert (row["filesAttached"], row["filesRefused"]) == (1, 0)


def test_redelivery_writes_each_note_once_and_fetches_nothing_again(bridge_env, dataverse, opencx) -> None:
    opencx.add_message(
        EMAIL_SESSION_ID,
        "",
        files=[("meter.jpg", "image/jpeg", METER), ("bill.pdf", "application/pdf", b"%PDF-1.4")],
    )
    message = email_message()
    assert handle(message) == "created"
    fetched = opencx.files.gets()
    assert handle(message) == "created"
    assert handle(message) == "created"
    assert len(dataverse.notes) == 2 and len(dataverse.incidents) == 1
    assert opencx.files.gets() == fetched  # a note already there is not fetched again


def test_a_note_write_that_fails_is_retried_and_still_written_once(
    bridge_env, dataverse, opencx, monkeypatch
) -> None:
    spy = spy_requeue(monkeypatch)
    opencx.add_message(EMAIL_SESSION_ID, "", files=[("meter.jpg", "image/jpeg", METER)])
    dataverse.add_fault(DvFault("status", operation="create_note", status=503, retry_after=1, times=1))
    assert handle(email_message()) == "transient"
    assert handle(parse_message(spy.sent[-1].text)) == "created"
    assert len(dataverse.notes) == 1 and len(dataverse.incidents) == 1


def test_a_note_whose_answer_was_lost_is_found_written_not_written_twice(
    bridge_env, dataverse, opencx
) -> None:
    opencx.add_message(EMAIL_SESSION_ID, "", files=[("meter.jpg", "image/jpeg", METER)])
    dataverse.add_fault(DvFault("drop_after_commit", operation="create_note", times=1))
    assert handle(email_message()) == "created"  # the repeat met 412: its own note
    assert len(dataverse.notes) == 1


def test_a_file_over_the_orgs_limit_becomes_a_note_saying_so(bridge_env, dataverse, opencx) -> None:
    dataverse.set_organization(maxuploadfilesize=10_000)  # of the base64 text: 7,500 bytes of file
    opencx.add_message(EMAIL_SESSION_ID, "", files=[("meter.jpg", "image/jpeg", METER)])
    message = email_message()
    assert handle(message) == "created"
    [note] = dataverse.notes
    assert not note.get("documentbody")
    assert note["notetext"].startswith("[photo not forwarded: 25 KB, the limit is 7 KB]")
    assert status_of(message)["filesRefused"] == 1


def test_a_file_on_a_host_no_setting_names_is_not_fetched_and_the_note_says_so(
    bridge_env, dataverse, opencx
) -> None:
    opencx.add_message(EMAIL_SESSION_ID, "", attachments=[{"name": "x.jpg", "size": 10, "type": "image/jpeg",
                                                          "url": "https://files.example.com/x.jpg"}])  # fmt: skip
    assert handle(email_message()) == "created"
    [note] = dataverse.notes
    assert note["notetext"].startswith("[photo not forwarded: its host is not allowed]")


def test_a_file_dynamics_refuses_for_good_becomes_a_note_saying_so(bridge_env, dataverse, opencx) -> None:
    opencx.add_message(EMAIL_SESSION_ID, "", files=[("meter.jpg", "image/jpeg", METER)])
    dataverse.add_fault(DvFault("status", operation="create_note", status=400, times=1))
    message = email_message()
    assert handle(message) == "created"  # the incident is recorded, not dead-lettered for a note
    [note] = dataverse.notes
    assert note["notetext"].startswith("[photo not attached: Dynamics refused it]")
    assert status_of(message)["filesRefused"] == 1
