"""Which URLs the bridge may fetch: the trusted services' hosts with their ports, what
MEDIA_ALLOWED_HOSTS adds, https only (http only on loopback), and loopback alone allows nothing."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shared.media.policy import HOST_NOT_ALLOWED, MediaPolicy, policy_for
from shared.platform.media_settings import MediaSettings
from shared.platform.settings import MessagingSettings, load_settings

BASE = {
    "DATAVERSE_URL": "https://contoso.crm.dynamics.com",
    "DEFAULT_QUEUE_ID": "6f1b3c2a-9d4e-4f00-8a11-0c0ffee00001",
    "OPENCX_API_KEY": "ocx_key",
    "AzureWebJobsStorage": "UseDevelopmentStorage=true",
    "OPENCX_API_URL": "http://127.0.0.1:7001",
}


def policy(**media: object) -> MediaPolicy:
    settings = load_settings(BASE)
    settings = replace(
        settings,
        messaging=MessagingSettings(api_url="https://m-1.us.omnichannelengagementhub.com"),
        media=MediaSettings(**media),  # type: ignore[arg-type]
    )
    return policy_for(settings)


@pytest.mark.parametrize(
    "url",
    [
        "https://contoso.crm.dynamics.com/api/data/v9.2/annotations(1)/documentbody",
        "https://CONTOSO.crm.dynamics.com:443/x.png",
        "https://m-1.us.omnichannelengagementhub.com/files/a.pdf",
        "http://127.0.0.1:7001/files/1/photo.jpg",
    ],
)
def test_the_trusted_services_hosts_are_allowed(url: str) -> None:
    assert policy().url_refusal(url) is None


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://contoso.crm.dynamics.com/x.png", "its link is not https"),
        ("ftp://contoso.crm.dynamics.com/x.png", "its link is not https"),
        ("https://evil.example.com/x.png", HOST_NOT_ALLOWED),
        ("https://contoso.crm.dynamics.com.evil.example/x.png", HOST_NOT_ALLOWED),
        ("https://contoso.crm.dynamics.com:8443/x.png", HOST_NOT_ALLOWED),
        ("http://127.0.0.1:7002/x.png", HOST_NOT_ALLOWED),  # loopback, another port: not allowed
        ("http://localhost:7001/x.png", HOST_NOT_ALLOWED),  # the same server under another name
        ("https://user:pw@contoso.crm.dynamics.com/x.png", "its link carries credentials"),
        ("https://[::1/x", "its link is not valid"),
    ],
)
def test_anything_else_is_refused_with_a_reason(url: str, why: str) -> None:
    assert policy().url_refusal(url) == why


def test_media_allowed_hosts_widens_with_ports_and_subdomains() -> None:
    wide = policy(extra_hosts=("files.contoso.com", "127.0.0.1:7002", "*.blob.core.windows.net"))
    assert wide.url_refusal("https://files.contoso.com/a.pdf") is None
    assert wide.url_refusal("http://127.0.0.1:7002/a.pdf") is None
    assert wide.url_refusal("https://acct.blob.core.windows.net/c/a.pdf") is None
    assert wide.url_refusal("https://blob.core.windows.net/a.pdf") == HOST_NOT_ALLOWED
    assert wide.url_refusal("http://acct.blob.core.windows.net/a.pdf") == "its link is not https"


def test_types_default_to_images_pdf_and_text_and_a_setting_widens_them() -> None:
    narrow, wide = policy(), policy(extra_types=("video/*",))
    for kind in ("image/jpeg", "IMAGE/PNG; charset=x", "application/pdf", "text/plain"):
        assert narrow.allows_type(kind)
    for kind in ("text/html", "application/x-msdownload", "video/mp4", "image/svg+xml", "", None):
        assert not narrow.allows_type(kind)
    assert policy(extra_types=("image/svg+xml",)).allows_type("image/svg+xml")  # only when named
    assert wide.allows_type("video/mp4") and not wide.allows_type("text/html")


def test_a_redirect_stays_on_its_origin() -> None:
    same = policy().same_origin
    assert same("https://a.example/x", "https://a.example:443/y")
    assert not same("https://a.example/x", "https://b.example/x")
    assert not same("https://a.example/x", "http://a.example/x")
    assert not same("http://127.0.0.1:1/x", "http://127.0.0.1:2/x")


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1\\.blob.core.windows.net/steal",  # urllib3 would connect to 127.0.0.1
        "https://evil.com\\.blob.core.windows.net/steal",
        "https://acct.blob.core.windows.net./x",  # a trailing dot: another name for resolvers
        "https://acct.blob.core.windows.net/x y",
        "https://acct%2eblob.core.windows.net/x",
        "https://acct.blob.core.windows.net\t/x",
        "https://user@acct.blob.core.windows.net/x",
        "https://acct.blob.core.windows.net:99999/x",
    ],
)
def test_a_url_two_parsers_could_read_two_ways_is_refused(url: str) -> None:
    wide = policy(extra_hosts=("*.blob.core.windows.net",))
    assert wide.url_refusal(url) is not None
    assert wide.url_refusal("https://acct.blob.core.windows.net/x") is None
