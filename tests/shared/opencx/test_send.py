"""The body of OpenCX's send."""

from __future__ import annotations

import pytest

from shared.opencx.send import build_agent_message


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
