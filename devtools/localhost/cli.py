"""`python -m devtools.localhost`: load settings, import the app, serve until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from devtools.localhost.config import load_local_settings
from devtools.localhost.host import LocalHost
from devtools.localhost.invocation import logger

DESCRIPTION = (
    "A small, faithful stand-in for the Functions host, because Core Tools cannot be installed here."
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devtools.localhost", description=DESCRIPTION)
    parser.add_argument("--port", type=int, default=7071)
    parser.add_argument("--host-json", type=Path, default=Path("host.json"))
    parser.add_argument("--app", default="function_app", help="module that defines `app`")
    parser.add_argument("--settings", type=Path, default=Path("local.settings.json"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run until SIGINT/SIGTERM, then drain in-flight invocations and exit 0."""
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr
    )
    logging.getLogger("azure").setLevel(logging.WARNING)  # the SDK logs every HTTP request at INFO
    loaded = load_local_settings(args.settings)
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    app = importlib.import_module(args.app).app
    host = LocalHost(app, args.host_json, args.port).start()
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    generated = "LOCAL_FUNCTION_KEY" not in os.environ
    info = {
        "url": host.url,
        "functions": [r.function.get_function_name() for r in host.routes]
        + [q.name for q in host.listeners]
        + [t.name for t in host.timers],
        "queues": [q.queue_name for q in host.listeners],
        "timers": {t.name: t.expression for t in host.timers},
        "settings_loaded": loaded,
    }
    if generated:
        info["function_key"] = host.function_key
    print(json.dumps(info), flush=True)
    while not stopping.wait(0.5):
        pass
    logger.info("stopping: draining in-flight invocations")
    host.stop()
    return 0
