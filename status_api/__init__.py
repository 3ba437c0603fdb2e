"""HTTP blueprint for support: GET /api/handoffs/{sessionId} and GET /api/health.

The handlers live in their own modules and load on first call, so the webhook's cold start does
not pay for them.
"""

import azure.functions as func

bp = func.Blueprint()


@bp.function_name("handoff_status")
@bp.route(route="handoffs/{sessionId}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def handoff_status(req: func.HttpRequest) -> func.HttpResponse:
    from status_api.status import handle_status

    return handle_status(req)


@bp.function_name("health")
@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def health(req: func.HttpRequest) -> func.HttpResponse:
    from status_api.health import handle_health

    return handle_health(req)
