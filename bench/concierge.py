"""What the concierge costs a handoff (docs/concierge.md): the extra latency of the availability
call (and the ledger reads and writes, and the notice send) on one handoff, p50/p95 against the
same run with CONCIERGE=false, and the extra Dataverse, OpenCX and table requests per handoff.

Handoffs run one at a time through worker.handle (enrich, create, and with the concierge: decide,
notice), against the Dataverse and OpenCX simulators in their own processes with a fixed latency
each, and Azurite. Four runs: off; on with an open queue and a line (an acknowledgment each); on
with a closed queue (a notice each); on with the API refused (405: unknown, no notice).
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from typing import Any

from bench.delivery import WORKSTREAM, _reset_caches, add_sessions, queued_handoff
from bench.report import print_table, summary, write_results
from bench.sim_process import OpenCXProcess, SimulatorProcess, use_stack
from devtools.azurite import Azurite

RUNS = ("off", "open_line", "closed", "refused")
NIGHT = "2026-12-08T03:00:00Z"
DAY = "2026-12-08T15:30:00Z"


def _count_table_calls() -> Counter[str]:
    """Wrap the ledger's calls in this process, so the extra table requests are counted."""
    from shared.concierge import ledger

    counts: Counter[str] = Counter()
    real = ledger._call

    def counted(action: str, operation: Any) -> Any:
        counts[action] += 1
        return real(action, operation)

    ledger._call = counted
    return counts


def _configure(run: str, sim: SimulatorProcess) -> None:
    os.environ["CONCIERGE"] = "false" if run == "off" else "true"
    script: dict[str, Any] = {"enabled": run != "refused", "time_zone": "America/New_York"}
    script.update({"now": NIGHT} if run == "closed" else {"now": DAY, "line": 3, "average_wait_seconds": 185})
    sim.admin("POST", "availability", script)
    _reset_caches()  # settings read afresh: every shared client, these two included, is rebuilt


def run_one(
    run: str, sim: SimulatorProcess, opencx: OpenCXProcess, count: int, table: Counter[str]
) -> dict[str, Any]:
    from retry_queue.worker import handle
    from shared.dynamics.dataverse import dataverse_client
    from shared.opencx.client import opencx_client
    from shared.platform.settings import get_settings

    _configure(run, sim)
    sessions = add_sessions(opencx, count, run)
    dv_before = len(sim.admin("GET", "requests")["value"])
    ocx_before = len(opencx.admin("GET", "requests")["value"])
    table.clear()
    samples: list[float] = []
    settings = get_settings()
    for index, session_id in enumerate(sessions):
        message = queued_handoff(session_id, f"h-{run}-{index}")
        started = time.perf_counter()
        outcome = handle(message, settings, opencx_client(), dataverse_client())
        samples.append((time.perf_counter() - started) * 1000)
        assert outcome == "created", outcome
    dv = len(sim.admin("GET", "requests")["value"]) - dv_before
    ocx = len(opencx.admin("GET", "requests")["value"]) - ocx_before
    return {
        "latency_ms": summary(samples),
        "dataverse_per_handoff": dv / count,
        "opencx_per_handoff": ocx / count,
        "table_per_handoff": sum(table.values()) / count,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--handoffs", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.05, help="Dataverse latency, seconds")
    parser.add_argument("--opencx-latency", type=float, default=0.03)
    args = parser.parse_args()
    figures: dict[str, Any] = {"handoffs": args.handoffs, "dataverse_latency_s": args.latency}
    with (
        Azurite() as azurite,
        SimulatorProcess("--latency", str(args.latency)) as sim,
        OpenCXProcess("--rate-limit", "0", "--latency", str(args.opencx_latency)) as opencx,
    ):
        sim.admin("POST", "workstreams", {"workstream_id": WORKSTREAM, "name": "Bench workstream"})
        use_stack(
            sim, opencx, azurite.connection_string, DEFAULT_QUEUE_ID=WORKSTREAM, HANDOFF_QUEUE="benchconcierge",
            HANDOFF_DEDUP_WINDOW_SECONDS="0", CONCIERGE_TIME_ZONE="America/New_York",
        )  # fmt: skip
        table = _count_table_calls()
        for run in RUNS:
            figures[run] = run_one(run, sim, opencx, args.handoffs, table)
    base = figures["off"]
    rows = []
    for run in RUNS:
        f = figures[run]
        lat = f["latency_ms"]
        extra = (
            ""
            if run == "off"
            else (
                f" (+{lat['p50'] - base['latency_ms']['p50']:.1f} / +{lat['p95'] - base['latency_ms']['p95']:.1f} ms)"
            )
        )
        rows.append(
            (
                run,
                f"p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms{extra}; per handoff: Dataverse "
                f"{f['dataverse_per_handoff']:.2f}, OpenCX {f['opencx_per_handoff']:.2f}, table (ledger) "
                f"{f['table_per_handoff']:.2f}",
            )
        )
    print_table(
        f"Concierge cost per handoff ({args.handoffs} handoffs per run, Dataverse {args.latency * 1000:.0f} ms, "
        f"OpenCX {args.opencx_latency * 1000:.0f} ms)",
        rows,
    )
    print(f"\nresults: {write_results('concierge', figures)}")


if __name__ == "__main__":
    main()
