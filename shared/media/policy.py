"""Which file URLs the bridge may fetch, and which files it may pass on (docs/messaging.md,
"Pictures and files").

A URL is fetched only when it came from an authenticated source (a validated Microsoft activity, the
OpenCX API: the callers' job) AND this policy allows it: https, or plain http to a loopback host
(the simulators); a host on the allow-list, matched with its port, so being on loopback allows no
host by itself. The list is derived from the services the bridge already trusts (the Dataverse org,
the Messaging API, the OpenCX API) plus MEDIA_ALLOWED_HOSTS. A `*.domain` entry allows that
domain's subdomains over https on port 443.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from urllib.parse import urlsplit

from shared.platform.media_settings import DEFAULT_TYPES
from shared.platform.setting_values import is_loopback
from shared.platform.settings import Settings

_DEFAULT_PORTS = {"https": 443, "http": 80}
HOST_NOT_ALLOWED = "its host is not allowed"


@dataclass(frozen=True)
class MediaPolicy:
    hosts: frozenset[str]  # "host:port", lower case
    domains: tuple[str, ...]  # ".example.com" suffixes, https on 443 only
    types: tuple[str, ...]  # "type/subtype" or "type/*"
    max_bytes: int
    timeout_seconds: float

    def url_refusal(self, url: str) -> str | None:
        """Why this URL may not be fetched nor passed on, or None when it may."""
        try:
            parts = urlsplit(url)
            host, port = (parts.hostname or "").lower(), parts.port
        except ValueError:
            return "its link is not valid"
        if parts.scheme not in _DEFAULT_PORTS or not host:
            return "its link is not https"
        if parts.scheme == "http" and not is_loopback(host):
            return "its link is not https"
        if parts.username or parts.password:
            return "its link carries credentials"
        port = port or _DEFAULT_PORTS[parts.scheme]
        if f"{host}:{port}" in self.hosts:
            return None
        if parts.scheme == "https" and port == 443 and any(host.endswith(d) for d in self.domains):
            return None
        return HOST_NOT_ALLOWED

    def same_origin(self, first: str, second: str) -> bool:
        """A redirect is followed only to the same scheme, host and port."""
        a, b = urlsplit(first), urlsplit(second)
        return (a.scheme, (a.hostname or "").lower(), a.port or _DEFAULT_PORTS.get(a.scheme)) == (
            b.scheme,
            (b.hostname or "").lower(),
            b.port or _DEFAULT_PORTS.get(b.scheme),
        )

    def allows_type(self, content_type: str | None) -> bool:
        kind = (content_type or "").split(";")[0].strip().lower()
        return bool(kind) and any(fnmatch.fnmatchcase(kind, pattern) for pattern in self.types)


def _host_port(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.hostname or parts.scheme not in _DEFAULT_PORTS:
        return None
    return f"{parts.hostname.lower()}:{parts.port or _DEFAULT_PORTS[parts.scheme]}"


def _entry(value: str) -> str:
    return value if ":" in value else f"{value}:443"


def policy_for(settings: Settings) -> MediaPolicy:
    """The policy the settings give: the trusted services' own hosts plus MEDIA_ALLOWED_HOSTS."""
    own = [settings.dataverse_url, settings.opencx_api_url, settings.messaging.api_url]
    hosts = {host for host in (_host_port(url) for url in own if url) if host}
    domains: list[str] = []
    for extra in settings.media.extra_hosts:
        if extra.startswith("*."):
            domains.append(extra[1:])
        else:
            hosts.add(_entry(extra))
    return MediaPolicy(
        hosts=frozenset(hosts),
        domains=tuple(domains),
        types=tuple(dict.fromkeys((*DEFAULT_TYPES, *settings.media.extra_types))),
        max_bytes=settings.media.max_bytes,
        timeout_seconds=settings.media.timeout_seconds,
    )
