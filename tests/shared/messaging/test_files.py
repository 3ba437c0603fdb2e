"""shared/messaging/files.py without a network: the customer's channel limits (MMS: 10 files and
5 MB in all; WhatsApp: 16 MB each), embedded files checked as fetched ones, the receiver's shapes."""

from __future__ import annotations

import base64

from shared.media.policy import MediaPolicy
from shared.media.refs import MediaRef, RefusalReason
from shared.messaging import files
from shared.platform.json_body import Embedded, encode_json

MIB = 1024 * 1024


def policy(max_bytes: int = 100 * MIB) -> MediaPolicy:
    return MediaPolicy(hosts=frozenset(), domains=(), types=("image/*", "application/pdf"), max_bytes=max_bytes,
                       timeout_seconds=5)  # fmt: skip


def inline(name: str, size: int, kind: str = "image/jpeg") -> MediaRef:
    return MediaRef(name=name, content_type=kind, inline=base64.b64encode(bytes(size)).decode())


def test_an_sms_message_carries_at_most_ten_files() -> None:
    ready = files.for_customer([inline(f"p{i}.jpg", 10) for i in range(11)], policy(), "sms", None)
    assert isinstance(ready, files.Ready)
    assert len(ready.attachments) == 10
    assert ready.refused == [RefusalReason.TOO_MANY]
    assert ready.notices == ["[photo not forwarded: a message carries at most 10 files here]"]


def test_an_sms_message_carries_five_megabytes_in_all() -> None:
    ready = files.for_customer([inline(f"p{i}.jpg", 2 * MIB) for i in range(3)], policy(), "sms", None)
    assert isinstance(ready, files.Ready)
    assert [a["name"] for a in ready.attachments] == ["p0.jpg", "p1.jpg"]
    assert ready.notices == ["[photo not forwarded: 2 MB, the limit is 1 MB for all of a message's files]"]


def test_whatsapp_takes_sixteen_megabytes_a_file_and_web_the_setting() -> None:
    big = inline("scan.jpg", 17 * MIB)
    whatsapp = files.for_customer([big, inline("ok.jpg", 15 * MIB)], policy(), "whatsapp", None)
    assert isinstance(whatsapp, files.Ready)
    assert [a["name"] for a in whatsapp.attachments] == ["ok.jpg"]
    assert whatsapp.notices == ["[photo not forwarded: 17 MB, the limit is 16 MB]"]
    web = files.for_customer([big], policy(), "web", None)
    assert isinstance(web, files.Ready) and [a["name"] for a in web.attachments] == ["scan.jpg"]


def test_no_file_crosses_when_the_cap_is_zero() -> None:
    ready = files.for_rep([inline("p.jpg", 10)], policy(max_bytes=0), None)
    assert isinstance(ready, files.Ready) and ready.attachments == []
    assert ready.notices == ["[photo not forwarded: files are not forwarded here]"]
    assert ready.refused == [RefusalReason.TOO_BIG]


def test_an_embedded_file_of_a_refused_type_or_not_base64_is_refused() -> None:
    bad = MediaRef(name="x.jpg", content_type="image/jpeg", inline="not base64!")
    exe = inline("tool.exe", 10, "application/x-msdownload")
    ready = files.for_rep([bad, exe], policy(), None)
    assert isinstance(ready, files.Ready) and ready.attachments == []
    assert ready.refused == [RefusalReason.GONE, RefusalReason.TYPE]


def test_the_shapes_each_side_documents() -> None:
    to_customer = files.for_customer([inline("a.pdf", 3, "application/pdf")], policy(), "web", None)
    to_rep = files.for_rep([inline("b.jpg", 3)], policy(), None)
    assert isinstance(to_customer, files.Ready) and isinstance(to_rep, files.Ready)
    assert (
        encode_json({"a": to_customer.attachments}).reader().read()
        == b'{"a": [{"name": "a.pdf", "base64": "AAAA", "mime_type": "application/pdf"}]}'
    )  # type: ignore[union-attr]
    [rep] = to_rep.attachments
    assert rep["name"] == "b.jpg" and rep["contentType"] == "image/jpeg"
    assert isinstance(rep["contentUrl"], Embedded) and rep["contentUrl"].prefix == "data:image/jpeg;base64,"


def test_an_outbox_row_from_before_files_were_relayed_is_still_read() -> None:
    old = {"contentType": "image/png", "contentUrl": "https://x.example/p.png", "name": "p.png"}
    new = MediaRef(name="q.png", content_type="image/png", url="https://x.example/q.png").to_dict()
    unreadable = {"name": "cut.pdf"}  # a URL too long to keep: no URL, told as a notice
    refs = files.entry_refs([old, new, unreadable])
    assert [(ref.name, ref.url) for ref in refs] == [
        ("p.png", "https://x.example/p.png"), ("q.png", "https://x.example/q.png"), ("cut.pdf", None)
    ]  # fmt: skip
    ready = files.for_rep(refs[2:], policy(), None)
    assert isinstance(ready, files.Ready) and ready.notices == [
        "[file not forwarded: the file could not be read]"
    ]


def test_a_host_that_does_not_answer_holds_the_message_only_while_it_is_patient() -> None:
    from shared.platform.failure import Failure, FailureKind

    down = MediaPolicy(hosts=frozenset({"127.0.0.1:9"}), domains=(), types=("image/*",), max_bytes=MIB,
                       timeout_seconds=2)  # fmt: skip
    ref = MediaRef(name="p.jpg", content_type="image/jpeg", url="http://127.0.0.1:9/p.jpg")
    waiting = files.for_rep([ref], down, None)
    assert isinstance(waiting, Failure) and waiting.kind is FailureKind.UNREACHABLE
    given_up = files.for_customer([ref], down, "sms", None, patient=False)
    assert isinstance(given_up, files.Ready) and given_up.attachments == []
    assert given_up.notices == ["[photo not forwarded: its host did not answer]"]
    assert given_up.refused == [RefusalReason.UNANSWERED]


def test_the_notices_survive_words_at_the_length_limit() -> None:
    ready = files.Ready(notices=["[photo not forwarded: its host is not allowed]"])
    text = ready.text_with_notices("w" * 6_000)
    assert (
        text is not None
        and len(text) <= 6_000
        and text.endswith("[photo not forwarded: its host is not allowed]")
    )


def test_the_total_a_message_holds_is_bounded_and_said_so() -> None:
    refs = [inline(f"p{i}.jpg", 9 * MIB) for i in range(3)]
    ready = files.for_customer(refs, policy(), "web", None)
    assert isinstance(ready, files.Ready)
    assert [a["name"] for a in ready.attachments] == ["p0.jpg", "p1.jpg"]
    assert ready.notices == ["[photo not forwarded: 9 MB, the limit is 7 MB for all of a message's files]"]
