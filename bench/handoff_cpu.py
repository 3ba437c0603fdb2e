"""Worker CPU per handoff: process CPU time (not wall time) of `retry_queue.worker.handle` for one
SMS handoff: two OpenCX reads (session, one history page), the dedup-window query and one contact
lookup, one work-item create, the status-row write. The simulators and Azurite run in their own
processes, so only the worker's own CPU is counted; the queue receive/delete is the host's and is
not in it. Handoffs run one at a time, so no thread competes inside this process.

Baseline in the same run: one bare `requests` GET to the Dataverse simulator, so a machine that
is slower today shows in both figures. `--profile FILE` writes cProfile stats of the measured
rounds (read them with `python -m pstats FILE`, or see `--top`).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import time

from bench.delivery import HISTORY, WORKSTREAM, queued_handoff
from bench.report import print_table, write_results
from bench.sim_process import OpenCXProcess, SimulatorProcess, use_stack
from devtools.azurite import Azurite

PHONE = "+14155550123"


def _sessions(opencx: OpenCXProcess, count: int) -> list[str]:
    from devtools.opencx_sim import history_item

    history = [history_item(h["text"], sender_type=h["sender_type"]) for h in HISTORY]
    base = time.time_ns() % 10**9
    ids = []
    for index in range(count):
        session_id = f"cpu-{base}-{index}"
        opencx.admin(
            "POST",
            "sessions",
            {"session_id": session_id, "history": history, "channel": "sms", "name": "Dana Reyes",
             "phone_number": PHONE},
        )  # fmt: skip
        ids.append(session_id)
    return ids


def measure(count: int, warmup: int, profile_path: str | None) -> dict[str, object]:
    import requests

    from retry_queue.worker import handle
    from shared.dynamics.dataverse import dataverse_client
    from shared.opencx.client import opencx_client
    from shared.platform.settings import get_settings

    with (
        Azurite() as azurite,
        SimulatorProcess() as sim,
        OpenCXProcess("--rate-limit", "0") as opencx,
    ):
        sim.admin("POST", "workstreams", {"workstream_id": WORKSTREAM, "name": "Bench workstream"})
        sim.admin("POST", "contacts", {"mobilephone": PHONE, "fullname": "Dana Reyes"})
        use_stack(
            sim, opencx, azurite.connection_string, DEFAULT_QUEUE_ID=WORKSTREAM,
            HANDOFF_QUEUE=f"bench-cpu-{time.time_ns() % 10**8}",
        )  # fmt: skip
        settings = get_settings()
        messages = [queued_handoff(s) for s in _sessions(opencx, count + warmup)]
        opencx_api, dataverse_api = opencx_client(), dataverse_client()
        bare = requests.Session()
        bare_url = f"{sim.url}/_sim/stats"
        handoff_cpu: list[float] = []
        bare_cpu: list[float] = []
        outcomes: dict[str, int] = {}
        profiler = cProfile.Profile(time.process_time) if profile_path else None  # CPU, not waiting
        for index, message in enumerate(messages):
            measured = index >= warmup
            started = time.process_time()
            bare.get(bare_url, timeout=30).raise_for_status()
            bare_elapsed = time.process_time() - started
            if profiler is not None and measured:
                profiler.enable()
            started = time.process_time()
            done = handle(message, settings, opencx_api, dataverse_api)
            elapsed = time.process_time() - started
            if profiler is not None and measured:
                profiler.disable()
            if measured:
                handoff_cpu.append(elapsed * 1000)
                bare_cpu.append(bare_elapsed * 1000)
                outcomes[done] = outcomes.get(done, 0) + 1
        if profiler is not None and profile_path:
            profiler.dump_stats(profile_path)
    return {
        "handoffs": count,
        "outcomes": outcomes,
        "worker_cpu_ms_per_handoff_median": statistics.median(handoff_cpu),
        "worker_cpu_ms_per_handoff_mean": statistics.fmean(handoff_cpu),
        "bare_get_cpu_ms_median": statistics.median(bare_cpu),
        "ratio_to_bare_get": statistics.fmean(handoff_cpu) / max(statistics.fmean(bare_cpu), 1e-6),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--handoffs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--profile", help="write cProfile stats of the measured rounds here")
    parser.add_argument("--top", type=int, default=0, help="print the N costliest functions (cumulative)")
    args = parser.parse_args()
    figures = measure(args.handoffs, args.warmup, args.profile)
    print_table(
        f"Worker CPU per handoff (process CPU time, {args.handoffs} SMS handoffs one at a time)",
        [
            ("outcomes", str(figures["outcomes"])),
            ("worker CPU per handoff, median", f"{figures['worker_cpu_ms_per_handoff_median']:.2f} ms"),
            ("worker CPU per handoff, mean", f"{figures['worker_cpu_ms_per_handoff_mean']:.2f} ms"),
            ("one bare requests GET, median", f"{figures['bare_get_cpu_ms_median']:.2f} ms"),
            ("ratio (mean) to the bare GET", f"{figures['ratio_to_bare_get']:.1f}x"),
        ],
    )
    if args.profile and args.top:
        pstats.Stats(args.profile).sort_stats("cumulative").print_stats(args.top)
    print(f"\nwritten: {write_results('handoff_cpu', figures)}")


if __name__ == "__main__":
    main()
