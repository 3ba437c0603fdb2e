"""`python -m devtools.dataverse_sim`: run the simulator in the foreground and print where it listens."""

from __future__ import annotations

import argparse
import sys

from devtools.dataverse_sim import DataverseSimulator
from devtools.dataverse_sim.demo import seed_demo
from devtools.dataverse_sim.simulator import DUPLICATE_CODE_DOCUMENTED, DUPLICATE_CODE_EMPTY
from devtools.simkit.cli import serve_until_signal, simulator_parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = simulator_parser("python -m devtools.dataverse_sim", __doc__)
    parser.add_argument("--seed-demo", action="store_true", help="add the demo workstream and contacts")
    parser.add_argument("--token-lifetime", type=float, default=3600.0, help="seconds a token stays valid")
    parser.add_argument("--max-concurrency", type=int, default=None, help="429 above this many in flight")
    help_empty = "answer 412 on an existing key with an empty error code, as Microsoft's own example does"
    parser.add_argument("--empty-duplicate-code", action="store_true", help=help_empty)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Start, print one JSON line (url, identity_endpoint, identity_header), serve until SIGINT/SIGTERM."""
    args = parse_args(argv)
    sim = DataverseSimulator(
        token_lifetime=args.token_lifetime,
        port=args.port,
        latency=args.latency,
        max_concurrency=args.max_concurrency,
        duplicate_code=DUPLICATE_CODE_EMPTY if args.empty_duplicate_code else DUPLICATE_CODE_DOCUMENTED,
    ).start()
    info: dict[str, object] = {"url": sim.url, "identity_endpoint": sim.identity_endpoint}
    info["identity_header"] = sim.identity_header
    if args.seed_demo:
        info["demo"] = seed_demo(sim)
    return serve_until_signal(sim, info)


if __name__ == "__main__":
    sys.exit(main())
