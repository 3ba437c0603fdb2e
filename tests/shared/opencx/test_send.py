"""The body of OpenCX's send, and Bot Framework attachments in OpenCX's documented fields."""

from __future__ import annotations

import pytest

from shared.opencx.send import build_agent_message, opencx_attachment


def test_a_url_attachment_keeps_name_url_and_type() -> None:
    item = {"contentType": "image/jpeg", "contentUrl": "https://x.example/p.jpg", "name": "issue (1).jpg",
            "content": None, "thumbnailUrl": None}  # fmt: skip
    assert opencx_attachment(item) == {
        "name": "issue (1).jpg",
        "url": "https://x.example/p.jpg",
        "mime_type": "image/jpeg",
    }


def test_embedded_base64_becomes_base64_with_its_type() -> None:
    item = {"contenturl": "data:application/pdf;base64,JVBERi0xLjQ=", "name": "form.pdf"}
    assert opencx_attachment(item) == {
        "name": "form.pdf",
        "base64": "JVBERi0xLjQ=",
        "mime_type": "application/pdf",
    }


@pytest.mark.parametrize("item", [{}, {"name": "x.pdf"}, {"contentUrl": "  "}, {"contentUrl": 7}])
def test_an_attachment_without_content_is_none(item: dict) -> None:
    assert opencx_attachment(item) is None


def test_the_agent_message_carries_the_attachments_and_refuses_nothing_to_say() -> None:
    body = build_agent_message(
        "Label attached", "Alex", "human_agent", attachments=[{"name": "a", "url": "https://u"}]
    )
    assert body["message"] == {
        "type": "text",
        "text": "Label attached",
        "attachments": [{"name": "a", "url": "https://u"}],
    }
    assert body["sender"] == "human_agent" and body["agent"] == {"name": "Alex"}
    with pytest.raises(ValueError):
        build_agent_message("  ", "Alex")
