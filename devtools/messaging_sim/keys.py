"""The simulator's signing side: an RSA key, its JWKS document, and tokens good and bad.

Microsoft signs the webhook's bearer token with the tenant's keys; here the simulator plays the
tenant. `mint("valid")` is what a real delivery carries; every other kind is one the bridge must refuse.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

TOKEN_KINDS = frozenset(
    {
        "valid",
        "forged",  # another key, same kid
        "unknown_kid",  # another key and a kid the JWKS lacks
        "expired",
        "not_yet_valid",
        "wrong_audience",
        "wrong_issuer",
        "wrong_tenant",  # the right issuer string, another tid claim
        "unsigned",  # alg none
        "hs256_public_key",  # HS256 keyed with the public key's PEM (algorithm confusion)
        "v1_issuer",  # valid, with the sts.windows.net issuer
        "other_app",  # signed, right issuer and audience, but another app of the tenant (appid/azp)
        "no_app",  # signed, right issuer and audience, no appid/azp at all
    }
)
OTHER_APP_ID = "0d5a2d57-0000-4000-8000-0000000000aa"  # what "other_app" tokens name


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class TokenMinter:
    """Signs tokens for one tenant, app and audience; serves its public keys as a JWKS document."""

    def __init__(self, tenant_id: str, audience: str, app_id: str, lifetime: float = 3600.0) -> None:
        self.tenant_id = tenant_id
        self.audience = audience
        self.app_id = app_id
        self.lifetime = lifetime
        self._other_key: rsa.RSAPrivateKey | None = None
        self.rotate()

    @property
    def issuer(self) -> str:
        return f"https://login.microsoftonline.com/{self.tenant_id}/v2.0"

    def jwks(self) -> dict[str, Any]:
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256", "kty": "RSA"}]}

    def rotate(self) -> None:
        """A new key and kid: tokens signed before are refused once the bridge refetches the JWKS."""
        self._key = _new_key()
        self.kid = secrets.token_hex(8)

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        return {
            "aud": self.audience,
            "iss": self.issuer,
            "iat": now,
            "nbf": now,
            "exp": now + int(self.lifetime),
            "appid": self.app_id,
            "azp": self.app_id,
            "tid": self.tenant_id,
            "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, f"sim/{self.app_id}")),
            "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"sim/oid/{self.app_id}")),
            "ver": "2.0",
            **overrides,
        }

    def sign(
        self, claims: dict[str, Any], key: rsa.RSAPrivateKey | None = None, kid: str | None = None
    ) -> str:
        return jwt.encode(claims, key or self._key, algorithm="RS256", headers={"kid": kid or self.kid})

    def mint(self, kind: str = "valid", **overrides: Any) -> str:
        """A token of `kind` (see TOKEN_KINDS); `overrides` replace claims."""
        if kind not in TOKEN_KINDS:
            raise ValueError(f"token kind must be one of {sorted(TOKEN_KINDS)}")
        now = int(time.time())
        special: dict[str, dict[str, Any]] = {
            "expired": {"iat": now - 7200, "nbf": now - 7200, "exp": now - 3600},
            "not_yet_valid": {"nbf": now + 3600, "exp": now + 7200},
            "wrong_audience": {"aud": "api://someone-else"},
            "wrong_issuer": {"iss": "https://login.microsoftonline.com/another-tenant/v2.0"},
            "wrong_tenant": {"tid": "another-tenant"},
            "v1_issuer": {"iss": f"https://sts.windows.net/{self.tenant_id}/", "ver": "1.0"},
            "other_app": {"appid": OTHER_APP_ID, "azp": OTHER_APP_ID},
        }
        claims = self.claims(**{**special.get(kind, {}), **overrides})
        if kind == "no_app":
            del claims["appid"], claims["azp"]
        if kind in ("forged", "unknown_kid"):
            self._other_key = self._other_key or _new_key()
            return self.sign(claims, self._other_key, self.kid if kind == "forged" else "not-" + self.kid)
        if kind in ("unsigned", "hs256_public_key"):
            return self._by_hand(claims, "none" if kind == "unsigned" else "HS256")
        return self.sign(claims)

    def _by_hand(self, claims: dict[str, Any], alg: str) -> str:
        """PyJWT (rightly) signs with neither `none` nor an asymmetric key as an HMAC secret: the HS256
        one is keyed with the public key's PEM (algorithm confusion)."""
        header = {"alg": alg, "typ": "JWT", "kid": self.kid}
        signed = ".".join(_b64(json.dumps(part).encode()) for part in (header, claims))
        if alg == "none":
            return signed + "."
        pem = self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return f"{signed}.{_b64(hmac.new(pem, signed.encode(), hashlib.sha256).digest())}"
