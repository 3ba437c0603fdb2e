"""Queue blueprint: each message on HANDOFF_QUEUE becomes exactly one row in Dynamics: a live work
item (sms, whatsapp, web in mode work_item), a Messaging API conversation (those channels in mode
messaging) or an incident (every other channel).

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
