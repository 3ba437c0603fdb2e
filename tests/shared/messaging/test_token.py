"""The webhook's token check against real RS256 tokens and a JWKS document served over loopback HTTP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from helpers import serving

from devtools.messaging_sim import MessagingSimulator
from shared.messaging.token import (
    TokenRejected,
    WebhookTokenValidator,
    bearer_token,
    checked_jwks_url,
    microsoft_jwks_url,
)


@pytest.fixture(scope="module")
def sim() -> Iterator[MessagingSimulator]:
    with MessagingSimulator() as simulator:
        yield simulator


@pytest.fixture
def validator(sim: MessagingSimulator) -> WebhookTokenValidator:
    return WebhookTokenValidator(sim.tenant_id, [sim.app_id, sim.audience], jwks_url=sim.jwks_url)


def test_a_valid_token_is_accepted_and_only_identifiers_come_back(
    sim: MessagingSimulator, validator: WebhookTokenValidator
) -> None:
    token = sim.minter.mint("valid")
    claims = validator.validate_headers({"Authorization": f"Bearer {token}"})
    assert claims.issuer == f"https://login.microsoftonline.com/{sim.tenant_id}/v2.0"
    assert claims.audience == sim.audience
    assert claims.app_id == sim.app_id and claims.tenant_id == sim.tenant_id
    assert token not in repr(claims) and token not in str(claims.as_log())


def test_the_v1_issuer_and_an_app_id_audience_are_accepted(
    sim: MessagingSimulator, validator: WebhookTokenValidator
) -> None:
    assert (
        validator.validate(sim.minter.mint("v1_issuer")).issuer == f"https://sts.windows.net/{sim.tenant_id}/"
    )
    assert validator.validate(sim.minter.mint(aud=sim.app_id)).audience == sim.app_id


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("forged", "bad_signature"),
        ("unknown_kid", "unknown_signing_key"),
        ("expired", "expired"),
        ("not_yet_valid", "not_yet_valid"),
        ("wrong_audience", "wrong_audience"),
        ("wrong_issuer", "wrong_issuer"),
        ("wrong_tenant", "wrong_tenant"),
        ("unsigned", "algorithm_not_allowed"),
        ("hs256_public_key", "algorithm_not_allowed"),
    ],
)
def test_bad_tokens_are_refused_with_a_safe_reason(
    sim: MessagingSimulator, validator: WebhookTokenValidator, kind: str, reason: str
) -> None:
    token = sim.minter.mint(kind)
    with pytest.raises(TokenRejected) as caught:
        validator.validate_headers({"authorization": f"Bearer {token}"})
    assert caught.value.reason == reason
    assert not caught.value.transient
    assert token not in str(caught.value)


def test_hs256_keyed_with_the_public_key_is_refused_even_past_the_header_check(
    sim: MessagingSimulator,
) -> None:
    """Defence in depth: decode itself only allows RS256, whatever the header check does."""
    import jwt

    validator = WebhookTokenValidator(sim.tenant_id, sim.audience, jwks_url=sim.jwks_url)
    key = validator._signing_key(sim.minter.kid)
    with pytest.raises(TokenRejected):
        validator._decode(sim.minter.mint("hs256_public_key"), key)
    with pytest.raises(jwt.InvalidAlgorithmError):
        jwt.decode(sim.minter.mint("hs256_public_key"), key, algorithms=["RS256"], audience=sim.audience)


def test_required_claims_and_malformed_tokens(
    sim: MessagingSimulator, validator: WebhookTokenValidator
) -> None:
    claims = sim.minter.claims()
    del claims["exp"]
    with pytest.raises(TokenRejected) as caught:
        validator.validate(sim.minter.sign(claims))
    assert caught.value.reason == "missing_claim"
    for bad, reason in (("abc", "malformed_token"), ("a" * 20000, "token_too_large")):
        with pytest.raises(TokenRejected) as caught:
            validator.validate(bad)
        assert caught.value.reason == reason


def test_an_allowed_app_list_refuses_other_clients(sim: MessagingSimulator) -> None:
    strict = WebhookTokenValidator(
        sim.tenant_id, sim.audience, jwks_url=sim.jwks_url, allowed_app_ids=[sim.app_id.upper()]
    )
    assert strict.validate(sim.minter.mint()).app_id == sim.app_id
    with pytest.raises(TokenRejected) as caught:
        strict.validate(sim.minter.mint(appid="someone", azp="someone"))
    assert caught.value.reason == "app_id"


OTHER_APP = "0d5a2d57-0000-4000-8000-0000000000aa"


@pytest.mark.parametrize(
    "overrides",
    [
        {"appid": OTHER_APP, "azp": OTHER_APP},  # another app of the tenant, right audience
        {"appid": None, "azp": None},  # no calling app at all
        {"azp": OTHER_APP},  # v2: azp names the caller, whatever appid says
        {"ver": "1.0", "appid": OTHER_APP},  # v1: appid names the caller, whatever azp says
        {"appid": 42, "azp": ["x"]},  # not strings
    ],
)
def test_only_the_channel_app_may_call(sim: MessagingSimulator, overrides: dict[str, object]) -> None:
    strict = WebhookTokenValidator(sim.tenant_id, sim.audience, jwks_url=sim.jwks_url,
                                   allowed_app_ids=[sim.app_id.upper()])  # fmt: skip
    with pytest.raises(TokenRejected) as caught:
        strict.validate(sim.minter.mint(**overrides))
    assert (caught.value.reason, caught.value.transient) == ("app_id", False)


def test_a_rotation_accepts_either_app(sim: MessagingSimulator) -> None:
    both = WebhookTokenValidator(sim.tenant_id, sim.audience, jwks_url=sim.jwks_url,
                                 allowed_app_ids=[OTHER_APP, sim.app_id])  # fmt: skip
    assert both.validate(sim.minter.mint(appid=OTHER_APP, azp=OTHER_APP)).app_id == OTHER_APP
    v1 = both.validate(sim.minter.mint("v1_issuer", azp=None))
    assert v1.app_id == sim.app_id


def test_headers_authorization_then_the_legacy_x_ms_token() -> None:
    assert bearer_token({"Authorization": "Bearer abc"}) == "abc"
    assert bearer_token({"AUTHORIZATION": "bearer  abc "}) == "abc"
    assert bearer_token({"x-ms-token": "abc"}) == "abc"
    assert bearer_token({"X-MS-TOKEN": "Bearer abc"}) == "abc"
    assert bearer_token({"Authorization": "Basic abc", "x-ms-token": "def"}) is None
    assert bearer_token({"Authorization": "Bearer "}) is None
    assert bearer_token({}) is None


def test_the_legacy_header_validates_like_the_other(
    sim: MessagingSimulator, validator: WebhookTokenValidator
) -> None:
    assert validator.validate_headers({"x-ms-token": sim.minter.mint()}).tenant_id == sim.tenant_id
    with pytest.raises(TokenRejected) as caught:
        validator.validate_headers({"Content-Type": "application/json"})
    assert caught.value.reason == "missing_token"


def test_jwks_url_defaults_to_the_tenant_keys_and_overrides_are_limited() -> None:
    assert checked_jwks_url(None, "t1") == microsoft_jwks_url("t1")
    assert microsoft_jwks_url("t1") == "https://login.microsoftonline.com/t1/discovery/v2.0/keys"
    assert checked_jwks_url("https://keys.example.com/k", "t1") == "https://keys.example.com/k"
    assert checked_jwks_url("http://127.0.0.1:9/keys", "t1") == "http://127.0.0.1:9/keys"
    assert checked_jwks_url("http://localhost:9/keys", "t1") == "http://localhost:9/keys"
    for bad in ("http://keys.example.com/k", "ftp://127.0.0.1/k", "file:///etc/passwd", "keys"):
        with pytest.raises(ValueError):
            checked_jwks_url(bad, "t1")


def test_keys_are_cached_between_requests(sim: MessagingSimulator) -> None:
    validator = WebhookTokenValidator(sim.tenant_id, sim.audience, jwks_url=sim.jwks_url)
    before = sim.jwks_requests
    for _ in range(5):
        validator.validate(sim.minter.mint())
    assert sim.jwks_requests - before == 1


def test_forged_kids_do_not_turn_into_a_flood_of_fetches(sim: MessagingSimulator) -> None:
    validator = WebhookTokenValidator(sim.tenant_id, sim.audience, jwks_url=sim.jwks_url, refetch_cooldown=60)
    validator.validate(sim.minter.mint())
    before = sim.jwks_requests
    for _ in range(10):
        with pytest.raises(TokenRejected):
            validator.validate(sim.minter.mint("unknown_kid"))
    assert sim.jwks_requests - before <= 1


def test_a_rotated_key_is_fetched_and_the_old_one_refused() -> None:
    with MessagingSimulator() as sim:
        validator = WebhookTokenValidator(
            sim.tenant_id, sim.audience, jwks_url=sim.jwks_url, refetch_cooldown=0
        )
        old = sim.minter.mint()
        validator.validate(old)
        sim.minter.rotate()
        assert validator.validate(sim.minter.mint()).tenant_id == sim.tenant_id
        with pytest.raises(TokenRejected) as caught:
            validator.validate(old)
        assert caught.value.reason == "unknown_signing_key"


def test_an_unreachable_jwks_is_a_transient_refusal(sim: MessagingSimulator) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    validator = WebhookTokenValidator(sim.tenant_id, sim.audience, jwks_url=f"http://127.0.0.1:{port}/keys")
    with pytest.raises(TokenRejected) as caught:
        validator.validate(sim.minter.mint())
    assert caught.value.reason == "jwks_unavailable" and caught.value.transient


@pytest.mark.parametrize(
    "answer",
    [
        b"<html><body>Sign in</body></html>",  # a proxy's login page
        b'{"keys": [',  # cut short
        b"[" * 5000,  # nested beyond the parser
        b"[]",  # JSON, not an object
        b"\xff\xfe not utf-8",
    ],
)
def test_a_jwks_answering_something_else_is_a_transient_refusal(
    sim: MessagingSimulator, answer: bytes
) -> None:
    with serving(answer) as url:
        validator = WebhookTokenValidator(sim.tenant_id, sim.audience, jwks_url=url)
        with pytest.raises(TokenRejected) as caught:
            validator.validate(sim.minter.mint())
        assert (caught.value.reason, caught.value.transient) == ("jwks_unusable", True)


def test_a_hanging_jwks_is_bounded_by_the_timeout(sim: MessagingSimulator) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept_and_stay_silent() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept_and_stay_silent, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/keys"
        validator = WebhookTokenValidator(sim.tenant_id, sim.audience, jwks_url=url, jwks_timeout=0.5)
        started = time.monotonic()
        with pytest.raises(TokenRejected) as caught:
            validator.validate(sim.minter.mint())
        assert time.monotonic() - started < 3
        assert caught.value.transient
    finally:
        stop.set()
        thread.join(timeout=2)
        for connection in accepted:
            connection.close()
        listener.close()


def test_construction_needs_a_tenant_and_an_audience() -> None:
    with pytest.raises(ValueError):
        WebhookTokenValidator("", "aud")
    with pytest.raises(ValueError):
        WebhookTokenValidator("t", [])
