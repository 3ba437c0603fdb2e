"""Health checks for mode `messaging` (status_api/health.py adds them in that mode only).

- `messaging_token`: can a token be had for MESSAGING_TOKEN_SCOPE (the credential chosen by
  shared/messaging/credentials.py)?
- `messaging_channel`: one `GET .../conversations?PageSize=1` with that token, `channel-id` and
  `organization-id`: 401 means the channel is not authorised for the org, 404/30004 that the channel
  configuration does not exist. One read per health call; the docs ask not to *poll* that list.
- `table:<MESSAGING_TABLE>`: the mapping and outbox table is reachable.
- `messaging_webhook_app`: which app ids may call the webhook (MESSAGING_WEBHOOK_APP_ID, default
  MESSAGING_CLIENT_ID). The channel row's `msdyn_appid` is "the app used to authenticate Messaging
  API requests" (configure-custom-messaging-channel.md), so when MESSAGING_CLIENT_ID is set and not
  among them, the channel's own calls would be refused. What Microsoft really sends is checked by
  the go-live token probe (`make golive`).
- `messaging_reconcile`: when the reconciliation timer last swept (MESSAGING_RECONCILE_SECONDS is
  how old a conversation's last read must be; the timer ticks every minute). Failing when the last
  sweep is older than RECONCILE_STALE_SECONDS: the timer is not running, and rep messages Microsoft's
  webhook gives up on would stay lost.
Each returns (ok, detail, fix).
"""

from __future__ import annotations

from collections.abc import Callable

from shared.platform.settings import Settings

Result = tuple[bool, str, str | None]


def _token(settings: Settings) -> Result:
    from shared.messaging.factory import credential_for

    scope = settings.messaging.token_scope
    try:
        credential_for(settings).get_token(scope)
    except Exception as exc:  # azure.identity raises several types; each means "no token"
        return (
            False,
            f"no token for {scope}: {type(exc).__name__}",
            "Check MESSAGING_TOKEN_SCOPE, and the identity or app registration (MESSAGING_CLIENT_ID, its "
            "federated credential or MESSAGING_CLIENT_SECRET): see docs/deploy.md.",
        )
    return True, f"token issued for {scope}", None


def _channel(settings: Settings) -> Result:
    from shared.messaging.deps import process_deps

    client = process_deps().messaging
    if client is None:
        return False, "mode messaging is off", "Set DELIVERY_MODE=messaging."
    answer = client.request("GET", "conversations?PageSize=1", "health_list")
    if answer.ok:
        return True, "the channel is authorised for the organisation", None
    fixes = {
        401: "The token, MESSAGING_CHANNEL_ID or MESSAGING_ORGANIZATION_ID is refused: the channel row must "
        "belong to the organisation and name this app registration.",
        404: "The channel configuration does not exist (30004): MESSAGING_CHANNEL_ID must be the "
        "msdyn_occustommessagingchannel row id.",
    }
    return (
        False,
        f"Messaging API answered {answer.status or 'nothing'} (code {answer.error_code or '-'})",
        fixes.get(answer.status or 0, "Check MESSAGING_API_URL and the service's health."),
    )


def _table(settings: Settings) -> Result:
    from shared.messaging.deps import process_deps
    from shared.messaging.store import StoreUnavailable

    try:
        process_deps().links.by_session("health-probe")
    except StoreUnavailable as exc:
        return (
            False,
            f"unreachable: {exc}",
            "Check the table endpoint and the Storage Table Data Contributor role.",
        )
    return True, f"table {settings.messaging_table} reachable", None


def _webhook_app(settings: Settings) -> Result:
    messaging = settings.messaging
    allowed = messaging.webhook_app_ids
    source = "MESSAGING_WEBHOOK_APP_ID, default MESSAGING_CLIENT_ID"
    if not allowed:
        return (
            False,
            "no app may call the webhook",
            "Set MESSAGING_WEBHOOK_APP_ID to the channel's msdyn_appid.",
        )
    if messaging.client_id and messaging.client_id not in allowed:
        return (
            False,
            f"webhook callers limited to {' '.join(allowed)} ({source}), which lacks MESSAGING_CLIENT_ID "
            f"{messaging.client_id}",
            "The channel row's msdyn_appid is the app that authenticates Messaging API requests: add "
            f'MESSAGING_CLIENT_ID to MESSAGING_WEBHOOK_APP_ID (MESSAGING_WEBHOOK_APP_ID="{" ".join(allowed)} '
            f'{messaging.client_id}"), or run `make golive` to see the app id Microsoft sends.',
        )
    return True, f"webhook callers limited to {' '.join(allowed)} ({source})", None


RECONCILE_STALE_SECONDS = 600.0  # ten missed ticks


def _reconcile(settings: Settings) -> Result:
    import time

    from shared.messaging.deps import process_deps
    from shared.messaging.reconcile import last_sweep
    from shared.messaging.store import StoreUnavailable

    every = f"conversations read when quiet for {settings.messaging_reconcile_seconds:g} s"
    try:
        swept = last_sweep(process_deps())
    except StoreUnavailable as exc:
        return False, f"last sweep unreadable: {exc}", "Check the table endpoint and its role."
    if swept is None:
        return True, f"no sweep recorded yet ({every})", None
    age = time.time() - swept
    if age > RECONCILE_STALE_SECONDS:
        return (
            False,
            f"the last sweep was {age:.0f} s ago ({every})",
            "The reconcile_timer function is not running: check that it is enabled and the app is started; "
            "until it runs, rep messages Microsoft's webhook gave up on are not recovered.",
        )
    return True, f"last sweep {age:.0f} s ago ({every})", None


def messaging_jobs(settings: Settings) -> dict[str, Callable[[], Result]]:
    return {
        "messaging_reconcile": lambda: _reconcile(settings),
        "messaging_webhook_app": lambda: _webhook_app(settings),
        "messaging_token": lambda: _token(settings),
        "messaging_channel": lambda: _channel(settings),
        f"table:{settings.messaging_table}": lambda: _table(settings),
    }
