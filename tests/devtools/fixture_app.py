"""A tiny Function App for the local runner's tests: one function per behaviour under test."""

from __future__ import annotations

import threading
import time

import azure.functions as func

# What the queue function saw, and how it should behave, keyed by message body.
SEEN: list[tuple[str, int]] = []
SEEN_LOCK = threading.Lock()
SLOW_SECONDS = 1.5
# What the timer functions saw: (function name, past_due), and an event per function for waiting.
TICKS: list[tuple[str, bool]] = []
TICKED = {"tick": threading.Event(), "early": threading.Event(), "boom": threading.Event()}
YEARLY = "0 0 0 1 1 *"


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

    @app.function_name("tick")
    @app.timer_trigger(arg_name="timer", schedule="%FIXTURE_TIMER_SCHEDULE%")
    def tick(timer: func.TimerRequest) -> None:
        """A timer whose schedule is an app setting, as the reconcile sweep's may be."""
        _ticked("tick", timer.past_due)

    @app.function_name("early")
    @app.timer_trigger(arg_name="timer", schedule=YEARLY, run_on_startup=True)
    def early(timer: func.TimerRequest) -> None:
        _ticked("early", timer.past_due)

    @app.function_name("boom")
    @app.timer_trigger(arg_name="timer", schedule=YEARLY)
    def boom(timer: func.TimerRequest) -> None:
        _ticked("boom", timer.past_due)
        raise RuntimeError("asked to fail")

    return app


def _ticked(name: str, past_due: bool) -> None:
    with SEEN_LOCK:
        TICKS.append((name, past_due))
    TICKED[name].set()
