"""Ingress cost: the HTTP function (validate, derive the handoffId, enqueue to Azurite) for a 2 KiB
`conversation.handoff_to_human` envelope, against a bare `send_message` of the same bytes to the same
Azurite, interleaved in one run. Unsigned, as OpenCX sends it (the function key is the host's check,
outside the function); `--signed` measures with OPENCX_WEBHOOK_SECRET set and Standard Webhooks
headers. Ingress never calls OpenCX, so no OpenCX simulator is needed here.

Also the handler's own CPU time with the storage calls stubbed out, in microseconds per request.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import azure.functions as func

from bench.report import print_table, summary, write_results
from devtools.azurite import Azurite
from devtools.send_handoff import DEV_WEBHOOK_SECRET, signed_headers

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "opencx"
WORKSTREAM = "6f1b3c2a-9d4e-4f00-8a11-0c0ffee00001"
SIGNED = False  # set by --signed


def two_kib_envelope(index: int = 0) -> bytes:
    """The real SMS sample, its summary padded to 2 KiB, its timestamp unique per request: the event's
    identity, so each request is its own handoff (no id header, as OpenCX sends it)."""
    body = json.loads((SAMPLES / "handoff-sms.json").read_text())
    data = body["data"][0] if isinstance(body["data"], list) else body["data"]
    data["timestamp"] = (
        f"2026-11-25T{index // 3600 % 24:02d}:{index // 60 % 60:02d}:{index % 60:02d}.{index % 1000:03d}Z"
    )
    while len(json.dumps(body).encode()) < 2048:
        data["summary"] += " The customer confirmed Friday works and asked for a text when it ships."
    return json.dumps(body).encode()


def configure(azurite: Azurite) -> None:
    os.environ.update(
        {
            "DATAVERSE_URL": "http://127.0.0.1:9",
            "OPENCX_API_URL": "http://127.0.0.1:9",
            "OPENCX_API_KEY": "ocx_bench_key_never_used_by_ingress",
            "DEFAULT_QUEUE_ID": WORKSTREAM,
            "AzureWebJobsStorage": azurite.connection_string,
            "HANDOFF_QUEUE": "bench-ingress",
        }
    )
    if SIGNED:
        os.environ["OPENCX_WEBHOOK_SECRET"] = DEV_WEBHOOK_SECRET
    else:
        os.environ.pop("OPENCX_WEBHOOK_SECRET", None)


def webhook_requests(count: int, prefix: str) -> list[func.HttpRequest]:
    """Built ahead of time: OpenCX builds (and would sign) them, not the bridge."""
    offset = time.time_ns() % 10**6
    built = []
    for i in range(count):
        body = two_kib_envelope(offset + i)
        headers = (
            signed_headers(body, webhook_id=f"{prefix}-{i}")
            if SIGNED
            else {"content-type": "application/json"}
        )
        built.append(func.HttpRequest(method="POST", url="/api/handoffs", headers=headers, body=body))
    return built


def measure(rounds: int, warmup: int) -> dict[str, Any]:
    from handoff_trigger.ingress import handle_handoff
    from shared.platform.queues import QueueProfile, make_queue_client
    from shared.platform.settings import get_settings

    body = two_kib_envelope()
    settings = get_settings()
    bare = make_queue_client(settings.storage, "bench-bare", QueueProfile.INGRESS)
    bare.create_queue()
    payload = body.decode()
    requests_ = webhook_requests(rounds + warmup, f"msg_bench_{time.time_ns()}")
    ingress_ms: list[float] = []
    bare_ms: list[float] = []
    for index, request in enumerate(requests_):
        started = time.perf_counter()
        bare.send_message(payload)
        bare_elapsed = time.perf_counter() - started
        started = time.perf_counter()
        response = handle_handoff(request)
        ingress_elapsed = time.perf_counter() - started
        if response.status_code != 202:
            raise RuntimeError(f"ingress answered {response.status_code}: {response.get_body()!r}")
        if index >= warmup:
            bare_ms.append(bare_elapsed * 1000)
            ingress_ms.append(ingress_elapsed * 1000)
    from handoff_trigger.ingress import STATUS_WRITES

    STATUS_WRITES.settle()  # the accepted rows are written off the request path; let them land
    return {"body_bytes": len(body), "ingress_ms": summary(ingress_ms), "bare_enqueue_ms": summary(bare_ms)}


def handler_cpu_micros(count: int) -> float:
    """CPU per request with every storage call stubbed: verify + validate + build the message."""
    import handoff_trigger.ingress as ingress

    storage_calls = ("send", "get_row", "record_accepted")
    originals = {name: getattr(ingress, name) for name in storage_calls if hasattr(ingress, name)}
    try:
        for name in originals:
            setattr(ingress, name, _stub)
        requests_ = webhook_requests(count, f"msg_cpu_{time.time_ns()}")
        started = time.process_time()
        for request in requests_:
            ingress.handle_handoff(request)
        return (time.process_time() - started) / count * 1e6
    finally:
        for name, original in originals.items():
            setattr(ingress, name, original)


def _stub(*_args: object, **_kwargs: object) -> None:
    """Stands in for a storage call when measuring the handler's own CPU."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=400)
    parser.add_argument("--warmup", type=int, default=40)
    parser.add_argument(
        "--signed", action="store_true", help="require and send a Standard Webhooks signature"
    )
    args = parser.parse_args()
    global SIGNED
    SIGNED = args.signed
    with Azurite() as azurite:
        configure(azurite)
        figures = measure(args.rounds, args.warmup)
        figures["handler_cpu_us_per_request"] = handler_cpu_micros(max(args.rounds, 200))
    ingress, bare = figures["ingress_ms"], figures["bare_enqueue_ms"]
    figures["ratio_p50"] = ingress["p50"] / bare["p50"]
    figures["ratio_p99"] = ingress["p99"] / bare["p99"]
    figures["goal_ratio"] = 1.3
    figures["signed"] = SIGNED
    print_table(
        f"Ingress, {figures['body_bytes']} B conversation.handoff_to_human, "
        f"{'signed' if SIGNED else 'unsigned'}, {ingress['n']} interleaved rounds",
        [
            ("HTTP function p50 / p99", f"{ingress['p50']:.2f} / {ingress['p99']:.2f} ms"),
            ("bare send_message p50 / p99", f"{bare['p50']:.2f} / {bare['p99']:.2f} ms"),
            ("ratio p50 (goal <= 1.3)", f"{figures['ratio_p50']:.2f}x"),
            ("ratio p99", f"{figures['ratio_p99']:.2f}x"),
            ("handler CPU, storage stubbed", f"{figures['handler_cpu_us_per_request']:.0f} us/request"),
        ],
    )
    print(f"\nwritten: {write_results('ingress', figures)}")


if __name__ == "__main__":
    main()
