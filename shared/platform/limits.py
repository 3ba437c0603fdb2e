"""The size limits the bridge lives within, each written once, with the page that sets it.

Vendor limits first (the number the vendor documents, never a guess); then the bridge's own,
derived from them. A module that cuts or refuses a value imports the limit from here.
"""

from __future__ import annotations

# --- Dynamics 365 Contact Center, Messaging API -----------------------------------------------
# contact-center/extend/api/api-conversation-endpoint.md, the message activity's `text`:
# "6,000 characters" (past it the API answers error 30011).
MESSAGING_TEXT_MAX_CHARS = 6_000
# contact-center/extend/api/api-conversation-create.md, `startmessage`: "27 Kb", read as the smaller of
# 27,000 and 27,648 bytes.
MESSAGING_START_MESSAGE_MAX_BYTES = 27 * 1000
# api-conversation-create.md, `customercontext`: each field "200 chars".
MESSAGING_CUSTOMER_FIELD_MAX_CHARS = 200
# api-conversation-create.md, `conversationcontext`: "up to 100" entries (error 30010 past that).
MESSAGING_CONTEXT_MAX_ENTRIES = 100

# --- Azure Queue Storage ----------------------------------------------------------------------
# learn.microsoft.com/azure/storage/queues/storage-queues-introduction: "A queue message can be up to
# 64 KB in size". The app's queues are base64-encoded (host.json messageEncoding), which turns 3 bytes
# of JSON into 4, so one message holds at most 48 KiB of UTF-8 JSON.
QUEUE_MESSAGE_MAX_BYTES = 64 * 1024
QUEUE_MESSAGE_MAX_JSON_BYTES = QUEUE_MESSAGE_MAX_BYTES * 3 // 4

# --- The bridge's own -------------------------------------------------------------------------
# A dead-letter record keeps an unreadable message's raw text, JSON-escaped, within this many bytes:
# the rest of the record (reason, action, error, times) stays far below the other 19 KiB.
DEAD_LETTER_RAW_MAX_BYTES = 30_000

# --- Carriers and messaging apps (files to the customer) -----------------------------------------
# MMS: carriers accept about 5 MB per message in all, and at most 10 media
# (docs/messaging.md, "Pictures and files"; OpenCX's SMS page: "MMS (images, longer text) is
# supported on US long codes and toll-free").
MMS_MAX_TOTAL_BYTES = 5 * 1024 * 1024
MMS_MAX_MEDIA = 10
# WhatsApp Cloud API media: 16 MB per file (developers.facebook.com/docs/whatsapp/cloud-api/reference/media).
WHATSAPP_MEDIA_MAX_BYTES = 16 * 1024 * 1024
# The bridge's own: all the files of one message, held (as base64) until its one send: memory per
# message stays bounded whatever MEDIA_MAX_BYTES allows a single file.
MESSAGE_FILES_MAX_BYTES = 25 * 1024 * 1024
