"""A file on an incident as a note, once under redelivery, and the org's limits, against the Dataverse
simulator over loopback HTTP (shared/dynamics/annotation.py)."""

from __future__ import annotations

import base64
import uuid

import pytest

from devtools.dataverse_sim import FaultRule
from shared.dynamics.annotation import (
    DEFAULT_MAX_UPLOAD_BYTES,
    AttachmentLimits,
    attach_note,
    attachment_limits,
    megabytes,
    note_id,
    note_payload,
    parse_blocked,
    refusal,
)
from shared.dynamics.dataverse import dataverse_client
from shared.platform.failure import Failure, FailureKind, Upstream

PHOTO = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@pytest.fixture
def incident(dataverse) -> str:
    contact = dataverse.add_contact(email="ana@example.com")
    incident_id = str(uuid.uuid4())
    response = dataverse_client().post(
        "incidents",
        "create_incident",
        {
            "incidentid": incident_id,
            "title": "Damaged parcel",
            "customerid_contact@odata.bind": f"/contacts({contact})",
        },
    )
    assert response.status == 204
    return incident_id


def attach(incident_id: str, key: str, body: str | bytes = base64.b64encode(PHOTO), name: str = "parcel.png"):
    return attach_note(
        dataverse_client(), incident_id, key, filename=name, mimetype="image/png", documentbody=body,
        subject="Photo from the customer", notetext="Sent in the conversation at 10:02",
    )  # fmt: skip


def test_a_file_becomes_one_note_on_its_incident(dataverse, incident):
    key = f"{incident}|item-1|att-1"
    outcome = attach(incident, key)
    assert outcome.ok and not outcome.existed and outcome.note_id == note_id(key)
    (note,) = dataverse.notes
    assert note["annotationid"] == note_id(key) and note["object_id"] == incident
    assert (note["filename"], note["mimetype"], note["isdocument"]) == ("parcel.png", "image/png", True)
    assert note["filesize"] == len(PHOTO) and base64.b64decode(note["documentbody"]) == PHOTO
    assert note["objecttypecode"] == "incident"
    sent = dataverse.requests[-1]
    assert (sent.method, sent.operation, sent.headers.get("if-none-match")) == ("PATCH", "create_note", "*")


def test_redelivery_meets_its_own_note_and_changes_nothing(dataverse, incident):
    key = f"{incident}|item-1|att-1"
    assert attach(incident, key).ok
    again = attach(incident, key, base64.b64encode(b"another file"))  # even a different body: never updated
    assert again.ok and again.existed and again.response.status == 412
    (note,) = dataverse.notes
    assert note["filesize"] == len(PHOTO)
    assert dataverse.count_requests("create_note", 412) == 1


@pytest.mark.parametrize("code", ["", "0x80040237"])
def test_the_412_decides_whatever_its_code(dataverse, incident, code):
    dataverse.duplicate_code = code
    assert attach(incident, "k").ok and attach(incident, "k").existed


def test_a_lost_answer_is_repeated_safely(dataverse, incident):
    dataverse.add_fault(FaultRule("drop_after_commit", operation="create_note", times=1))
    outcome = attach(incident, "k")  # the client's inline retry meets the committed note
    assert outcome.ok and outcome.existed and len(dataverse.notes) == 1


def test_two_files_of_one_message_are_two_notes(dataverse, incident):
    assert attach(incident, f"{incident}|item-1|att-1").ok and attach(incident, f"{incident}|item-1|att-2").ok
    assert len(dataverse.notes) == 2


def test_str_and_bytes_bodies_are_the_same_note():
    text = base64.b64encode(PHOTO).decode()
    args = {"subject": "s", "notetext": "", "filename": "a.png", "mimetype": "image/png"}
    assert note_payload("i", documentbody=text, **args) == note_payload(
        "i", documentbody=text.encode(), **args
    )
    assert note_payload("i", documentbody=text, **args)["documentbody"] is text  # used as given, not copied


def test_a_missing_incident_is_refused_not_retried(dataverse):
    outcome = attach(str(uuid.uuid4()), "k")
    assert outcome.failure is not None and outcome.failure.kind is FailureKind.REFUSED
    assert outcome.failure.status == 404 and dataverse.notes == []


def test_a_throttled_write_is_a_throttled_failure(dataverse, incident):
    dataverse.add_fault(FaultRule("status", operation="create_note", status=429, retry_after=3, times=1))
    outcome = attach(incident, "k")
    assert (
        outcome.failure is not None
        and outcome.failure.kind is FailureKind.THROTTLED
        and outcome.failure.retryable
    )


def test_over_the_org_limit_is_dataverses_documented_error(dataverse, incident):
    dataverse.set_organization(maxuploadfilesize=1000)
    outcome = attach(incident, "k", base64.b64encode(b"x" * 751))  # 1004 characters of base64
    assert outcome.failure is not None and outcome.failure.code == "0x80044a02"
    assert outcome.failure.kind is FailureKind.REFUSED and dataverse.notes == []
    assert attach(incident, "k", base64.b64encode(b"x" * 750)).ok  # 1000 characters: at the limit


def test_a_blocked_extension_is_dataverses_documented_error(dataverse, incident):
    outcome = attach(incident, "k", name="setup.EXE")
    assert outcome.failure is not None and outcome.failure.code == "0x80043e09" and dataverse.notes == []


def test_limits_are_read_from_the_organization(dataverse):
    limits = attachment_limits(dataverse_client())
    assert isinstance(limits, AttachmentLimits)
    assert (
        limits.max_upload_bytes == DEFAULT_MAX_UPLOAD_BYTES
        and {"exe", "js", "svg"} <= limits.blocked_extensions
    )
    dataverse.set_organization(maxuploadfilesize=10_485_760, blockedattachments="zip; .PDF")
    assert attachment_limits(dataverse_client()) == AttachmentLimits(10_485_760, frozenset({"zip", "pdf"}))
    request = dataverse.requests[-1]
    assert request.query == {"$select": "maxuploadfilesize,blockedattachments"}


def test_unreadable_limits_are_a_failure(dataverse):
    dataverse.add_fault(FaultRule("status", operation="organization_get", status=403, times=1))
    failure = attach_limits_failure()
    assert (
        failure.upstream is Upstream.DATAVERSE
        and failure.kind is FailureKind.REFUSED
        and failure.status == 403
    )


def attach_limits_failure() -> Failure:
    result = attachment_limits(dataverse_client())
    assert isinstance(result, Failure)
    return result


def test_refusal_is_decided_before_sending_on_the_base64_size():
    limits = AttachmentLimits(DEFAULT_MAX_UPLOAD_BYTES, parse_blocked("exe;js"))
    assert limits.max_file_bytes == 3_932_160  # 5 MB of base64 holds a 3.75 MB file
    assert refusal("photo.jpg", 3_932_160, limits) is None
    assert refusal("photo.jpg", 3_932_161, limits) is not None
    assert refusal("scan.pdf", 7_549_747, limits) == "7.2 MB, the limit is 3.8 MB"
    assert refusal("tool.JS", 10, limits) == ".js files are blocked in Dynamics"
    assert refusal("README", 10, limits) is None
    assert refusal("big.pdf", 7_549_747, AttachmentLimits(20_000_000)) is None
    assert megabytes(5_242_880) == "5 MB"


def test_parse_blocked_is_lenient():
    assert parse_blocked(None) == frozenset() and parse_blocked("") == frozenset()
    assert parse_blocked(" exe ;;.Bat;") == frozenset({"exe", "bat"})


def test_unread_limits_are_a_new_environments():
    """A caller that could not read the org refuses no less than a new environment would."""
    assert refusal("setup.exe", 10, AttachmentLimits()) == ".exe files are blocked in Dynamics"
    assert refusal("scan.pdf", 4_000_000, AttachmentLimits()) is not None  # 3.8 MB over a 3.75 MB limit
