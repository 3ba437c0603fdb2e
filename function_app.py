"""Azure Functions entry point (v2 programming model). It only registers the blueprints."""

import azure.functions as func

from handoff_trigger import bp as handoff_trigger_bp
from retry_queue import bp as retry_queue_bp
from status_api import bp as status_api_bp

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(handoff_trigger_bp)
app.register_functions(retry_queue_bp)
app.register_functions(status_api_bp)
