"""simkit.files over real loopback HTTP, mounted on the OpenCX simulator (its API key is the token)."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from devtools.opencx_sim import OpenCXSimulator
from devtools.simkit.files import CHUNK

TIMEOUT = 10
PHOTO = bytes(range(256)) * 1000  # 256,000 bytes: several chunks


@pytest.fixture
def sim() -> Iterator[OpenCXSimulator]:
    with OpenCXSimulator() as simulator:
        yield simulator
        assert simulator.errors == []


def auth(sim: OpenCXSimulator) -> dict[str, str]:
    return {"Authorization": f"Bearer {sim.api_key}"}


def test_a_file_is_served_whole_with_its_type_and_length_to_a_valid_token(sim: OpenCXSimulator) -> None:
    url = sim.files.put(PHOTO, "image/jpeg", "damaged parcel.jpg")
    assert url.startswith(f"{sim.url}/files/") and url.endswith("/damaged%20parcel.jpg")
    answer = requests.get(url, headers=auth(sim), timeout=TIMEOUT)
    assert answer.status_code == 200 and answer.content == PHOTO
    assert answer.headers["Content-Type"] == "image/jpeg"
    assert answer.headers["Content-Length"] == str(len(PHOTO))
    assert sim.files.file(url).statuses == [200] and sim.files.gets() == 1


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Basic abc", "Bearer "])
def test_a_file_that_needs_a_token_is_401_with_a_bearer_challenge_without_one(
    sim: OpenCXSimulator, authorization: str | None
) -> None:
    url = sim.files.put(b"%PDF-1.7", "application/pdf", "label.pdf")
    headers = {"Authorization": authorization} if authorization else {}
    answer = requests.get(url, headers=headers, timeout=TIMEOUT)
    assert answer.status_code == 401 and answer.headers["WWW-Authenticate"] == "Bearer"
    assert b"PDF" not in answer.content
    assert sim.files.gets(url) == 1


def test_an_open_file_needs_no_token_and_head_answers_the_headers_only(sim: OpenCXSimulator) -> None:
    url = sim.files.put(b"hello", "text/plain", "a.txt", needs_token=False)
    assert requests.get(url, timeout=TIMEOUT).content == b"hello"
    head = requests.head(url, timeout=TIMEOUT)
    assert head.status_code == 200 and head.headers["Content-Length"] == "5" and head.content == b""
    assert sim.files.file(url).statuses == [200, 200]


def test_a_redirect_goes_to_another_host_and_is_counted(sim: OpenCXSimulator) -> None:
    with OpenCXSimulator() as other:
        target = other.files.put(b"elsewhere", "image/png", "x.png", needs_token=False)
        url = sim.files.put(b"here", "image/png", "x.png", needs_token=False, redirect_to=target)
        answer = requests.get(url, allow_redirects=False, timeout=TIMEOUT)
        assert answer.status_code == 302 and answer.headers["Location"] == target
        assert other.files.gets() == 0  # nothing fetched from the other host unless a client follows
        assert requests.get(url, timeout=TIMEOUT).content == b"elsewhere"
        assert other.files.gets(target) == 1


def test_served_type_differs_from_the_real_type(sim: OpenCXSimulator) -> None:
    url = sim.files.put(b"MZ\x90\x00", "application/x-msdownload", "photo.jpg", served_type="image/jpeg")
    answer = requests.get(url, headers=auth(sim), timeout=TIMEOUT)
    assert answer.headers["Content-Type"] == "image/jpeg" and answer.content == b"MZ\x90\x00"


def raw_get(url: str) -> tuple[dict[str, str], bytes]:
    """Headers and every byte the server sends (http.client would stop at Content-Length)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=TIMEOUT) as sock:
        sock.sendall(f"GET {parts.path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")[1:]
    return {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}, body


def test_lie_length_declares_less_than_the_body_that_follows(sim: OpenCXSimulator) -> None:
    url = sim.files.put(PHOTO, "image/jpeg", "a.jpg", needs_token=False, lie_length=1000)
    headers, body = raw_get(url)
    assert headers["content-length"] == "1000" and len(body) == len(PHOTO)


def test_grow_past_streams_chunked_without_a_length_past_the_bound(sim: OpenCXSimulator) -> None:
    url = sim.files.put(b"x" * 100, "image/jpeg", "a.jpg", needs_token=False, grow_past=3 * CHUNK)
    connection = http.client.HTTPConnection(urlsplit(url).netloc, timeout=TIMEOUT)
    connection.request("GET", urlsplit(url).path)
    response = connection.getresponse()
    assert response.getheader("Content-Length") is None
    assert response.getheader("Transfer-Encoding") == "chunked"
    body = response.read()
    connection.close()
    assert len(body) > 3 * CHUNK and body.startswith(b"x" * 100)


def test_gone_and_unknown_files_are_404_and_behaviours_are_checked(sim: OpenCXSimulator) -> None:
    url = sim.files.put(b"x", "image/png", "x.png", needs_token=False)
    sim.files.set(url, gone=True)
    assert requests.get(url, timeout=TIMEOUT).status_code == 404
    assert requests.get(f"{sim.url}/files/feedface/x.png", timeout=TIMEOUT).status_code == 404
    with pytest.raises(ValueError, match="unknown file behaviours: colour"):
        sim.files.set(url, colour="red")
    with pytest.raises(KeyError):
        sim.files.file(f"{sim.url}/files/feedface/x.png")


def test_a_slow_file_still_arrives_whole(sim: OpenCXSimulator) -> None:
    url = sim.files.put(PHOTO, "image/jpeg", "a.jpg", needs_token=False, slow=0.001)
    assert requests.get(url, timeout=TIMEOUT).content == PHOTO
