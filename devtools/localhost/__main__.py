"""`python -m devtools.localhost`: load settings, import the app, serve until SIGINT/SIGTERM, then drain
in-flight invocations and exit 0. Prints what it serves as one JSON line."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
from pathlib import Path

from devtools.localhost import LocalHost
from devtools.localhost.config import load_local_settings, logger
from devtools.simkit.cli import stop_on_signal


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.localhost", description=__doc__)
    parser.add_argument("--port", type=int, default=7071)
    parser.add_argument("--host-json", type=Path, default=Path("host.json"))
    parser.add_argument("--app", default="function_app", help="module that defines `app`")
    parser.add_argument("--settings", type=Path, default=Path("local.settings.json"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("azure").setLevel(logging.WARNING)  # the SDK logs every HTTP request at INFO
    loaded = load_local_settings(args.settings)
    host = LocalHost(importlib.import_module(args.app).app, args.host_json, args.port).start()
    stopping = stop_on_signal()
    info = {
        "url": host.url,
        "functions": [r.function.get_function_name() for r in host.front.routes]
        + [t.name for t in host.triggers],
        "queues": [q.queue_name for q in host.listeners],
        "timers": {t.name: t.expression for t in host.timers},
        "settings_loaded": loaded,
    }
    if "LOCAL_FUNCTION_KEY" not in os.environ:
        info["function_key"] = host.function_key
    print(json.dumps(info), flush=True)
    stopping.wait()
    logger.info("stopping: draining in-flight invocations")
    host.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
