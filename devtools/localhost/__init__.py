"""A small, faithful stand-in for the Functions host (`func start`; README, "Running locally"): it reads
each function's own binding metadata, nothing is hard-coded per function. Other code uses these names.
"""

from devtools.localhost.config import QueueOptions, app_functions
from devtools.localhost.host import LocalHost
from devtools.localhost.queue_listener import QueueListener

__all__ = ["LocalHost", "QueueListener", "QueueOptions", "app_functions"]
