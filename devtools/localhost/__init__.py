"""A small, faithful stand-in for the Functions host (`func start`), because Core Tools cannot be
installed here. It reads each function's own binding metadata, nothing per function: config.py (host.json,
local.settings.json, %SETTING%s), http.py (HTTP triggers and `POST /admin/functions/{name}`),
queue_listener.py (queue triggers against Azurite), timer_listener.py and ncrontab.py (timer triggers),
invocation.py (calling a function, one log line each), host.py (the parts together), __main__.py (the
command). Other code uses the names below.
"""

from devtools.localhost.config import QueueOptions, app_functions
from devtools.localhost.host import LocalHost
from devtools.localhost.queue_listener import QueueListener

__all__ = ["LocalHost", "QueueListener", "QueueOptions", "app_functions"]
