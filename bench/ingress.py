"""Ingress cost: the HTTP function (verify, validate, enqueue to Azurite) for a 2 KiB SMS handoff,
against a bare `send_message` of the same bytes to the same Azurite, interleaved in one run.

Also the handler's own CPU time with the storage calls stubbed out, in microseconds per request.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import azure.functions as func

from bench.report import print_table, summary, write_results
from devtools.azurite import Azurite
from devtools.signing import DEV_WEBHOOK_SECRET, signed_headers

SAMPLES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "v1"
WORKSTREAM = "6f1b3c2a-9d4e-4f00-8a11-0c0ffee00001"


def two_kib_sms_body() -> bytes:
    body = json.loads((SAMPLES / "sms-handoff.json").read_text())
    lines = body["data"]["transcript"]
    while len(json.dumps(body).encode()) < 2048:
        lines.append({"role": "customer", "text": "Friday works, thanks.", "sentAt": "2026-11-25T09:59:50Z"})
    return json.dumps(body).encode()


def configure(azurite: Azurite) -> None:
    os.environ.update(
        {
            "DATAVERSE_URL": "http://127.0.0.1:9",
            "DEFAULT_QUEUE_ID": WORKSTREAM,
            "OPENCX_WEBHOOK_SECRET": DEV_WEBHOOK_SECRET,
            "AzureWebJobsStorage": azurite.connection_string,
            "HANDOFF_QUEUE": "bench-ingress",
        }
    )


def signed_requests(body: bytes, count: int, prefix: str) -> list[func.HttpRequest]:
    """Signed ahead of time: OpenCX signs, not the bridge, so signing is outside the measurement."""
    return [
        func.HttpRequest(
            method="POST",
            url="/api/handoffs",
            headers=signed_headers(body, webhook_id=f"{prefix}-{i}"),
            body=body,
        )
        for i in range(count)
    ]


def measure(rounds: int, warmup: int) -> dict[str, object]:
    from handoff_trigger.ingress import handle_handoff
    from shared.platform.queues import QueueProfile, make_queue_client
    from shared.platform.settings import get_settings

    body = two_kib_sms_body()
    settings = get_settings()
    bare = make_queue_client(settings.storage, "bench-bare", QueueProfile.INGRESS)
    bare.create_queue()
    payload = body.decode()
    requests_ = signed_requests(body, rounds + warmup, f"msg_bench_{time.time_ns()}")
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
    return {"body_bytes": len(body), "ingress_ms": summary(ingress_ms), "bare_enqueue_ms": summary(bare_ms)}


def handler_cpu_micros(count: int) -> float:
    """CPU per request with every storage call stubbed: verify + validate + build the message."""
    import handoff_trigger.ingress as ingress

    storage_calls = ("send", "get_row", "record_accepted")
    originals = {name: getattr(ingress, name) for name in storage_calls if hasattr(ingress, name)}
    try:
        for name in originals:
            setattr(ingress, name, _stub)
        requests_ = signed_requests(two_kib_sms_body(), count, f"msg_cpu_{time.time_ns()}")
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
    args = parser.parse_args()
    with Azurite() as azurite:
        configure(azurite)
        figures = measure(args.rounds, args.warmup)
        figures["handler_cpu_us_per_request"] = handler_cpu_micros(max(args.rounds, 200))
    ingress, bare = figures["ingress_ms"], figures["bare_enqueue_ms"]
    figures["ratio_p50"] = ingress["p50"] / bare["p50"]
    figures["ratio_p99"] = ingress["p99"] / bare["p99"]
    figures["goal_ratio"] = 1.3
    print_table(
        f"Ingress, {figures['body_bytes']} B SMS handoff, {ingress['n']} interleaved rounds",
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
