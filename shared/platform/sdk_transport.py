"""How the Azure Storage SDK clients (queues, status table) talk HTTP: requests underneath, as the
SDK ships, minus the per-request work no storage call needs.

`requests.Session.request` merges proxy and CA settings from the whole environment, cookies and
hooks into every request, and resolves redirects; for a storage call that costs more CPU than
the exchange itself (docs/benchmarks.md). Here the environment is read once per client (NO_PROXY
honoured for the client's endpoint), and each request is prepared and handed to the session's
adapter directly: the SDK already sends `allow_redirects=False`, passes proxies and timeouts per
request, and uses no cookies. Imported on first use, like the SDKs.
"""

from __future__ import annotations

from typing import Any

import requests
from azure.core.pipeline.transport import RequestsTransport

from shared.platform.http import environment_settings


class _DirectSession(requests.Session):
    """A session whose `request` prepares the request and sends it through the mounted adapter,
    skipping the settings merge, cookie jar, hooks and redirect handling of `Session.request`."""

    def request(  # type: ignore[override]
        self,
        method: str,
        url: str,
        *,
        headers: Any = None,
        data: Any = None,
        files: Any = None,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
        stream: Any = False,
        allow_redirects: bool = False,
        **_ignored: Any,
    ) -> requests.Response:
        prepared = requests.PreparedRequest()
        prepared.prepare(
            method=method, url=url, headers={**self.headers, **(headers or {})}, files=files, data=data or {}
        )
        adapter = self.get_adapter(url)
        return adapter.send(
            prepared,
            stream=bool(stream),
            timeout=timeout,
            verify=True if verify is None else verify,
            cert=cert,
            proxies=proxies or {},
        )


class _DirectTransport(RequestsTransport):  # type: ignore[misc]  # exported lazily, so untyped
    """The SDK's requests transport over a `_DirectSession`, set up as the SDK sets up its own."""

    session: requests.Session | None

    def open(self) -> None:
        if not self.session and self._session_owner:
            self.session = _DirectSession()
            self._init_session(self.session)
        super().open()


def sdk_http_options(url: str, connect_timeout: float, read_timeout: float) -> dict[str, Any]:
    """Keyword arguments for an Azure Storage client on `url`: the transport, its timeouts and the
    environment's proxy and CA bundle."""
    proxies, bundle = environment_settings(url)
    transport_options: dict[str, Any] = {
        "use_env_settings": False,
        "connection_timeout": connect_timeout,
        "read_timeout": read_timeout,
    }
    if bundle:
        transport_options["connection_verify"] = bundle
    options: dict[str, Any] = {"transport": _DirectTransport(**transport_options)}
    if proxies:
        options["proxies"] = proxies
    return options
