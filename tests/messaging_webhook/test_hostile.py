"""Hostile inputs against the real webhook over HTTP: a client's mistake is a 4xx, a lone surrogate is
repaired and kept, the keys endpoint answering HTML is a 503 Microsoft retries; never a 500."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
import requests
from helpers import serving
from messaging_helpers import MessagingBridge, messaging_bridge_fixture, reset_messaging_caches  # noqa: F401

from shared.messaging.activity import MAX_ATTACHMENTS, MAX_TEXT_CHARS
from shared.messaging.deps import process_deps
from shared.messaging.outbox import Direction, Entry


def _post(bridge: MessagingBridge, conversation_id: str, data: bytes, token: str | None = None,
          headers: dict[str, str] | None = None) -> requests.Response:  # fmt: skip
    sent = {"Content-Type": "application/json", **(headers or {})}
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    url = bridge.activity_url(requests.utils.quote(conversation_id, safe=""))
    return requests.post(url, data=data, headers=sent, timeout=15)


def _message(conversation_id: str, text: str, **extra: object) -> dict:
    return {"type": "message", "channelId": "MessagingApi", "from": {"id": "", "name": ""},
            "conversation": {"id": conversation_id}, "text": text, **extra}  # fmt: skip


def _stored(conversation_id: str) -> list[Entry]:
    return process_deps().outbox.entries(conversation_id, Direction.TO_CUSTOMER)


def test_a_lone_surrogate_is_repaired_and_the_message_kept(messaging_bridge: MessagingBridge) -> None:
    bridge = messaging_bridge
    conversation_id = str(uuid.uuid4())
    raw = json.dumps(_message(conversation_id, "x \ud800 y")).encode()  # no id: the hash path
    assert b"\\ud800" in raw
    answers = [_post(bridge, conversation_id, raw, bridge.sim.minter.mint()) for _ in range(2)]
    assert [(a.status_code, a.json()["status"]) for a in answers] == [(200, "accepted"), (200, "duplicate")]
    assert [entry.text for entry in _stored(conversation_id)] == ["x \ufffd y"]
    # A surrogate in a key, in the sender's name and a pair split across an escape all survive too.
    other = _message(conversation_id, "pair \ud83d\ude00 half \udc00", id="s-2")
    other["from"] = {"id": "rep\ud800", "name": "Rep \udfff"}
    other["\ud800key"] = 1
    answer = _post(bridge, conversation_id, json.dumps(other).encode(), bridge.sim.minter.mint())
    assert answer.status_code == 200
    assert "pair \U0001f600 half \ufffd" in [entry.text for entry in _stored(conversation_id)]


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"[" * 5000, 400),
        (b'{"a":' * 5000 + b"1" + b"}" * 5000, 400),  # valid JSON, nested beyond the parser
        (json.dumps({"type": "message", "text": "hi", "x": json.loads("[" * 100 + "]" * 100)}).encode(), 400),
        (b"\xff\xfe\x00garbage", 400),
        (b'{"text": "' + b"9" * 5000 + b'"}', 200),  # a long digit string is text: ignored, no text type
        (b'{"type": "message", "text": 1' + b"0" * 5000 + b"}", 400),  # an int past Python's digit limit
        (b"", 400),
        (b"null", 400),
        (b'"just a string"', 400),
        (b'{"type": "message", "text": NaN}', 200),
        (b'{"type": ["message"], "text": {"a": 1}, "from": [], "conversation": "x", "attachments": {}}', 200),
    ],
)
def test_malformed_bodies_are_4xx_never_5xx(
    messaging_bridge: MessagingBridge, data: bytes, status: int
) -> None:
    bridge = messaging_bridge
    conversation_id = str(uuid.uuid4())
    answer = _post(bridge, conversation_id, data, bridge.sim.minter.mint())
    assert answer.status_code == status, answer.text
    if status == 400:
        assert answer.headers["Content-Type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    "conversation_id",
    ["a\u2028b", "a\u2029b", "a\x85b", "a\u202eb", "a\u2066b", "a\u200bb", "a\nb", "a\\b", "a\ufeffb", " "],
)
def test_route_ids_with_log_tricks_are_400(messaging_bridge: MessagingBridge, conversation_id: str) -> None:
    bridge = messaging_bridge
    answer = _post(
        bridge, conversation_id, json.dumps(_message("c", "hi")).encode(), bridge.sim.minter.mint()
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["title"] == "Invalid conversation id"


@pytest.mark.parametrize(
    "token",
    ["a.b.c", "e30.e30.", "\u00e9\u00e9.\u00e9.\u00e9", "x" * 17000, "eyJhbGciOiJSUzI1NiIsImtpZCI6W119.e30.AA",
     "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.WzFd.AA"],  # kid a list; a payload that is a JSON array
)  # fmt: skip
def test_malformed_tokens_are_401(messaging_bridge: MessagingBridge, token: str) -> None:
    bridge = messaging_bridge
    conversation_id = str(uuid.uuid4())
    headers = {"Authorization": ("Bearer " + token).encode("latin-1", "replace").decode("latin-1")}
    answer = requests.post(bridge.activity_url(conversation_id), data=b"{}", headers=headers, timeout=15)
    assert answer.status_code == 401


def test_odd_claims_in_a_signed_token_are_401(messaging_bridge: MessagingBridge) -> None:
    bridge = messaging_bridge
    conversation_id = str(uuid.uuid4())
    minter = bridge.sim.minter
    for overrides in ({"aud": [1, {"a": 2}]}, {"tid": {"a": 1}}, {"exp": "soon"}, {"nbf": [1]},
                      {"aud": None}, {"appid": {"x": 1}, "azp": None}):  # fmt: skip
        answer = _post(bridge, conversation_id, json.dumps(_message(conversation_id, "hi")).encode(),
                       minter.sign(minter.claims(**overrides)))  # fmt: skip
        assert answer.status_code == 401, (overrides, answer.status_code, answer.text)
    assert _stored(conversation_id) == []


def test_large_texts_and_many_attachments_are_kept_or_refused_never_5xx(
    messaging_bridge: MessagingBridge,
) -> None:
    bridge = messaging_bridge
    conversation_id = str(uuid.uuid4())
    bodies = [
        _message(conversation_id, "é" * 40_000, id="big-text"),
        _message(conversation_id, "a" * 200_000, id="bigger-text"),
        _message(conversation_id, "files",  id="many-files", attachments=[
            {"contentType": "image/png", "contentUrl": f"https://x.example/{n}", "name": "n" * 50} for n in range(3000)
        ]),
    ]  # fmt: skip
    for body in bodies:
        answer = _post(bridge, conversation_id, json.dumps(body).encode(), bridge.sim.minter.mint())
        assert answer.status_code == 200, (body["id"], answer.status_code, answer.text)
    stored = {entry.text: entry for entry in _stored(conversation_id)}
    assert set(stored) == {"é" * MAX_TEXT_CHARS, "a" * MAX_TEXT_CHARS, "files"}  # cut, kept
    files = stored["files"].attachments
    assert 0 < len(files) <= MAX_ATTACHMENTS + 1  # those kept, and one stand-in for the rest
    assert (
        files[-1]["id"] == f"dropped:{3000 - (len(files) - 1)}"
    )  # the customer is told how many did not come


@pytest.fixture
def html_keys() -> Iterator[str]:
    with serving(b"<html><body>Sign in</body></html>") as url:
        yield url


def test_keys_answering_html_are_503_with_retry_after(
    messaging_bridge: MessagingBridge, html_keys: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bridge = messaging_bridge
    monkeypatch.setenv("MESSAGING_JWKS_URL", html_keys)
    reset_messaging_caches()
    conversation_id = str(uuid.uuid4())
    answer = _post(bridge, conversation_id, json.dumps(_message(conversation_id, "hi")).encode(),
                   bridge.sim.minter.mint())  # fmt: skip
    assert answer.status_code == 503
    assert answer.headers.get("Retry-After")
    assert _stored(conversation_id) == []
