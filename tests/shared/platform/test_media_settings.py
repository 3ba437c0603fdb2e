"""MEDIA_* settings: defaults, what widens them, and one named problem per bad value."""

from __future__ import annotations

import pytest

from shared.platform.media_settings import DEFAULT_MAX_BYTES, MediaSettings, load_media


def test_unset_gives_the_documented_defaults() -> None:
    problems: dict[str, str] = {}
    assert load_media({}, problems) == MediaSettings(max_bytes=DEFAULT_MAX_BYTES, timeout_seconds=20.0)
    assert problems == {}
    assert DEFAULT_MAX_BYTES == 5 * 1024 * 1024


def test_hosts_and_types_are_read_as_lower_case_lists() -> None:
    problems: dict[str, str] = {}
    media = load_media(
        {"MEDIA_ALLOWED_HOSTS": " Files.Contoso.com, *.blob.core.windows.net;127.0.0.1:9000 ",
         "MEDIA_ALLOWED_TYPES": "video/mp4, Audio/*", "MEDIA_MAX_BYTES": "0"},
        problems,
    )  # fmt: skip
    assert problems == {}
    assert media.extra_hosts == ("files.contoso.com", "*.blob.core.windows.net", "127.0.0.1:9000")
    assert media.extra_types == ("video/mp4", "audio/*")
    assert media.max_bytes == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MEDIA_ALLOWED_HOSTS", "https://files.contoso.com"),
        ("MEDIA_ALLOWED_HOSTS", "*.com"),
        ("MEDIA_ALLOWED_HOSTS", "files contoso.com"),
        ("MEDIA_ALLOWED_HOSTS", "*.example.com:8443"),
        ("MEDIA_ALLOWED_HOSTS", "files.example.com:99999"),
        ("MEDIA_ALLOWED_TYPES", "*/*"),
        ("MEDIA_ALLOWED_TYPES", "pdf"),
        ("MEDIA_MAX_BYTES", "-1"),
        ("MEDIA_MAX_BYTES", "104857601"),
        ("MEDIA_TIMEOUT_SECONDS", "0"),
    ],
)
def test_a_bad_value_is_one_problem_naming_the_setting(name: str, value: str) -> None:
    problems: dict[str, str] = {}
    load_media({name: value}, problems)
    assert list(problems) == [name]
