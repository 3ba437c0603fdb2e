"""Validation of the bearer token Microsoft sends with each webhook activity.

Microsoft's `api/api-conversation-webhook.md` names only the header (`Authorization: Bearer`, a
token "obtained from the registered Microsoft Entra App" through the channel's managed identity
and federated credential, `configure-custom-messaging-channel.md`); its first revision (June 2025)
named it `x-ms-token`, which is accepted too. Neither page documents the token's audience or
claims, so this checks what any Entra access token for our app must satisfy: an RS256 signature by
one of the tenant's published keys, the tenant's v2.0 or v1 issuer, `exp`/`nbf`, and an audience
from settings (the app id and/or its Application ID URI). Optionally `appid`/`azp` must name an
allowed client. Every failure is one exception with a reason from a fixed vocabulary: never the
token, never a claim value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt

from shared.platform.setting_values import is_loopback

# Why PyJWT refused a token, most specific first (ExpiredSignatureError, say, before the rest).
_DECODE_REASONS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not_yet_valid"),
    (jwt.InvalidAudienceError, "wrong_audience"),
    (jwt.InvalidIssuerError, "wrong_issuer"),
    (jwt.InvalidSignatureError, "bad_signature"),
    (jwt.MissingRequiredClaimError, "missing_claim"),
)

ALGORITHMS = ("RS256",)  # Entra signs access tokens with RS256; never `none`, never HS*
DEFAULT_LEEWAY_SECONDS = 60.0
JWKS_TIMEOUT_SECONDS = 5.0
JWKS_CACHE_SECONDS = 3600.0  # Microsoft rotates keys with weeks of overlap; an unknown kid refetches
JWKS_REFETCH_COOLDOWN_SECONDS = 60.0  # a flood of forged kids cannot turn into a flood of fetches
MAX_TOKEN_CHARS = 16 * 1024


class _JwksUnusable(Exception):
    """The keys endpoint answered something that is not a JWKS (HTML, invalid JSON, a cut body)."""


class _JwksClient(jwt.PyJWKClient):
    """PyJWKClient lets a JSON decoding error escape as a bare ValueError (a 500): turn every
    unreadable answer into one exception the validator maps to a transient refusal."""

    def fetch_data(self) -> Any:
        try:
            return super().fetch_data()
        except jwt.PyJWKClientConnectionError:
            raise
        except (jwt.PyJWKClientError, ValueError, RecursionError, OSError):
            raise _JwksUnusable() from None


class TokenRejected(Exception):
    """The token is not acceptable. `reason` is a fixed, log-safe word; `transient` means retry later."""

    def __init__(self, reason: str, *, transient: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


@dataclass(frozen=True)
class TokenClaims:
    """The claims we may log about an accepted token (identifiers only)."""

    issuer: str
    audience: str
    app_id: str | None
    tenant_id: str | None

    def as_log(self) -> dict[str, str | None]:
        return {"iss": self.issuer, "aud": self.audience, "appid": self.app_id, "tid": self.tenant_id}


def microsoft_jwks_url(tenant_id: str) -> str:
    return f"https://login.microsoftonline.com/{tenant_id}/discovery/v2.0/keys"


def issuers_for(tenant_id: str) -> tuple[str, str]:
    """v2.0 and v1 issuers of the tenant (docs/messaging.md; the FIC page names the v2.0 form)."""
    return (f"https://login.microsoftonline.com/{tenant_id}/v2.0", f"https://sts.windows.net/{tenant_id}/")


def checked_jwks_url(url: str | None, tenant_id: str) -> str:
    """The tenant's Microsoft keys, or an override that is https, or http on loopback only."""
    if not url:
        return microsoft_jwks_url(tenant_id)
    parts = urlsplit(url.strip())
    if not parts.hostname or parts.scheme not in ("https", "http"):
        raise ValueError("MESSAGING_JWKS_URL must be an absolute https URL")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError("MESSAGING_JWKS_URL may use plain http only on a loopback host")
    return url.strip()


def calling_app(claims: Mapping[str, Any]) -> str | None:
    """The client the token was issued to: `appid` in a v1 token, `azp` in a v2 one (either when
    `ver` is missing). None when absent or not a string."""
    first, second = ("appid", "azp") if str(claims.get("ver", "")) == "1.0" else ("azp", "appid")
    value = claims.get(first) or claims.get(second)
    return value if isinstance(value, str) and value else None


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """`Authorization: Bearer <t>`, else `x-ms-token: <t>` (with or without `Bearer `). Any header case."""
    lowered = {str(name).lower(): str(value) for name, value in headers.items()}
    authorization = lowered.get("authorization", "").strip()
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return None
        return token.strip() or None
    legacy = lowered.get("x-ms-token", "").strip()
    if legacy.lower().startswith("bearer "):
        legacy = legacy[7:].strip()
    return legacy or None


class WebhookTokenValidator:
    """One per process: the JWKS client caches keys between requests."""

    def __init__(
        self,
        tenant_id: str,
        audiences: str | Iterable[str],
        *,
        jwks_url: str | None = None,
        allowed_app_ids: Iterable[str] | None = None,
        leeway: float = DEFAULT_LEEWAY_SECONDS,
        jwks_timeout: float = JWKS_TIMEOUT_SECONDS,
        jwks_cache_seconds: float = JWKS_CACHE_SECONDS,
        refetch_cooldown: float = JWKS_REFETCH_COOLDOWN_SECONDS,
    ) -> None:
        if not tenant_id:
            raise ValueError("a tenant id is required")
        self.audiences = [audiences] if isinstance(audiences, str) else [a for a in audiences if a]
        if not self.audiences:
            raise ValueError("at least one audience is required")
        self.issuers = issuers_for(tenant_id)
        self.tenant_id = tenant_id
        self.allowed_app_ids = frozenset(a.lower() for a in allowed_app_ids or () if a)
        self.leeway = leeway
        self.jwks_url = checked_jwks_url(jwks_url, tenant_id)
        self._jwks = _JwksClient(
            self.jwks_url,
            cache_jwk_set=True,
            lifespan=jwks_cache_seconds,
            timeout=jwks_timeout,
            cooldown_duration=refetch_cooldown,
        )

    def validate_headers(self, headers: Mapping[str, str]) -> TokenClaims:
        token = bearer_token(headers)
        if token is None:
            raise TokenRejected("missing_token")
        return self.validate(token)

    def validate(self, token: str) -> TokenClaims:
        if len(token) > MAX_TOKEN_CHARS:
            raise TokenRejected("token_too_large")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRejected("malformed_token") from None
        if header.get("alg") not in ALGORITHMS:
            raise TokenRejected("algorithm_not_allowed")
        if not isinstance(header.get("kid"), str) or not header["kid"]:
            raise TokenRejected("missing_kid")
        key = self._signing_key(header["kid"])
        claims = self._decode(token, key)
        return self._checked(claims)

    def _signing_key(self, kid: str) -> Any:
        try:
            return self._jwks.get_signing_key(kid).key
        except jwt.PyJWKClientConnectionError:
            raise TokenRejected("jwks_unavailable", transient=True) from None
        except _JwksUnusable:
            raise TokenRejected("jwks_unusable", transient=True) from None
        except jwt.PyJWKClientError:
            raise TokenRejected("unknown_signing_key") from None
        except jwt.PyJWTError:  # a JWKS document we cannot read
            raise TokenRejected("jwks_unusable", transient=True) from None

    def _decode(self, token: str, key: Any) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key,
                algorithms=list(ALGORITHMS),
                audience=self.audiences,
                issuer=list(self.issuers),
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud"], "verify_signature": True},
            )
        except jwt.PyJWTError as error:
            reason = next((r for kind, r in _DECODE_REASONS if isinstance(error, kind)), "invalid_token")
            raise TokenRejected(reason) from None

    def _checked(self, claims: dict[str, Any]) -> TokenClaims:
        tenant = claims.get("tid")
        if tenant is not None and str(tenant).lower() != self.tenant_id.lower():
            raise TokenRejected("wrong_tenant")
        app_id = calling_app(claims)
        if self.allowed_app_ids and (app_id or "").lower() not in self.allowed_app_ids:
            raise TokenRejected("app_id")
        audience = claims.get("aud")
        if isinstance(audience, list):  # PyJWT checked one of them is ours; log the one that matched
            audience = next((a for a in audience if a in self.audiences), audience[0] if audience else "")
        return TokenClaims(
            issuer=str(claims.get("iss")),
            audience=str(audience),
            app_id=str(app_id) if app_id else None,
            tenant_id=str(tenant) if tenant else None,
        )
