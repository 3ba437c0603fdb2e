"""Delivery throughput: queued v2 handoffs through the worker (enrich from the OpenCX simulator, then
create in the Dataverse simulator), driven by the local runner's queue listener with host.json
concurrency (batchSize + newBatchThreshold in flight), against Dataverse with a fixed latency and
its 52-concurrent-request cap. Each simulator runs in its own process.

`--latency 0.05 0.15` runs once per value: the simulated Dataverse latency, which the simulator adds
to every call (the contact lookup as well as the create; 150 ms is a realistic create). The ideal is
concurrency / (time one handoff spends waiting on its upstreams) = concurrency / (Dataverse latency x
Dataverse requests per handoff + OpenCX latency x OpenCX requests per handoff): what the worker could
do if nothing but upstream latency cost time. The report gives the ratio to that ideal, and the
OpenCX and Dataverse requests per handoff. At the first latency it also runs with 10% Dataverse 429s
(Retry-After 1) and with customers who gave neither phone nor email. OpenCX's 100-a-minute limit is
off (it would cap any run at 50 handoffs a minute; the burst test covers it).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.report import print_table, write_results
from bench.sim_process import OpenCXProcess, SimulatorProcess, use_stack
from devtools.azurite import Azurite

if TYPE_CHECKING:  # imported at run time inside the functions, to keep start-up light
    import azure.functions as func

    from devtools.localhost import QueueOptions
    from shared.opencx.handoff_message import HandoffMessage

ROOT = Path(__file__).resolve().parent.parent
WORKSTREAM = "6f1b3c2a-9d4e-4f00-8a11-0c0ffee00001"
LATENCIES = (0.05,)
DATAVERSE_CAP = 52
HISTORY = [
    {"text": "Hi, can I move my delivery to Friday?", "sender_type": "contact"},
    {"text": "Let me get a person to help.", "sender_type": "ai"},
]


def add_sessions(
    opencx: OpenCXProcess, count: int, label: str, without_identifier: bool = False
) -> list[str]:
    """`count` distinct conversations in the OpenCX simulator (one row each: the dedup window is per
    conversation). SMS from the seeded contact's phone, or a web chat whose customer gave neither
    phone nor email."""
    from concurrent.futures import ThreadPoolExecutor

    from devtools.opencx_sim import history_item

    history = [history_item(h["text"], sender_type=h["sender_type"]) for h in HISTORY]
    base = time.time_ns() % 10**9

    def add(index: int) -> str:
        fields = (
            {"channel": "web", "name": "Anonymous Web Visitor"}
            if without_identifier
            else {"channel": "sms", "name": "Dana Reyes", "phone_number": "+14155550123"}
        )
        session_id = f"bench-{label}-{base}-{index}"
        opencx.admin("POST", "sessions", {"session_id": session_id, "history": history, **fields})
        return session_id

    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(add, range(count)))


def queued_handoff(session_id: str, handoff_id: str | None = None) -> HandoffMessage:
    """The v2 message ingress would queue for OpenCX's handoff event on this conversation (the
    event carries no summary: the worker reads it from the session)."""
    from datetime import UTC, datetime

    from shared.opencx.handoff_message import build_message
    from shared.opencx.webhook import derive_handoff_id, parse_event

    data = {"conversation_id": session_id, "timestamp": datetime.now(UTC).isoformat(), "summary": ""}
    event = parse_event(
        {"event": "conversation.handoff_to_human", "organization_id": "org_bench", "data": data}
    )
    return build_message(handoff_id or derive_handoff_id(event), event, datetime.now(UTC), None)


def fill_queue(connection: str, queue: str, sessions: list[str]) -> None:
    """Put one v2 message per conversation on the queue, as ingress would, before the clock starts."""
    from concurrent.futures import ThreadPoolExecutor

    from azure.core.exceptions import ResourceExistsError
    from azure.storage.queue import QueueClient

    client = QueueClient.from_connection_string(connection, queue)
    with contextlib.suppress(ResourceExistsError):
        client.create_queue()

    def put(session_id: str) -> None:
        message = queued_handoff(session_id)
        client.send_message(base64.b64encode(message.to_json().encode()).decode())

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, sessions))


def run_once(
    azurite: Azurite,
    sim: SimulatorProcess,
    opencx: OpenCXProcess,
    sessions: list[str],
    label: str,
    latency: float,
    opencx_latency: float,
) -> dict[str, float]:
    import function_app
    from devtools.localhost import QueueOptions

    queue = f"bench-{label}-{time.time_ns() % 10**8}"
    os.environ["HANDOFF_QUEUE"] = queue
    _reset_caches()
    count = len(sessions)
    fill_queue(azurite.connection_string, queue, sessions)
    before = sim.admin("GET", "stats")
    opencx_before = opencx.admin("GET", "stats")["requests"]
    items_before = before["work_items"]
    options = QueueOptions.from_host_json(ROOT / "host.json")
    concurrency = options.batch_size + options.new_batch_threshold
    host = _host(function_app.app, options)
    cpu_started = time.process_time()
    machine_started = _machine_cpu()
    in_flight: list[int] = []
    started = time.perf_counter()
    host.start_queues()
    next_check = 0.0
    while True:
        in_flight.append(sum(listener._in_flight() for listener in host.listeners))
        now = time.perf_counter()
        if now >= next_check:
            if sim.admin("GET", "stats")["work_items"] - items_before >= count:
                break
            next_check = now + 0.05
        if now - started > 600:
            raise TimeoutError("delivery did not finish in 10 minutes")
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    machine_busy = _machine_busy(machine_started, _machine_cpu())
    host.stop(drain_seconds=5)
    after = sim.admin("GET", "stats")
    per_handoff = (after["requests"] - before["requests"]) / count
    opencx_per_handoff = (opencx.admin("GET", "stats")["requests"] - opencx_before) / count
    ideal = concurrency / (latency * per_handoff + opencx_latency * opencx_per_handoff)
    return {
        "handoffs": count,
        "dataverse_latency_s": latency,
        "opencx_latency_s": opencx_latency,
        "seconds": elapsed,
        "handoffs_per_s": count / elapsed,
        "concurrency": concurrency,
        "dataverse_requests_per_handoff": per_handoff,
        "opencx_requests_per_handoff": opencx_per_handoff,
        "ideal_handoffs_per_s": ideal,
        "fraction_of_ideal": (count / elapsed) / ideal,
        "worker_cpu_ms_per_handoff": cpu / count * 1000,
        "mean_in_flight": sum(in_flight) / len(in_flight),
        "machine_cpu_busy": machine_busy,
    }


def _peak_rss_mb() -> float:
    """Peak resident memory of this process, which is the worker (Linux reports kilobytes)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine: worker, Azurite and simulator share 2 cores."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def _machine_busy(before: tuple[int, int], after: tuple[int, int]) -> float:
    busy, total = after[0] - before[0], after[1] - before[1]
    return busy / total if total else 0.0


class _QueuesOnly:
    """The runner's queue listeners without its HTTP server, so nothing else competes for CPU."""

    def __init__(self, listeners: list) -> None:
        self.listeners = listeners

    def start_queues(self) -> None:
        for listener in self.listeners:
            listener.start()

    def stop(self, drain_seconds: float) -> None:
        for listener in self.listeners:
            listener.stop(drain_seconds)


_FUNCTIONS: list = []


def _host(app: func.FunctionApp, options: QueueOptions) -> _QueuesOnly:
    from devtools.localhost import QueueListener, app_functions

    if not _FUNCTIONS:
        _FUNCTIONS.extend(app_functions(app))
    queue_functions = [f for f in _FUNCTIONS if "queue" in str(f.get_trigger().get_binding_name()).lower()]
    return _QueuesOnly([QueueListener(f, options, os.environ) for f in queue_functions])


def _reset_caches() -> None:
    from shared.platform import process
    from shared.platform.settings import get_settings

    get_settings.cache_clear()
    process.close_all()


def run_latency(args: argparse.Namespace, latency: float, first: bool) -> dict[str, Any]:
    """One Dataverse latency: the clean run and, for the first latency, the extra cases."""
    figures: dict[str, Any] = {}
    with (
        Azurite() as azurite,
        SimulatorProcess("--latency", str(latency), "--max-concurrency", str(DATAVERSE_CAP)) as sim,
        OpenCXProcess("--rate-limit", "0", "--latency", str(args.opencx_latency)) as opencx,
    ):
        sim.admin("POST", "workstreams", {"workstream_id": WORKSTREAM, "name": "Bench workstream"})
        sim.admin("POST", "contacts", {"mobilephone": "+14155550123", "fullname": "Dana Reyes"})
        use_stack(sim, opencx, azurite.connection_string, DEFAULT_QUEUE_ID=WORKSTREAM)
        run = lambda count, label, **kw: run_once(  # noqa: E731 - a local shorthand
            azurite,
            sim,
            opencx,
            add_sessions(opencx, count, label, **kw),
            label,
            latency,
            args.opencx_latency,
        )
        figures["clean"] = run(args.handoffs, "clean")
        if first:
            figures["peak_rss_mb_after_clean_run"] = _peak_rss_mb()
            figures["no_identifier"] = run(max(100, args.handoffs // 2), "noid", without_identifier=True)
            sim.admin("POST", "faults", {"kind": "status", "status": 429, "retry_after": 1, "rate": 0.1})
            figures["throttled_10pct"] = run(args.handoffs, "throttled")
    return figures


def _row(name: str, run: dict) -> tuple[str, str]:
    return (
        name,
        f"{run['handoffs_per_s']:.0f}/s of ideal {run['ideal_handoffs_per_s']:.0f}/s "
        f"(ratio {run['fraction_of_ideal']:.2f}), OpenCX {run['opencx_requests_per_handoff']:.2f} + "
        f"Dataverse {run['dataverse_requests_per_handoff']:.2f} req/handoff, {run['handoffs']} in "
        f"{run['seconds']:.1f}s, worker CPU {run['worker_cpu_ms_per_handoff']:.1f} ms/handoff, mean in flight "
        f"{run['mean_in_flight']:.1f}, machine CPU {run['machine_cpu_busy']:.0%}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--handoffs", type=int, default=1000)
    parser.add_argument(
        "--latency",
        type=float,
        nargs="+",
        default=list(LATENCIES),
        help="simulated Dataverse latency in seconds, one run per value (e.g. 0.05 0.15)",
    )
    parser.add_argument(
        "--opencx-latency", type=float, default=0.0, help="simulated OpenCX latency in seconds"
    )
    args = parser.parse_args()
    figures: dict[str, Any] = {"dataverse_cap": DATAVERSE_CAP, "opencx_latency_s": args.opencx_latency}
    rows = []
    for index, latency in enumerate(args.latency):
        runs = run_latency(args, latency, first=index == 0)
        figures[f"latency_{latency * 1000:.0f}ms"] = runs
        ms = f"{latency * 1000:.0f} ms"
        rows.append(_row(f"clean, Dataverse {ms}", runs["clean"]))
        for name in ("throttled_10pct", "no_identifier"):
            if name in runs:
                rows.append(_row(f"{name}, Dataverse {ms}", runs[name]))
        if "peak_rss_mb_after_clean_run" in runs:
            rows.append(
                ("worker peak RSS after the first clean run", f"{runs['peak_rss_mb_after_clean_run']:.0f} MB")
            )
    print_table(
        f"Delivery, Dataverse latency {', '.join(f'{x * 1000:.0f} ms' for x in args.latency)}, "
        f"cap {DATAVERSE_CAP} concurrent, OpenCX latency {args.opencx_latency * 1000:.0f} ms",
        rows,
    )
    print(f"\nwritten: {write_results('delivery', figures)}")


if __name__ == "__main__":
    main()
