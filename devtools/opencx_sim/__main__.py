"""`python -m devtools.opencx_sim`: run the simulator in the foreground and print where it listens."""

from __future__ import annotations

import argparse
import sys

from devtools.opencx_sim import DEFAULT_SCOPES, OpenCXSimulator, seed_demo
from devtools.opencx_sim.contract import HISTORY_ORDERS
from devtools.simkit.cli import serve_until_signal, simulator_parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = simulator_parser("python -m devtools.opencx_sim", __doc__)
    parser.add_argument("--key", default=None, help="the API key to accept (default: a random ocx_test_ key)")
    parser.add_argument("--scopes", default=",".join(DEFAULT_SCOPES), help="comma-separated, or 'full'")
    parser.add_argument("--seed-demo", action="store_true", help="add the five demo sessions")
    parser.add_argument("--page-size", type=int, default=50, help="history items per page")
    parser.add_argument(
        "--history-order", choices=HISTORY_ORDERS, default=HISTORY_ORDERS[0], help="undocumented by OpenCX"
    )
    parser.add_argument("--rate-limit", type=int, default=100, help="requests per window per key (0: none)")
    parser.add_argument("--rate-window", type=float, default=60.0, help="seconds in the rate window")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Start, print one JSON line (url, api_key, demo session ids), serve until SIGINT/SIGTERM."""
    args = parse_args(argv)
    scopes = (
        None if args.scopes.strip() == "full" else [s.strip() for s in args.scopes.split(",") if s.strip()]
    )
    sim = OpenCXSimulator(
        args.key,
        scopes=scopes,
        port=args.port,
        page_size=args.page_size,
        history_order=args.history_order,
        rate_limit=args.rate_limit or None,
        rate_window=args.rate_window,
        latency=args.latency,
    ).start()
    info: dict[str, object] = {"url": sim.url, "api_key": sim.api_key}
    if args.seed_demo:
        info["demo"] = seed_demo(sim)
    return serve_until_signal(sim, info)


if __name__ == "__main__":
    sys.exit(main())
