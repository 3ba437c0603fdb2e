"""Queue blueprint: each message on MESSAGING_QUEUE drains one conversation's outbox in one direction.

The relay module loads on the first message, so the HTTP functions' cold start does not pay for it.
"""

import azure.functions as func

bp = func.Blueprint()


@bp.function_name("relay_queue")
@bp.queue_trigger(arg_name="msg", queue_name="%MESSAGING_QUEUE%", connection="AzureWebJobsStorage")
def relay_queue(msg: func.QueueMessage) -> None:
    from relay_queue.worker import process_message

    process_message(msg)
