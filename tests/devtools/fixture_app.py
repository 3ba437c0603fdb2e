"""A tiny Function App for the local runner's tests: one function per behaviour under test."""

from __future__ import annotations

import threading
import time

import azure.functions as func

# What the queue function saw, and how it should behave, keyed by message body.
SEEN: list[tuple[str, int]] = []
SEEN_LOCK = threading.Lock()
SLOW_SECONDS = 1.5


def build_app() -> func.FunctionApp:
    """A fresh app per test module: get_functions() may run only once per app object."""
    app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

    @app.function_name("echo")
    @app.route(route="items/{item_id}", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
    def echo(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
        return func.HttpResponse(
            f"{req.method} {req.route_params['item_id']} {req.params.get('q', '')} {req.get_body().decode()}"
            f" {context.function_name}",
            status_code=201,
            headers={"x-echo": "yes"},
            mimetype="text/plain",
        )

    @app.function_name("open")
    @app.route(route="open", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
    def open_route(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse('{"ok": true}', mimetype="application/json")

    @app.function_name("work")
    @app.queue_trigger(arg_name="msg", queue_name="%FIXTURE_QUEUE%", connection="FIXTURE_STORAGE")
    def work(msg: func.QueueMessage) -> None:
        body = msg.get_body().decode()
        with SEEN_LOCK:
            SEEN.append((body, msg.dequeue_count))
        if body.startswith("fail"):
            raise RuntimeError("asked to fail")
        if body.startswith("slow"):
            time.sleep(SLOW_SECONDS)

    @app.function_name("relay")
    @app.queue_trigger(arg_name="item", queue_name="%FIXTURE_RELAY_QUEUE%", connection="FIXTURE_STORAGE")
    def relay(item: func.QueueMessage) -> None:
        """A second queue trigger, on its own setting-named queue: every one must be driven."""
        with SEEN_LOCK:
            SEEN.append((f"relay:{item.get_body().decode()}", item.dequeue_count))

    @app.function_name("hook")
    @app.route(route="hook", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
    def hook(req: func.HttpRequest) -> func.HttpResponse:
        """An anonymous webhook (like the messaging one): no key, the body as received."""
        return func.HttpResponse(
            f"{len(req.get_body())} {req.get_body()[:16].decode()}", mimetype="text/plain"
        )

    return app
