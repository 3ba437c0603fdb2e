"""Relaying a 5 MB file: bytes per second and the bridge's peak memory, against a plain download
of the same file measured in the same run (docs/benchmarks.md, "Files").

A file server and a sink run in a subprocess on loopback (so their buffers are not counted): the
file needs a bearer token, as a Microsoft attachment URL may, so the bridge must embed it. Cases:
- download: urllib3 streams the file and throws each chunk away (the floor: the bytes must come in);
- download_kept: the same, keeping the bytes (what "held once" costs);
- naive_relay: download whole, base64, json.dumps, POST to the sink: the same work done the
  obvious way (the baseline for speed and memory of a relay);
- to_customer: `files.for_customer` (fetch, base64 while streaming) and OpenCX's send through the
  real client, the body spliced (`Embedded`) to the sink;
- to_rep: `files.for_rep` and the Messaging API-shaped activity with a `data:` URL to the sink.
Peak memory is tracemalloc's peak of Python allocations during the case, in MB and as a multiple of
the file's size (1.33 is its base64 held once).
"""

from __future__ import annotations

import argparse
import base64
import json
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import urllib3

from bench.report import print_table, write_results

SERVER = r"""
import http.server, json, sys
size = int(sys.argv[1]); body = bytes(range(256)) * (size // 256)
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        if self.headers.get("Authorization") != "Bearer t0ken":
            self.send_response(401); self.send_header("Content-Length", "0"); self.end_headers(); return
        self.send_response(200); self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def do_POST(self):
        left = int(self.headers.get("Content-Length", "0"))
        while left: left -= len(self.rfile.read(min(left, 1 << 16)))
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"{}")
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(json.dumps({"port": server.server_address[1]}), flush=True); server.serve_forever()
"""


def _measure(case: Callable[[], int], rounds: int) -> tuple[float, float]:
    """(MB/s over `rounds`, peak MB of one round)."""
    case()  # warm: pools, imports
    tracemalloc.start()
    tracemalloc.reset_peak()
    case()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    started, moved = time.perf_counter(), 0
    for _ in range(rounds):
        moved += case()
    return moved / (time.perf_counter() - started) / 1e6, peak / 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    size, figures = measure(args.megabytes, args.rounds)
    rows = [(name, f"{mbps:7.1f} MB/s   peak {peak:6.1f} MB = {peak * 1e6 / size:4.2f}x the file   "
                   f"({mbps / figures['download']['mb_per_s']:.2f}x the download's rate, "
                   f"{mbps / figures['naive_relay']['mb_per_s']:.2f}x the naive relay's)")
            for name, values in figures.items() for mbps, peak in [(values["mb_per_s"], values["peak_mb"])]]  # fmt: skip
    print_table(f"Relaying a {size / 1e6:.1f} MB file (loopback, token-protected URL)", rows)
    write_results("media", {"file_bytes": size, **figures})
    return 0


def measure(megabytes: float, rounds: int) -> tuple[int, dict[str, Any]]:
    """(the file's size, each case's MB/s and peak MB)."""
    size = int(megabytes * 1024 * 1024) // 256 * 256
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(size)], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        base = f"http://127.0.0.1:{json.loads(server.stdout.readline())['port']}"
        return size, _run(base, size, rounds)
    finally:
        server.terminate()
        server.wait(timeout=10)


def _run(base: str, size: int, rounds: int) -> dict[str, Any]:
    from shared.media.fetch import Credential
    from shared.media.policy import MediaPolicy
    from shared.media.refs import MediaRef
    from shared.messaging import files
    from shared.messaging.bodies import build_message_activity
    from shared.opencx.client import OpenCXClient
    from shared.opencx.send import build_agent_message
    from shared.platform.http import JsonHttpClient

    url, token = f"{base}/files/photo.jpg", {"Authorization": "Bearer t0ken"}
    host = base.split("//")[1]
    policy = MediaPolicy(
        hosts=frozenset({host}), domains=(), types=("image/*",), max_bytes=size + 1, timeout_seconds=60
    )
    ref = MediaRef(name="photo.jpg", content_type="image/jpeg", url=url)
    source = Credential.of(base, lambda: token)
    pool = urllib3.PoolManager()
    opencx = OpenCXClient(base, "key")
    sink = JsonHttpClient(base)
    sink.system = "messaging"  # measured under the Messaging API's name, as the real client is

    def download(keep: bool) -> Callable[[], int]:
        def case() -> int:
            response = pool.request("GET", url, headers=token, preload_content=False)
            kept = bytearray() if keep else None
            for chunk in response.stream(64 * 1024):
                if kept is not None:
                    kept += chunk
            response.release_conn()
            return size

        return case

    def naive() -> int:
        """What a bridge without streaming would do: the bytes, their base64, the JSON text, its bytes."""
        data = pool.request("GET", url, headers=token).data
        body = {
            "message": {"attachments": [{"name": "photo.jpg", "base64": base64.b64encode(data).decode()}]}
        }
        encoded = json.dumps(body).encode()
        assert pool.request("POST", f"{base}/chat/sessions/s1/send", body=encoded,
                            headers={"Content-Type": "application/json"}).status == 200  # fmt: skip
        return size

    def to_customer() -> int:
        ready = files.for_customer([ref], policy, "web", source)
        assert isinstance(ready, files.Ready) and ready.attachments, ready
        assert opencx.send_message(
            "s1", build_agent_message("label", "Alex", attachments=ready.attachments)
        ).ok
        return size

    def to_rep() -> int:
        ready = files.for_rep([ref], policy, source)
        assert isinstance(ready, files.Ready) and ready.attachments, ready
        activity = build_message_activity("c1", "ch", text="photo", attachments=ready.attachments)
        assert sink.post("/conversation/c1", "send", activity).ok
        return size

    cases = {"download": download(False), "download_kept": download(True), "naive_relay": naive,
             "to_customer": to_customer, "to_rep": to_rep}  # fmt: skip
    figures: dict[str, Any] = {}
    for name, case in cases.items():
        mbps, peak = _measure(case, rounds)
        figures[name] = {"mb_per_s": round(mbps, 1), "peak_mb": round(peak, 2)}
    return figures


if __name__ == "__main__":
    raise SystemExit(main())
