"""The files of an incident's session as notes on the incident (docs/messaging.md, "Pictures and
files"), in both modes: every channel that is not a live chat becomes an incident, and what the
customer sent there (a photo of the meter, a PDF) is on the case beside the transcript that marks
where each file was (`[photo: meter.jpg]`, shared/opencx/session.py).

Each file is one note, once under redelivery: the note's id is derived from the incident, the
history line and the file (shared/dynamics/annotation.py), a note already there is not fetched
again, and a fetch or write that fails fails the step, so the handoff is retried and redoes only the
notes still missing. A file that may not cross (host, type, size, the org's limits) becomes a note
with a text instead of the file: never silently dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shared.dynamics import annotation
from shared.dynamics.dataverse import DataverseClient
from shared.media.fetch import Credential, Keep
from shared.media.obtain import obtain
from shared.media.policy import MediaPolicy
from shared.media.refs import MediaRef, Refusal, RefusalReason, unusable
from shared.opencx.session import TranscriptLine
from shared.platform import telemetry
from shared.platform.failure import Failure
from shared.platform.json_body import Embedded
from shared.platform.retry_policy import Outcome


@dataclass(frozen=True)
class FilesOutcome:
    attached: int = 0  # notes with the file (written now or found from an earlier try)
    refused: int = 0  # notes with a text instead of the file
    failure: Failure | None = None

    def status_fields(self) -> dict[str, object]:
        if not self.attached and not self.refused:
            return {}
        return {"filesAttached": self.attached, "filesRefused": self.refused}


def session_files(transcript: Sequence[TranscriptLine]) -> list[tuple[TranscriptLine, MediaRef]]:
    return [(line, ref) for line in transcript for ref in line.attachments]


def attach_session_files(
    client: DataverseClient,
    incident_id: str,
    transcript: Sequence[TranscriptLine],
    policy: MediaPolicy,
    credential: Credential | None,
    *,
    patient: bool = True,
) -> FilesOutcome:
    """One note per file of the session, each once; `credential`: OpenCX's API key, sent only after
    a plain fetch was refused and only to OpenCX's own host (shared/media/fetch.py). `patient`
    False (the handoff was tried FILE_TRIES times): a file whose host does not answer, or that
    Dataverse refuses for good, becomes a note saying so instead of failing the handoff."""
    found = session_files(transcript)
    if not found:
        return FilesOutcome()
    limits = annotation.attachment_limits(client)
    if isinstance(limits, Failure):
        limits = annotation.AttachmentLimits()  # unreadable: the documented defaults
    attached = refused = 0
    for line, ref in found:
        key = f"{incident_id}|{line.id or line.at or ''}|{ref.ref_id or ref.url or ref.name}"
        if _exists(client, annotation.note_id(key)):
            attached += 1
            continue
        written = _write(client, incident_id, key, line, ref, policy, credential, limits, patient)
        if isinstance(written, Failure):
            return FilesOutcome(attached, refused, written)
        attached, refused = attached + (written is None), refused + (written is not None)
    return FilesOutcome(attached, refused)


def _exists(client: DataverseClient, note_id: str) -> bool:
    """A redelivery finds its notes without fetching the files again (one small GET each)."""
    found = client.get(f"{annotation.ENTITY_SET}({note_id})", "get_note", {"$select": "annotationid"})
    return found.ok


def _write(
    client: DataverseClient,
    incident_id: str,
    key: str,
    line: TranscriptLine,
    ref: MediaRef,
    policy: MediaPolicy,
    credential: Credential | None,
    limits: annotation.AttachmentLimits,
    patient: bool,
) -> RefusalReason | Failure | None:
    """None: the note has its file. A reason: the note says why the file is not there."""
    cap = min(policy.max_bytes, limits.max_file_bytes)
    blocked = annotation.refusal(ref.name, 0, limits)
    got = (
        Refusal(RefusalReason.TYPE, blocked)
        if blocked and unusable(ref) is None
        else obtain(ref, policy, keep=Keep.BODY, credential=credential, cap=cap, patient=patient)
    )
    if isinstance(got, Failure):
        return got
    subject = f"{ref.kind_word.capitalize()} from the customer: {ref.name}"
    said = f"Sent {line.at or ''} with: {line.text}".strip() if line.text else f"Sent {line.at or ''}".strip()
    if isinstance(got, Refusal):
        outcome = annotation.attach_text_note(
            client, incident_id, key, subject=subject, notetext=f"{got.notice(ref)}\n{said}"
        )
        reason: RefusalReason | None = got.reason
    else:
        assert got.base64 is not None
        outcome = annotation.attach_note(
            client, incident_id, key, filename=ref.name, mimetype=got.content_type, subject=subject,
            documentbody=Embedded(got.base64), notetext=said,
        )  # fmt: skip
        reason = None
    if outcome.failure is not None and reason is None and outcome.failure.outcome is Outcome.PERMANENT:
        # Dataverse refuses this file for good (a type the org blocks by MIME, say): say so instead.
        reason = RefusalReason.TYPE
        outcome = annotation.attach_text_note(client, incident_id, key, subject=subject,
                                              notetext=f"[{ref.kind_word} not attached: Dynamics refused it]\n{said}")  # fmt: skip
    if outcome.failure is not None:
        return outcome.failure
    target = "incident"
    if reason is None:
        telemetry.count("media.relayed", target=target, how="inline")
    else:
        telemetry.count("media.refused", target=target, reason=reason.value)
    return reason
