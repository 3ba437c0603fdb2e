"""The handoff as OpenCX sends it (DESIGN section 2), validated and normalised.

The same `Handoff` model travels inside the queue message, so normalisation must be stable: a
normalised handoff validates to itself.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

HANDOFF_REQUESTED = "handoff.requested"
SUMMARY_MAX = 10_000
SESSION_ID_MAX = 128
NAME_MAX = 200
LANGUAGE_MAX = 35


class Channel(StrEnum):
    """The channels OpenCX hands off as Omnichannel live work items."""

    SMS = "sms"
    WHATSAPP = "whatsapp"
    WEB = "web"

    @property
    def needs_phone(self) -> bool:
        return self in (Channel.SMS, Channel.WHATSAPP)


def normalise_phone(raw: str) -> str:
    """Any international written form -> E.164. Raises PydanticCustomError when it can't."""
    import phonenumbers  # loaded on first use: keeps the function app's import light

    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    if not text.startswith("+"):
        raise PydanticCustomError(
            "phone_not_international", "must be an international number starting with + (E.164)"
        )
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise PydanticCustomError("phone_invalid", "is not a phone number that can be normalised") from None
    # is_possible_number (length rules) rather than is_valid_number (allocated ranges): refusing a
    # real customer because the metadata lags a new number range would drop a handoff.
    if not phonenumbers.is_possible_number(number):
        raise PydanticCustomError("phone_invalid", "is not a phone number that can be normalised")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    # A national prefix written after the country code ('+31 0...') is stripped on parse; when that
    # leaves a number that would parse differently again, it is not a number we can trust.
    if (
        phonenumbers.format_number(phonenumbers.parse(e164, None), phonenumbers.PhoneNumberFormat.E164)
        != e164
    ):
        raise PydanticCustomError("phone_invalid", "is not a phone number that can be normalised")
    return e164


def normalise_email(raw: str) -> str:
    """Syntax check without DNS, normalised (domain lower-cased). Invalid -> PydanticCustomError."""
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        raise PydanticCustomError("email_invalid", "is not a valid email address") from None


class Customer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str | None = None
    phone: str | None = None
    email: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        value = (value or "").strip()
        return value[:NAME_MAX] or None

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return normalise_phone(value) if value and value.strip() else None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return normalise_email(value) if value and value.strip() else None


class TranscriptLine(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: str
    text: str
    sentAt: datetime | None = None


class Handoff(BaseModel):
    """`data` of a handoff.requested event: what a rep needs, normalised."""

    model_config = ConfigDict(extra="ignore")

    sessionId: Annotated[str, Field(min_length=1, max_length=SESSION_ID_MAX)]
    channel: Channel
    summary: Annotated[str, Field(min_length=1, max_length=SUMMARY_MAX)]
    customer: Customer = Field(default_factory=Customer)
    language: str | None = None
    transcript: list[TranscriptLine] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    # Set by ingress when the queue message had to be trimmed (DESIGN section 3).
    transcriptTruncated: bool = False
    metadataTruncated: bool = False
    summaryTruncated: bool = False

    @field_validator("sessionId")
    @classmethod
    def _session_id(cls, value: str) -> str:
        if not value.strip():
            raise PydanticCustomError("blank", "must not be blank")
        return value

    @field_validator("summary")
    @classmethod
    def _summary(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise PydanticCustomError("blank", "must not be blank")
        return value

    @field_validator("language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        value = (value or "").strip()
        return value[:LANGUAGE_MAX] or None

    @field_validator("customer", mode="before")
    @classmethod
    def _customer_null(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("transcript", "metadata", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any, info: Any) -> Any:
        if value is None:
            return [] if info.field_name == "transcript" else {}
        return value


class HandoffEvent(BaseModel):
    """The webhook envelope of a handoff.requested event."""

    model_config = ConfigDict(extra="ignore")

    type: str
    timestamp: datetime | None = None
    data: Handoff


class FieldError(BaseModel):
    field: str
    message: str


class HandoffInvalid(Exception):
    """The body is JSON but not a valid handoff. Carries every failing field."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__(", ".join(error.field for error in errors))


def _field_path(location: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in location) or "(body)"


def _phone_required_error(body: dict[str, Any]) -> FieldError | None:
    """Cross-field rule: sms and whatsapp handoffs need a phone to reach the customer."""
    data = body.get("data")
    if not isinstance(data, dict) or data.get("channel") not in (Channel.SMS, Channel.WHATSAPP):
        return None
    customer = data.get("customer")
    phone = customer.get("phone") if isinstance(customer, dict) else None
    if isinstance(phone, str) and phone.strip():
        return None
    if phone is not None and not isinstance(phone, str):
        return None  # pydantic reports the wrong type
    return FieldError(field="data.customer.phone", message=f"is required for {data['channel']} handoffs")


MAX_NESTING = 32


def _repair_text(text: str) -> str:
    """Lone UTF-16 surrogates (a JSON `\\ud83d` from an emoji cut in half) cannot be encoded as
    UTF-8 and would crash serialisation later: pair what pairs, replace the rest with U+FFFD."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def sanitise(value: Any) -> Any:
    """Repair every string in a decoded JSON value, refusing nesting deeper than MAX_NESTING.

    Iterative, so a hostile body cannot exhaust the stack.
    """
    root: list[Any] = [value]
    stack: list[tuple[Any, int]] = [(root, 0)]
    while stack:
        container, depth = stack.pop()
        if depth > MAX_NESTING:
            raise HandoffInvalid(
                [FieldError(field="(body)", message=f"is nested deeper than {MAX_NESTING} levels")]
            )
        keys = range(len(container)) if isinstance(container, list) else list(container)
        for key in keys:
            item = container[key]
            if isinstance(item, str):
                container[key] = _repair_text(item)
            elif isinstance(item, dict):
                repaired = {_repair_text(k) if isinstance(k, str) else k: v for k, v in item.items()}
                container[key] = repaired
                stack.append((repaired, depth + 1))
            elif isinstance(item, list):
                stack.append((item, depth + 1))
    return root[0]


def parse_handoff_event(body: dict[str, Any]) -> HandoffEvent:
    """Validate a decoded handoff.requested body, listing every failing field at once."""
    body = sanitise(body)
    errors: list[FieldError] = []
    event: HandoffEvent | None = None
    try:
        event = HandoffEvent.model_validate(body)
    except ValidationError as exc:
        errors = [
            FieldError(field=_field_path(error["loc"]), message=error["msg"])
            for error in exc.errors(include_input=False, include_url=False)
        ]
    phone_error = _phone_required_error(body)
    if phone_error and all(error.field != phone_error.field for error in errors):
        errors.append(phone_error)
    if errors or event is None:
        raise HandoffInvalid(errors)
    return event
