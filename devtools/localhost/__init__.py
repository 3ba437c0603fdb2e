"""A small, faithful stand-in for the Functions host, because Core Tools cannot be installed here.

`python -m devtools.localhost [--port 7071] [--host-json host.json] [--app function_app]` imports
the app, reads each function's own binding metadata (nothing is hard-coded per function), serves
HTTP triggers on 127.0.0.1:PORT/api/<route> with function-key checks (http.py, on Werkzeug), and
drives every queue trigger against Azurite with the host.json `extensions.queues` semantics
(queue_listener.py), fires every timer trigger on its NCRONTAB schedule (timer_listener.py,
ncrontab.py; `LocalHost.fire_timer(name)` or Core Tools' `POST /admin/functions/{name}` runs one now). config.py reads host.json, local.settings.json and %SETTING% names;
invocation.py calls a user function and writes the one log line per invocation; host.py puts the
parts together; cli.py is the command.
"""

from devtools.localhost.cli import main, parse_args
from devtools.localhost.config import (
    QueueOptions,
    app_functions,
    load_local_settings,
    parse_timespan,
    resolve_setting,
)
from devtools.localhost.host import LocalHost
from devtools.localhost.http import MAX_BODY_BYTES, HttpFront, HttpRoute, http_routes
from devtools.localhost.invocation import InvocationContext, call_user_function, log_invocation, logger
from devtools.localhost.ncrontab import Schedule, ScheduleError
from devtools.localhost.queue_listener import QueueCounts, QueueListener
from devtools.localhost.timer_listener import TimerInfo, TimerListener

__all__ = [
    "MAX_BODY_BYTES",
    "HttpFront",
    "HttpRoute",
    "InvocationContext",
    "LocalHost",
    "QueueCounts",
    "QueueListener",
    "QueueOptions",
    "Schedule",
    "ScheduleError",
    "TimerInfo",
    "TimerListener",
    "app_functions",
    "call_user_function",
    "http_routes",
    "load_local_settings",
    "log_invocation",
    "logger",
    "main",
    "parse_args",
    "parse_timespan",
    "resolve_setting",
]
