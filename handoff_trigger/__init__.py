"""HTTP blueprint: POST /api/handoffs verifies, validates and durably enqueues an OpenCX handoff."""

import azure.functions as func

from handoff_trigger.ingress import handle_handoff

bp = func.Blueprint()


@bp.function_name("handoff_trigger")
@bp.route(route="handoffs", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def handoff_trigger(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return handle_handoff(req, context)
