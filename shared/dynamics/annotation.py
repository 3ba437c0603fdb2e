"""A file on an incident as a note (`annotation`), written once however often the work is redelivered.

Sources (Microsoft Learn, Dataverse):
- "annotation EntityType" (webapi/reference/annotation): `subject`, `notetext`, `filename`,
  `mimetype`, `documentbody` (the file as base64 text), `isdocument`, and the single-valued
  navigation property `objectid_incident` that binds the note to its case.
- "Use file data with Attachment and Note records" (attachment-annotation-files.md): the limit is
  `organization.maxuploadfilesize`, 5,242,880 bytes by default, measured on the BASE64 text; over it
  Dataverse answers `0x80044a02` "Attachment file size is too big.".
- "Files and images overview" (files-images-overview.md): `organization.blockedattachments`, a
  semicolon list of extensions; a blocked one is `0x80043e09` AttachmentBlocked.
- "Upsert a table row" / "Prevent update in upsert" (update-delete-entities-using-web-api.md,
  perform-conditional-operations-using-web-api.md): `PATCH annotations(<id>)` with
  `If-None-Match: *` creates the row or answers 412 when it exists, so a redelivery that meets
  its own note is done, and never overwrites it.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import Any

from shared.dynamics.columns import cut
from shared.dynamics.dataverse import DataverseClient, DataverseResponse
from shared.media.refs import megabytes
from shared.platform.failure import Failure, FailureKind, Upstream
from shared.platform.json_body import Embedded

ENTITY_SET = "annotations"
INCIDENT_BIND = "objectid_incident@odata.bind"
DEFAULT_MAX_UPLOAD_BYTES = 5_242_880  # of the base64 text (organization.maxuploadfilesize)
# organization.blockedattachments as a new environment has it ("Files and images overview").
DEFAULT_BLOCKED_ATTACHMENTS = (
    "ade;adp;app;asa;ashx;asmx;asp;bas;bat;cdx;cer;chm;class;cmd;com;config;cpl;crt;csh;dll;exe;fxp;hlp;hta;"
    "htr;htw;ida;idc;idq;inf;ins;isp;its;jar;js;jse;ksh;lnk;mad;maf;mag;mam;maq;mar;mas;mat;mau;mav;maw;mda;"
    "mdb;mde;mdt;mdw;mdz;msc;msh;msh1;msh1xml;msh2;msh2xml;mshxml;msi;msp;mst;ops;pcd;pif;prf;prg;printer;pst;"
    "reg;rem;scf;scr;sct;shb;shs;shtm;shtml;soap;stm;tmp;url;vb;vbe;vbs;vsmacros;vss;vst;vsw;ws;wsc;wsf;wsh;svg"
)
SUBJECT_MAX, FILENAME_MAX, MIMETYPE_MAX, NOTETEXT_MAX = 500, 255, 256, 100_000  # annotation reference
# Fixed: changing it would give a redelivered file a new note id, so a second note.
NOTE_NAMESPACE = uuid.UUID("9b0c4d7e-5a1f-4e2b-8c3d-6f7a8b9c0d1e")


def note_id(key: str) -> str:
    """The note's id, derived from the caller's key (`<incident id>|<history item id>|<attachment id>`)."""
    return str(uuid.uuid5(NOTE_NAMESPACE, key))


# ------------------------------------------------------------------ limits


def parse_blocked(text: object) -> frozenset[str]:
    """`"exe;js;.bat"` -> {"exe", "js", "bat"}; anything else -> nothing blocked."""
    if not isinstance(text, str):
        return frozenset()
    return frozenset(part.strip().lstrip(".").lower() for part in text.split(";") if part.strip(" ."))


@dataclass(frozen=True)
class AttachmentLimits:
    """The org's attachment settings; until read, a new environment's (so an unread org refuses no less)."""

    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES  # of the base64 text
    blocked_extensions: frozenset[str] = parse_blocked(DEFAULT_BLOCKED_ATTACHMENTS)  # lower case, no dot

    @property
    def max_file_bytes(self) -> int:
        """The largest file whose base64 text fits: 3 bytes become 4 characters."""
        return self.max_upload_bytes // 4 * 3


def attachment_limits(client: DataverseClient) -> AttachmentLimits | Failure:
    """`GET organizations?$select=maxuploadfilesize,blockedattachments` (the one organization row)."""
    response = client.get(
        "organizations", "attachment_limits", {"$select": "maxuploadfilesize,blockedattachments"}
    )
    if not response.ok:
        return Failure.of(Upstream.DATAVERSE, response)
    rows = response.body.get("value")
    row = rows[0] if isinstance(rows, list) and rows and isinstance(rows[0], dict) else None
    if row is None:
        return Failure(
            Upstream.DATAVERSE, FailureKind.MALFORMED, status=response.status,
            message="the organization row is missing",
        )  # fmt: skip
    size = row.get("maxuploadfilesize")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        size = DEFAULT_MAX_UPLOAD_BYTES  # absent or nonsense: the documented default
    return AttachmentLimits(size, parse_blocked(row.get("blockedattachments")))


def base64_length(size: int) -> int:
    return 4 * math.ceil(size / 3)


def refusal(name: str, size: int, limits: AttachmentLimits) -> str | None:
    """Why Dataverse would refuse this file (size in bytes, before base64), or None: decided before
    sending, so a refused file costs no upload and the other side can be told why."""
    extension = name.rsplit(".", 1)[1].strip().lower() if "." in name else ""
    if extension and extension in limits.blocked_extensions:
        return f".{extension} files are blocked in Dynamics"
    if base64_length(size) > limits.max_upload_bytes:
        return f"{megabytes(size)}, the limit is {megabytes(limits.max_file_bytes)}"
    return None


# ------------------------------------------------------------------ the note


@dataclass(frozen=True)
class NoteOutcome:
    note_id: str
    response: DataverseResponse
    existed: bool = False  # an earlier delivery had written it (412 on If-None-Match: *)
    failure: Failure | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


def note_payload(
    incident_id: str,
    *,
    subject: str,
    notetext: str,
    filename: str,
    mimetype: str,
    documentbody: str | bytes | Embedded,
) -> dict[str, Any]:
    """The body, built once: a `bytes` body is decoded once (base64 is ASCII), a `str` one is used
    as it is; nothing else copies the file."""
    body = documentbody.decode("ascii") if isinstance(documentbody, bytes) else documentbody
    # `Embedded`: the fetched file's base64 buffer, spliced into the request without a copy.
    return {
        "subject": cut(subject, SUBJECT_MAX),
        "notetext": cut(notetext, NOTETEXT_MAX),
        "filename": cut(filename, FILENAME_MAX),
        "mimetype": cut(mimetype, MIMETYPE_MAX),
        "isdocument": True,
        "documentbody": body,
        INCIDENT_BIND: f"/incidents({incident_id})",
    }


def attach_note(
    client: DataverseClient,
    incident_id: str,
    key: str,
    *,
    filename: str,
    mimetype: str,
    documentbody: str | bytes | Embedded,
    subject: str,
    notetext: str = "",
) -> NoteOutcome:
    """Create the note with its file on the incident, once: `PATCH annotations(<id>)` with
    `If-None-Match: *`. 2xx: written now; 412: it was already there (done, not a failure).
    Refuse a file with `refusal()` first: a too-large or blocked file is a 400 that no retry mends."""
    payload = note_payload(
        incident_id, subject=subject, notetext=notetext, filename=filename, mimetype=mimetype,
        documentbody=documentbody,
    )  # fmt: skip
    return _create_once(client, key, payload)


def attach_text_note(
    client: DataverseClient, incident_id: str, key: str, *, subject: str, notetext: str
) -> NoteOutcome:
    """A note without a file, once (the same id rule): says why a file of the session is not on
    the case ("[photo not forwarded: 7.2 MB, the limit is 5 MB]")."""
    payload = {"subject": cut(subject, SUBJECT_MAX), "notetext": cut(notetext, NOTETEXT_MAX), "isdocument": False,
               INCIDENT_BIND: f"/incidents({incident_id})"}  # fmt: skip
    return _create_once(client, key, payload)


def _create_once(client: DataverseClient, key: str, payload: dict[str, Any]) -> NoteOutcome:
    """`PATCH annotations(<id>)` with `If-None-Match: *`: 2xx written now, 412 already there."""
    row_id = note_id(key)
    response = client.request(
        "PATCH", f"{ENTITY_SET}({row_id})", "create_note", json=payload, headers={"If-None-Match": "*"}
    )
    if response.ok or response.status == 412:
        return NoteOutcome(row_id, response, existed=response.status == 412)
    return NoteOutcome(row_id, response, failure=Failure.of(Upstream.DATAVERSE, response))
