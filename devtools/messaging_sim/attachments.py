"""Attachments on a message the bridge sends (`POST .../activities`), checked as the org would check them.

`api-conversation-endpoint.md`: `attachments[{contentType (<= 256), contentUrl, name (<= 256)}]`,
"Required if no text is provided", `contentUrl` is "URL or embedded base64 content". Readings chosen:
all three fields are required; "embedded base64" is a `data:<type>;base64,<data>` URL (the Bot
Framework's inline-attachment convention), decoded strictly (not base64: 400); any other URL must be
https, or http to a loopback host. A URL is not fetched, so its size is unknown (None).

The org's file settings, from "Enable file attachments" (learn.microsoft.com/dynamics365/customer-
service/administer/enable-file-attachments, 2025-03-24): "By default, the application has a file size
limit of 5 megabytes (MB) (5,120 kilobytes)" (System Settings, Email tab) and the blocked extensions of
System Settings, General tab, whose default list is in Power Platform's "Manage privacy and security
settings" (learn.microsoft.com/power-platform/admin/settings-privacy-security). Both are constructor
options of MessagingSimulator (`attachment_max_kb`, `blocked_extensions`); breaking them is a 400 with
30012, the detail naming the attachment (the docs show no dedicated code).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from devtools.messaging_sim.store import ApiError

DEFAULT_MAX_KB = 5120
_BLOCKED = """ade adp app asa ashx asmx asp bas bat cdx cer chm class cmd com config cpl crt csh dll exe fxp hlp
hta htr htw ida idc idq inf ins isp its jar js jse ksh lnk mad maf mag mam maq mar mas mat mau mav maw mda mdb
mde mdt mdw mdz msc msh msh1 msh1xml msh2 msh2xml mshxml msi msp mst ops pcd pif prf prg printer pst reg rem
scf scr sct shb shs shtm shtml soap stm tmp url vb vbe vbs vsmacros vss vst vsw ws wsc wsf wsh"""
DEFAULT_BLOCKED_EXTENSIONS = frozenset(_BLOCKED.split())
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class ReceivedAttachment:
    """What arrived: `inline` for a data URL (then `size` and `sha256` of the decoded bytes), else `url`."""

    conversation_id: str
    message_id: str
    name: str
    content_type: str
    inline: bool
    size: int | None = None
    sha256: str | None = None
    url: str | None = None


def check_attachments(attachments: Any, *, allowed: bool, max_kb: int, blocked: frozenset[str]) -> list[Any]:
    """Each attachment of a message activity as `(name, content_type, data or None, url or None)`."""
    if attachments is None:
        return []
    if not isinstance(attachments, list):
        raise _bad("attachments must be an array.")
    if attachments and not allowed:
        raise _bad("File attachments are not enabled for customers on this channel.")
    return [
        _check_one(item, f"attachments[{index}]", max_kb, blocked) for index, item in enumerate(attachments)
    ]


def _bad(detail: str) -> ApiError:
    return ApiError(400, 30012, detail)


def _check_one(item: Any, where: str, max_kb: int, blocked: frozenset[str]) -> tuple[Any, ...]:
    if not isinstance(item, dict):
        raise _bad(f"{where} must be an object.")
    for key, limit in (("contentType", 256), ("contentUrl", None), ("name", 256)):
        value = item.get(key)
        if not isinstance(value, str) or not value.strip():
            raise _bad(f"{where}.{key} is required and must be a string.")
        if limit is not None and len(value) > limit:
            raise _bad(f"{where}.{key} is over {limit} characters.")
    name, url = item["name"], item["contentUrl"]
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension in blocked:
        raise _bad(f"{where}.name: files of type .{extension} are blocked by the organization.")
    if url.startswith("data:"):
        header, comma, payload = url.partition(",")
        if not comma or not header.endswith(";base64"):
            raise _bad(f"{where}.contentUrl must be data:<type>;base64,<data>.")
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise _bad(f"{where}.contentUrl is not valid base64.") from None
        if len(data) > max_kb * 1024:
            raise _bad(f"{where}: {len(data)} bytes is over the organization's limit of {max_kb} KB.")
        return name, item["contentType"], data, None
    parts = urlsplit(url)
    if not parts.hostname or not (
        parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK)
    ):
        raise _bad(f"{where}.contentUrl must be an https URL or base64 content.")
    return name, item["contentType"], None, url


def received(conversation_id: str, message_id: str, checked: tuple[Any, ...]) -> ReceivedAttachment:
    name, content_type, data, url = checked
    if data is None:
        return ReceivedAttachment(conversation_id, message_id, name, content_type, False, url=url)
    sha256 = hashlib.sha256(data).hexdigest()
    return ReceivedAttachment(conversation_id, message_id, name, content_type, True, len(data), sha256)
