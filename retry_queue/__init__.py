"""Queue blueprint: each message on HANDOFF_QUEUE becomes exactly one Dynamics row (a live work
item or an incident) or, in mode messaging, one Messaging API conversation.

The worker module (requests, azure-identity) loads on the first message, not at app import, so
the HTTP function's cold start does not pay for it.
"""

import azure.functions as func

bp = func.Blueprint()


@bp.function_name("retry_queue")
@bp.queue_trigger(arg_name="msg", queue_name="%HANDOFF_QUEUE%", connection="AzureWebJobsStorage")
def retry_queue(msg: func.QueueMessage) -> None:
    from retry_queue.worker import process_message

    process_message(msg)
