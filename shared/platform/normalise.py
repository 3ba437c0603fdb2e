"""Phone and email normalisation, used where customer contact points enter (OpenCX's session) and
where they are compared (the contact lookup)."""

from __future__ import annotations


class NotNormalisable(ValueError):
    """The value is not a phone number or email we can trust; the message is safe to log."""


def normalise_phone(raw: str) -> str:
    """Any international written form -> E.164. Raises NotNormalisable when it can't."""
    import phonenumbers  # loaded on first use: keeps the function app's import light

    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    if not text.startswith("+"):
        raise NotNormalisable("must be an international number starting with + (E.164)")
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise NotNormalisable("is not a phone number that can be normalised") from None
    # is_possible_number (length rules) rather than is_valid_number (allocated ranges): refusing a
    # real customer because the metadata lags a new number range would drop a handoff.
    if not phonenumbers.is_possible_number(number):
        raise NotNormalisable("is not a phone number that can be normalised")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    # A national prefix written after the country code ('+31 0...') is stripped on parse; when that
    # leaves a number that would parse differently again, it is not a number we can trust.
    if (
        phonenumbers.format_number(phonenumbers.parse(e164, None), phonenumbers.PhoneNumberFormat.E164)
        != e164
    ):
        raise NotNormalisable("is not a phone number that can be normalised")
    return e164


def normalise_email(raw: str) -> str:
    """Syntax check without DNS, normalised (domain lower-cased). Invalid -> NotNormalisable."""
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        raise NotNormalisable("is not a valid email address") from None
