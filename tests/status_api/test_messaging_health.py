"""GET /api/health in mode messaging reports which app may call the webhook (over HTTP)."""

from __future__ import annotations

import requests
from messaging_helpers import FUNCTION_KEY, MessagingBridge, messaging_bridge_fixture  # noqa: F401


def _check(bridge: MessagingBridge) -> dict:
    health = requests.get(
        f"{bridge.url}/api/health", headers={"x-functions-key": FUNCTION_KEY}, timeout=30
    ).json()
    return next(check for check in health["checks"] if check["name"] == "messaging_webhook_app")


def test_health_names_the_webhook_app(messaging_bridge: MessagingBridge) -> None:
    check = _check(messaging_bridge)
    assert check["ok"] is True
    assert messaging_bridge.sim.app_id in check["detail"]


def test_health_fails_when_the_client_id_cannot_call_the_webhook(messaging_bridge: MessagingBridge) -> None:
    """Checked on the settings alone: with MESSAGING_CLIENT_ID set the other checks would ask Entra."""
    from shared.messaging.health import messaging_jobs
    from shared.platform.settings import load_settings

    client = "0d5a2d57-0000-4000-8000-0000000000bb"
    settings = load_settings({**messaging_bridge.env, "MESSAGING_CLIENT_ID": client})
    ok, detail, fix = messaging_jobs(settings)["messaging_webhook_app"]()
    assert ok is False
    assert client in detail and fix is not None and "MESSAGING_WEBHOOK_APP_ID" in fix
    alone = {k: v for k, v in messaging_bridge.env.items() if k != "MESSAGING_WEBHOOK_APP_ID"}
    ok, detail, _ = messaging_jobs(load_settings({**alone, "MESSAGING_CLIENT_ID": client}))[
        "messaging_webhook_app"
    ]()
    assert ok is True and client in detail  # the default
