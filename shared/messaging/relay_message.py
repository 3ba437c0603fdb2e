"""The messages on MESSAGING_QUEUE. They carry no order: order lives in the outbox (mapping.py).

- `drain`: relay what is pending for one conversation and direction. `holder` is set when a drain
  backs off on purpose and re-takes its own lock when it comes back.
- `activity`: an entry that could not be appended when it arrived (the table was down): the relay
  appends it, then drains. Order among such entries is the queue's, the one case without order.
- `resend`: the replay tool re-drives a dead-lettered entry: it becomes pending again.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.messaging.outbox import Direction


class RelayMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    v: Literal[1] = 1
    type: Literal["drain", "activity", "resend"] = "drain"
    conversationId: str = Field(min_length=1, max_length=256)
    direction: Direction
    holder: str | None = None
    seq: int | None = None
    dedupKey: str | None = None
    entry: dict[str, Any] | None = None
    traceparent: str | None = None

    def to_json(self) -> str:
        return self.model_dump_json(exclude_none=True)
