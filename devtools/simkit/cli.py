"""`python -m devtools.<simulator>` helpers: the common arguments, and serving in the foreground until
SIGINT/SIGTERM after printing one JSON line that says where the simulator listens."""

from __future__ import annotations

import argparse
import json
import signal
import threading
from types import FrameType
from typing import Protocol


class Stoppable(Protocol):
    def stop(self) -> None: ...


def simulator_parser(prog: str, description: str | None) -> argparse.ArgumentParser:
    """A parser with the arguments every simulator takes: --port and --latency."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--port", type=int, default=None, help="listen port (default: any free port)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every API call")
    return parser


def serve_until_signal(sim: Stoppable, info: dict[str, object]) -> int:
    """Print `info` as one JSON line (what a parent process reads), serve until SIGINT/SIGTERM, stop."""
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(json.dumps(info), flush=True)
    while not stopping.wait(0.5):
        pass
    sim.stop()
    return 0
