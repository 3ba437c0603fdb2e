"""HTTP blueprint: Microsoft's Messaging API posts the rep's activities here (docs/contract.md section 8, docs/messaging.md).

Anonymous at the Functions level: Microsoft appends `/v3/conversations/{id}/activities` to the
channel's `msdyn_webhookurl` and authenticates with a bearer token, which the handler validates.
"""

import azure.functions as func

bp = func.Blueprint()


@bp.function_name("messaging_webhook")
@bp.route(
    route="messaging/v3/conversations/{conversationId}/activities",
    methods=["POST"],
    auth_level=func.AuthLevel.ANONYMOUS,
)
def messaging_webhook(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    from messaging_webhook.webhook import handle_activity

    return handle_activity(req, context)
