"""Delivery throughput: queued handoffs through the worker, driven by the local runner's queue
listener with host.json concurrency (batchSize + newBatchThreshold in flight), against the
simulator with a fixed latency and Dataverse's 52-concurrent-request cap.

The ideal is concurrency / (latency x requests per handoff): what the worker could do if
nothing but Dataverse's latency cost time. Run once clean and once with 10% 429s (Retry-After 1).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import time
from pathlib import Path

from bench.report import print_table, write_results
from bench.sim_process import SimulatorProcess
from devtools.azurite import Azurite
from devtools.signing import DEV_WEBHOOK_SECRET

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "tests" / "fixtures" / "v1"
WORKSTREAM = "6f1b3c2a-9d4e-4f00-8a11-0c0ffee00001"
LATENCY = 0.05
DATAVERSE_CAP = 52


def sample_data(sample: str, without_identifier: bool = False) -> dict:
    data = json.loads((SAMPLES / sample).read_text())["data"]
    if without_identifier:  # a web chat whose customer gave neither phone nor email
        data["customer"] = {"name": data["customer"]["name"]}
    return data


def fill_queue(connection: str, queue: str, count: int, data: dict, prefix: str) -> None:
    """Put `count` v1 messages on the queue, as ingress would, before the clock starts."""
    from concurrent.futures import ThreadPoolExecutor
    from datetime import UTC, datetime

    from azure.core.exceptions import ResourceExistsError
    from azure.storage.queue import QueueClient

    from shared.opencx.webhook import Handoff
    from shared.platform.queue_message import build_message

    handoff = Handoff.model_validate(data)
    client = QueueClient.from_connection_string(connection, queue)
    with contextlib.suppress(ResourceExistsError):
        client.create_queue()

    def put(index: int) -> None:
        message = build_message(f"{prefix}-{index}", handoff, datetime.now(UTC), None)
        client.send_message(base64.b64encode(message.to_json().encode()).decode())

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, range(count)))


def run_once(azurite: Azurite, sim: SimulatorProcess, count: int, data: dict, label: str) -> dict[str, float]:
    import function_app
    from devtools.localhost import QueueOptions

    queue = f"bench-{label}-{time.time_ns() % 10**8}"
    os.environ["HANDOFF_QUEUE"] = queue
    _reset_caches()
    fill_queue(azurite.connection_string, queue, count, data, f"msg_{label}_{time.time_ns()}")
    before = sim.admin("GET", "stats")
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
    requests_made = after["requests"] - before["requests"]
    per_handoff = requests_made / count
    ideal = concurrency / (LATENCY * per_handoff)
    return {
        "handoffs": count,
        "seconds": elapsed,
        "handoffs_per_s": count / elapsed,
        "concurrency": concurrency,
        "dataverse_requests_per_handoff": per_handoff,
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


def _host(app: object, options: object) -> _QueuesOnly:
    from devtools.localhost import QueueListener, app_functions

    if not _FUNCTIONS:
        _FUNCTIONS.extend(app_functions(app))
    queue_functions = [f for f in _FUNCTIONS if "queue" in str(f.get_trigger().get_binding_name()).lower()]
    return _QueuesOnly([QueueListener(f, options, os.environ) for f in queue_functions])


def _reset_caches() -> None:
    from shared.dynamics.dataverse import dataverse_client
    from shared.platform.queues import queue_client
    from shared.platform.settings import get_settings

    get_settings.cache_clear()
    queue_client.cache_clear()
    dataverse_client.cache_clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--handoffs", type=int, default=1000)
    args = parser.parse_args()
    figures: dict[str, object] = {"latency_s": LATENCY, "dataverse_cap": DATAVERSE_CAP}
    with (
        Azurite() as azurite,
        SimulatorProcess("--latency", str(LATENCY), "--max-concurrency", str(DATAVERSE_CAP)) as sim,
    ):
        sim.admin("POST", "workstreams", {"workstream_id": WORKSTREAM, "name": "Bench workstream"})
        sim.admin("POST", "contacts", {"mobilephone": "+14155550123", "fullname": "Dana Reyes"})
        os.environ.update(sim.env())
        os.environ.update(
            {
                "DEFAULT_QUEUE_ID": WORKSTREAM,
                "OPENCX_WEBHOOK_SECRET": DEV_WEBHOOK_SECRET,
                "AzureWebJobsStorage": azurite.connection_string,
            }
        )
        sms = sample_data("sms-handoff.json")
        figures["clean"] = run_once(azurite, sim, args.handoffs, sms, "clean")
        figures["peak_rss_mb_after_clean_run"] = _peak_rss_mb()
        anonymous = sample_data("web-handoff.json", without_identifier=True)
        figures["no_identifier"] = run_once(azurite, sim, max(100, args.handoffs // 2), anonymous, "noid")
        sim.admin("POST", "faults", {"kind": "status", "status": 429, "retry_after": 1, "rate": 0.1})
        figures["throttled_10pct"] = run_once(azurite, sim, args.handoffs, sms, "throttled")
    rows = []
    for name in ("clean", "throttled_10pct", "no_identifier"):
        run = figures[name]
        rows.append(
            (
                name,
                f"{run['handoffs_per_s']:.0f}/s of ideal {run['ideal_handoffs_per_s']:.0f}/s "
                f"({run['fraction_of_ideal']:.0%}), {run['dataverse_requests_per_handoff']:.2f} req/handoff, "
                f"{run['handoffs']} in {run['seconds']:.1f}s, worker CPU {run['worker_cpu_ms_per_handoff']:.1f} "
                f"ms/handoff, mean in flight {run['mean_in_flight']:.1f}, machine CPU {run['machine_cpu_busy']:.0%}",
            )
        )
    rows.append(("worker peak RSS after the clean run", f"{figures['peak_rss_mb_after_clean_run']:.0f} MB"))
    print_table(f"Delivery, simulator latency {LATENCY * 1000:.0f} ms, cap {DATAVERSE_CAP} concurrent", rows)
    print(f"\nwritten: {write_results('delivery', figures)}")


if __name__ == "__main__":
    main()
