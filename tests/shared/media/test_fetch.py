"""shared/media/fetch.py against a real loopback file host (the OpenCX simulator's, simkit.files):
the token only after a refusal, same-origin redirects only, the size cap while streaming, the time
cap, the type allow-list, and nothing fetched from a host the policy does not name."""

from __future__ import annotations

import base64
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from devtools.opencx_sim import OpenCXSimulator
from shared.media.fetch import Credential, Fetched, Keep, fetch
from shared.media.policy import MediaPolicy
from shared.media.refs import Refusal, RefusalReason
from shared.platform.failure import Failure, FailureKind

PHOTO = bytes(range(256)) * 40  # 10 KiB
KEY = "ocx_media_test_key"


@pytest.fixture(scope="module")
def host() -> Iterator[OpenCXSimulator]:
    with OpenCXSimulator(api_key=KEY) as sim:
        yield sim


@pytest.fixture
def sim(host: OpenCXSimulator) -> OpenCXSimulator:
    host.files.clear()
    return host


def policy(sim: OpenCXSimulator, *, max_bytes: int = 1_000_000, timeout: float = 10.0) -> MediaPolicy:
    netloc = urlsplit(sim.url).netloc
    return MediaPolicy(hosts=frozenset({netloc}), domains=(), types=("image/*", "application/pdf", "text/plain"),
                       max_bytes=max_bytes, timeout_seconds=timeout)  # fmt: skip


def bearer() -> dict[str, str]:
    return {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def token(sim: OpenCXSimulator) -> Credential:
    """The OpenCX key, for the simulator's own origin only."""
    return Credential.of(sim.url, bearer)


def test_an_open_file_is_checked_without_being_kept_or_sent_a_token(
    sim: OpenCXSimulator, token: Credential
) -> None:
    url = sim.files.put(PHOTO, "image/jpeg", "meter.jpg", needs_token=False)
    got = fetch(url, policy(sim), keep=Keep.WHEN_TOKEN_NEEDED, credential=token)
    assert got == Fetched(content_type="image/jpeg", size=len(PHOTO), needed_token=False, base64=None)
    assert sim.files.file(url).statuses == [200]


def test_a_file_behind_a_token_is_fetched_again_with_it_and_kept_as_base64(
    sim: OpenCXSimulator, token: Credential
) -> None:
    url = sim.files.put(PHOTO, "image/jpeg", "meter.jpg")
    got = fetch(url, policy(sim), keep=Keep.WHEN_TOKEN_NEEDED, credential=token)
    assert isinstance(got, Fetched) and got.needed_token and got.base64 is not None
    assert base64.b64decode(bytes(got.base64)) == PHOTO
    assert sim.files.file(url).statuses == [401, 200]


def test_without_a_credential_a_file_behind_a_token_is_refused(sim: OpenCXSimulator) -> None:
    url = sim.files.put(PHOTO, "image/jpeg", "meter.jpg")
    got = fetch(url, policy(sim), keep=Keep.BODY)
    assert isinstance(got, Refusal) and got.reason is RefusalReason.GONE and "401" in got.detail


def test_a_host_no_setting_names_is_never_asked(sim: OpenCXSimulator, token: Credential) -> None:
    url = sim.files.put(PHOTO, "image/jpeg", "meter.jpg", needs_token=False)
    other = url.replace("127.0.0.1", "localhost")  # the same server under a name the policy lacks
    got = fetch(other, policy(sim), keep=Keep.BODY, credential=token)
    assert isinstance(got, Refusal) and got.reason is RefusalReason.HOST
    assert sim.files.gets() == 0


def test_plain_http_to_a_host_that_is_not_loopback_is_refused(sim: OpenCXSimulator) -> None:
    wide = MediaPolicy(hosts=frozenset({"files.example.com:80"}), domains=(), types=("image/*",),
                       max_bytes=10, timeout_seconds=1)  # fmt: skip
    got = fetch("http://files.example.com/a.jpg", wide, keep=Keep.BODY)
    assert isinstance(got, Refusal) and got.reason is RefusalReason.SCHEME


def test_a_redirect_to_another_host_is_not_followed(sim: OpenCXSimulator, token: Credential) -> None:
    target = sim.files.put(PHOTO, "image/jpeg", "real.jpg", needs_token=False)
    url = sim.files.put(b"", "image/jpeg", "moved.jpg", needs_token=False,
                        redirect_to=target.replace("127.0.0.1", "localhost"))  # fmt: skip
    got = fetch(url, policy(sim), keep=Keep.BODY, credential=token)
    assert isinstance(got, Refusal) and got.reason is RefusalReason.REDIRECT
    assert sim.files.gets(target) == 0


def test_a_redirect_on_the_same_host_is_followed_with_the_token(
    sim: OpenCXSimulator, token: Credential
) -> None:
    target = sim.files.put(PHOTO, "image/png", "real.png")
    url = sim.files.put(b"", "image/png", "moved.png", redirect_to=target)
    got = fetch(url, policy(sim), keep=Keep.BODY, credential=token)
    assert isinstance(got, Fetched) and got.size == len(PHOTO) and got.content_type == "image/png"


def test_a_content_length_over_the_cap_is_refused_before_the_body_is_read(sim: OpenCXSimulator) -> None:
    url = sim.files.put(PHOTO, "image/jpeg", "big.jpg", needs_token=False)
    got = fetch(url, policy(sim, max_bytes=len(PHOTO) - 1), keep=Keep.BODY)
    assert isinstance(got, Refusal) and got.reason is RefusalReason.TOO_BIG
    assert got.notice(_ref()) == "[photo not forwarded: 10 KB, the limit is 10 KB]"


def test_a_body_that_grows_past_the_cap_while_streaming_is_cut_off(sim: OpenCXSimulator) -> None:
    url = sim.files.put(PHOTO, "image/jpeg", "endless.jpg", needs_token=False, grow_past=300_000)
    got = fetch(url, policy(sim, max_bytes=200_000), keep=Keep.BODY)
    assert isinstance(got, Refusal) and got.reason is RefusalReason.TOO_BIG
    assert got.detail == "larger than the 0.2 MB limit"


def test_a_length_that_lies_does_not_get_past_the_cap(sim: OpenCXSimulator) -> None:
    url = sim.files.put(PHOTO * 30, "image/jpeg", "liar.jpg", needs_token=False, lie_length=100)
    got = fetch(url, policy(sim, max_bytes=100_000), keep=Keep.BODY)
    assert isinstance(got, Fetched) and got.size == 100  # read to the length it announced, no further


def test_a_type_not_allowed_is_refused_even_when_declared_as_an_image(sim: OpenCXSimulator) -> None:
    url = sim.files.put(b"<html>", "image/jpeg", "page.jpg", needs_token=False, served_type="text/html")
    got = fetch(url, policy(sim), keep=Keep.BODY, declared_type="image/jpeg")
    assert isinstance(got, Refusal) and got.reason is RefusalReason.TYPE


def test_a_generic_served_type_falls_back_to_the_declared_one(sim: OpenCXSimulator) -> None:
    url = sim.files.put(PHOTO, "application/pdf", "form.pdf", needs_token=False,
                        served_type="application/octet-stream")  # fmt: skip
    got = fetch(url, policy(sim), keep=Keep.NOTHING, declared_type="application/pdf")
    assert isinstance(got, Fetched) and got.content_type == "application/pdf"
    refused = fetch(url, policy(sim), keep=Keep.NOTHING, declared_type="application/x-msdownload")
    assert isinstance(refused, Refusal) and refused.reason is RefusalReason.TYPE


def test_a_slow_file_is_given_up_at_the_time_cap(sim: OpenCXSimulator) -> None:
    url = sim.files.put(PHOTO * 20, "image/jpeg", "slow.jpg", needs_token=False, slow=0.3)
    got = fetch(url, policy(sim, timeout=1.0), keep=Keep.BODY)
    assert isinstance(got, Refusal) and got.reason is RefusalReason.SLOW


def test_a_gone_file_is_a_refusal_and_a_host_that_is_down_a_transient_failure(sim: OpenCXSimulator) -> None:
    url = sim.files.put(PHOTO, "image/jpeg", "old.jpg", needs_token=False, gone=True)
    got = fetch(url, policy(sim), keep=Keep.BODY)
    assert isinstance(got, Refusal) and got.detail == "the link no longer works"
    down = MediaPolicy(hosts=frozenset({"127.0.0.1:9"}), domains=(), types=("image/*",), max_bytes=10,
                       timeout_seconds=2)  # fmt: skip
    failed = fetch("http://127.0.0.1:9/x.jpg", down, keep=Keep.BODY)
    assert isinstance(failed, Failure) and failed.kind is FailureKind.UNREACHABLE


def _ref():  # type: ignore[no-untyped-def]
    from shared.media.refs import MediaRef

    return MediaRef(name="big.jpg", content_type="image/jpeg")


def test_the_log_names_the_host_never_the_url_its_signature_the_token_or_the_bytes(
    sim: OpenCXSimulator, token: Credential, caplog: pytest.LogCaptureFixture
) -> None:
    from logs import assert_never_logged, logged, own_records

    url = sim.files.put(b"secret-bytes-in-the-file", "text/plain", "note.txt")
    signed = url + "?sig=SIGNATURE-1234567890"
    caplog.set_level("DEBUG")
    got = fetch(signed, policy(sim), keep=Keep.BODY, credential=token)
    assert isinstance(got, Fetched)
    mine = own_records(caplog)
    assert logged(mine, "media.fetch")
    assert_never_logged(mine, "SIGNATURE-1234567890", KEY, "note.txt", "secret-bytes", "c2VjcmV0LWJ5dGVz")


def test_the_token_goes_only_to_its_own_origin_never_to_another_allowed_host(
    sim: OpenCXSimulator, token: Credential
) -> None:
    url = sim.files.put(PHOTO, "image/jpeg", "meter.jpg", host="localhost")  # same server, another origin
    both = MediaPolicy(hosts=frozenset({urlsplit(sim.url).netloc, urlsplit(url).netloc}), domains=(),
                       types=("image/*",), max_bytes=1_000_000, timeout_seconds=5)  # fmt: skip
    got = fetch(url, both, keep=Keep.BODY, credential=token)
    assert isinstance(got, Refusal) and "401" in got.detail
    assert sim.files.file(url).statuses == [401]  # asked once, plainly: the key never left for it


def _raw_server(answer: bytes, pause: float) -> tuple[str, socket.socket]:
    """A server that sends `answer` a byte at a time, `pause` seconds apart (a trickling host)."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with contextlib.suppress(OSError):
            connection, _ = server.accept()
            with connection:
                connection.recv(65536)
                for byte in answer:
                    connection.sendall(bytes([byte]))
                    time.sleep(pause)

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{server.getsockname()[1]}", server


def test_a_host_that_trickles_its_headers_is_cut_off_at_the_time_cap() -> None:
    base, server = _raw_server(
        b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 4\r\n\r\nabcd", 0.05
    )
    with server:
        trickle = MediaPolicy(hosts=frozenset({base.split("//")[1]}), domains=(), types=("image/*",),
                              max_bytes=100, timeout_seconds=1.0)  # fmt: skip
        started = time.monotonic()
        got = fetch(base + "/x.jpg", trickle, keep=Keep.BODY)
        took = time.monotonic() - started
    assert isinstance(got, Refusal) and got.reason is RefusalReason.SLOW
    assert took < 3.0  # not 0.05 s x 80 bytes of headers = 4 s: the cap held (a bound, not a timing)


def test_a_compressed_body_is_not_passed_on_as_the_file() -> None:
    base, server = _raw_server(
        b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nabcd",
        0,
    )
    with server:
        plain = MediaPolicy(hosts=frozenset({base.split("//")[1]}), domains=(), types=("image/*",),
                            max_bytes=100, timeout_seconds=5)  # fmt: skip
        got = fetch(base + "/x.png", plain, keep=Keep.BODY)
    assert isinstance(got, Refusal) and got.detail == "it came compressed"


@pytest.mark.parametrize("location", ["http://127.0.0.1:99999/x", "http://[::1/x", "http://127.0.0.1:abc/x"])
def test_a_redirect_to_a_location_that_cannot_be_read_is_a_refusal_not_an_exception(location: str) -> None:
    answer = f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode()
    base, server = _raw_server(answer, 0)
    with server:
        plain = MediaPolicy(hosts=frozenset({base.split("//")[1]}), domains=(), types=("image/*",),
                            max_bytes=100, timeout_seconds=5)  # fmt: skip
        got = fetch(base + "/x.png", plain, keep=Keep.BODY)
    assert isinstance(got, Refusal) and got.reason in (RefusalReason.REDIRECT, RefusalReason.GONE)


def test_a_host_the_setting_names_by_itself_gets_the_token_after_a_refusal(
    sim: OpenCXSimulator, token: Credential
) -> None:
    """MEDIA_ALLOWED_HOSTS naming a host (not a *.domain) is the operator's word that a service's
    files live there: such a host that refuses a plain fetch gets the source's token."""
    url = sim.files.put(PHOTO, "image/jpeg", "meter.jpg", host="localhost")
    other = urlsplit(url).netloc
    named = MediaPolicy(hosts=frozenset({urlsplit(sim.url).netloc, other}), domains=(), types=("image/*",),
                        max_bytes=1_000_000, timeout_seconds=5, named=frozenset({other}))  # fmt: skip
    got = fetch(url, named, keep=Keep.WHEN_TOKEN_NEEDED, credential=token)
    assert isinstance(got, Fetched) and got.needed_token
    assert sim.files.file(url).statuses == [401, 200]


def test_media_allowed_hosts_plain_entries_are_named_and_wildcards_are_not() -> None:
    from dataclasses import replace

    from shared.media.policy import policy_for
    from shared.platform.media_settings import MediaSettings
    from shared.platform.settings import load_settings

    settings = load_settings({"DATAVERSE_URL": "https://contoso.crm.dynamics.com", "OPENCX_API_KEY": "k",
                              "DEFAULT_QUEUE_ID": "6f1b3c2a-9d4e-4f00-8a11-0c0ffee00001",
                              "AzureWebJobsStorage": "UseDevelopmentStorage=true"})  # fmt: skip
    settings = replace(
        settings, media=MediaSettings(extra_hosts=("files.contoso.com", "*.blob.core.windows.net"))
    )
    policy = policy_for(settings)
    assert policy.named == frozenset({"files.contoso.com:443"})
    assert (
        "contoso.crm.dynamics.com:443" in policy.hosts and "contoso.crm.dynamics.com:443" not in policy.named
    )
