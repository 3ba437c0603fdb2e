"""The App Service managed-identity endpoint (api-version 2019-08-01, as azure-identity and MSAL call
it) and the bearer tokens it hands out, for every simulator that serves `/msi/token`. A resource a
simulator does not serve goes to `upstream` (another simulator's endpoint and header) when one is set.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from urllib.parse import urlencode

from devtools.simkit.faults import TOKEN_OPERATION, FaultRule
from devtools.simkit.server import BodyError, Dropped, Reply, SimHandler

TOKEN_PATH = "/msi/token"  # noqa: S105 - a URL path, not a secret
API_VERSION = "2019-08-01"
_JSON = "application/json"
Refusal = Callable[[str], str | None]  # a resource's refusal, None for one served here
Chooser = Callable[[str], FaultRule | None]


def msi_error(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    """The identity endpoint's error shape (MSAL reads statusCode and message)."""
    payload = {"statusCode": status, "message": message, "correlationId": str(uuid.uuid4())}
    return Reply(status, json.dumps(payload).encode(), headers or {}, content_type=_JSON)


class Identity:
    """The identity header secret, the tokens issued (token -> expiry), and what was asked for."""

    def __init__(
        self,
        lifetime: float = 3600.0,
        *,
        client_id: str,
        upstream: tuple[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.header = secrets.token_urlsafe(24)
        self.lifetime, self.client_id, self.upstream, self.clock = lifetime, client_id, upstream, clock
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}
        self._queries: list[dict[str, str]] = []

    def issue(self) -> tuple[str, int]:
        token, expires_on = secrets.token_urlsafe(32), self.clock() + self.lifetime
        with self._lock:
            self._tokens[token] = expires_on
        return token, int(expires_on)

    def trust(self, token: str, lifetime: float | None = None) -> None:
        """Accept a token minted elsewhere (a test's own credential)."""
        with self._lock:
            self._tokens[token] = self.clock() + (self.lifetime if lifetime is None else lifetime)

    def expire_all(self) -> None:
        """Every token issued so far is refused from now on, as after a real expiry."""
        with self._lock:
            self._tokens = dict.fromkeys(self._tokens, 0.0)

    def expiry(self, authorization: str | None) -> float | None:
        """The expiry of a `Bearer` token this endpoint issued or trusts; None for anything else."""
        scheme, _, token = (authorization or "").partition(" ")
        with self._lock:  # an empty token is never issued nor trusted
            return self._tokens.get(token.strip()) if scheme.lower() == "bearer" and token.strip() else None

    def valid(self, authorization: str | None) -> bool:
        return (self.expiry(authorization) or 0.0) > self.clock()

    @property
    def requests(self) -> int:
        return len(self.queries)

    @property
    def queries(self) -> list[dict[str, str]]:
        with self._lock:
            return [dict(query) for query in self._queries]

    def forget_requests(self) -> None:
        with self._lock:
            self._queries.clear()

    def answer(
        self, handler: SimHandler, query: dict[str, str], resource_ok: Refusal, choose_fault: Chooser
    ) -> Reply:
        """One token request: faults first (never API latency), then the header, api-version and
        resource checks. `resource_ok` returns None for a resource served here, else the refusal."""
        with self._lock:
            self._queries.append(dict(query))
        try:
            handler.read_raw_body()
        except BodyError as error:
            return msi_error(*error.args)
        fault = choose_fault(TOKEN_OPERATION)
        kind = fault.kind if fault is not None else None
        if kind == "drop_before":
            handler.drop_connection()
            raise Dropped
        handler.pause(0.0, fault)
        if fault is not None and kind == "status":
            message = getattr(fault, "error_message", None) or "Simulated identity endpoint fault."
            return msi_error(fault.status, message, fault.retry_after_headers())
        reply = self._token(handler, query, resource_ok)
        if kind == "drop_after_commit":
            handler.drop_connection()
            raise Dropped
        return reply

    def _token(self, handler: SimHandler, query: dict[str, str], resource_ok: Refusal) -> Reply:
        secret = handler.headers.get("X-IDENTITY-HEADER")
        if handler.command != "GET":
            return msi_error(405, "The token endpoint only answers GET.")
        if secret is None:
            return msi_error(400, "The X-IDENTITY-HEADER header is required.")
        if not hmac.compare_digest(secret.encode(), self.header.encode()):
            return msi_error(401, "The X-IDENTITY-HEADER header is not valid.")
        if query.get("api-version") != API_VERSION:
            return msi_error(400, f"Unsupported api-version {query.get('api-version')!r}; use {API_VERSION}.")
        resource = query.get("resource", "")
        if (refusal := resource_ok(resource.rstrip("/"))) is not None:
            return self._proxy(query) if self.upstream is not None else msi_error(400, refusal)
        token, expires_on = self.issue()
        client_id = query.get("client_id", self.client_id)  # a system-assigned identity's is the default
        payload = {"access_token": token, "expires_on": str(expires_on), "resource": resource}
        body = {**payload, "token_type": "Bearer", "client_id": client_id}
        return Reply(200, json.dumps(body).encode(), content_type=_JSON)

    def _proxy(self, query: dict[str, str]) -> Reply:
        endpoint, header = self.upstream or ("", "")
        request = urllib.request.Request(  # noqa: S310 - a loopback URL the caller set
            f"{endpoint}?{urlencode(query)}", headers={"X-IDENTITY-HEADER": header}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback, set by the caller
                return Reply(response.status, response.read(), content_type=_JSON)
        except urllib.error.HTTPError as error:
            return Reply(error.code, error.read(), content_type=_JSON)
        except OSError:
            return msi_error(503, "The upstream identity endpoint did not answer.")


class ServesIdentity:
    """The identity endpoint's facts on a simulator serving TOKEN_PATH (listed after Simulator: its url)."""

    identity: Identity

    @property
    def url(self) -> str:
        raise NotImplementedError

    @property
    def identity_endpoint(self) -> str:
        return f"{self.url}{TOKEN_PATH}"

    @property
    def identity_header(self) -> str:
        return self.identity.header

    @property
    def token_lifetime(self) -> float:
        return self.identity.lifetime

    @token_lifetime.setter
    def token_lifetime(self, seconds: float) -> None:
        self.identity.lifetime = seconds

    @property
    def token_requests(self) -> int:
        return self.identity.requests

    def expire_tokens(self) -> None:
        self.identity.expire_all()
