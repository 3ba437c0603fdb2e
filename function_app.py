"""Azure Functions entry point (v2 programming model). It only registers the blueprints."""

import os

import azure.functions as func

from handoff_trigger import bp as handoff_trigger_bp
from messaging_webhook import bp as messaging_webhook_bp
from reconcile_timer import bp as reconcile_timer_bp
from relay_queue import bp as relay_queue_bp
from retry_queue import bp as retry_queue_bp
from status_api import bp as status_api_bp

# The relay's trigger names %MESSAGING_QUEUE%; the Bicep always sets it, a local run in mode
# work_item may not. The webhook answers 404 unless DELIVERY_MODE=messaging.
os.environ.setdefault("MESSAGING_QUEUE", "messaging")

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(handoff_trigger_bp)
app.register_functions(retry_queue_bp)
app.register_functions(status_api_bp)
app.register_functions(messaging_webhook_bp)
app.register_functions(relay_queue_bp)
app.register_functions(reconcile_timer_bp)
