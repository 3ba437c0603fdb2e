import pytest

from shared.platform.masking import mask_email, mask_phone, scrub_text


@pytest.mark.parametrize(
    ("phone", "masked"),
    [("+14155550123", "+1******0123"), ("+4915123456789", "+4********6789"), (None, None), ("", "")],
)
def test_mask_phone_keeps_country_digit_and_last_four(phone, masked):
    assert mask_phone(phone) == masked


def test_mask_email_hides_mailbox_and_domain():
    assert mask_email("priya.n@example.com") == "p***@e***.com"
    assert "priya" not in mask_email("priya.n@example.com")
    assert mask_email(None) is None


def test_scrub_text_masks_embedded_pii():
    text = scrub_text("call +1 415 555 0123 or mail jonas.mueller@example.de today")
    assert "555 0123" not in text
    assert "jonas.mueller" not in text
    assert "example.de" not in text
    assert "today" in text


def test_scrub_text_leaves_guids_and_counts_alone():
    text = "item 12bfee1b-6e87-58f4-9a31-0c1d2e3f2667 took 1234567 ms"
    assert scrub_text(text) == text


def test_redact_known_removes_the_handoffs_own_texts_then_masks():
    from shared.platform.masking import redact_known

    summary = "Customer wants to move delivery of order 1182 to Friday."
    text = redact_known(
        f"Plugin: Dana Reyes wrote '{summary}' (reyes call +14155550123); Dana again",
        ["Dana Reyes", summary, "", "ab"],
    )
    assert "order 1182" not in text and "Dana" not in text and "Reyes" not in text
    assert "4155550123" not in text
    assert text.startswith("Plugin: [redacted] wrote '[redacted]")


def test_redact_known_ignores_short_values():
    from shared.platform.masking import redact_known

    assert redact_known("error on row abc", ["abc", "ro"]) == "error on row abc"


def test_a_cut_or_split_echo_of_the_summary_is_redacted():
    """Review finding: Dataverse echoes what it was sent, often the subject cut at 200 units, so
    whole-text matching let most of the summary through."""
    from shared.platform.masking import redact_known

    summary = (
        "Customer disputes a refund amount on invoice INV-20931 and wants a person to review it. "
        "She was charged twice for shipping on the order placed last Tuesday evening."
    )
    echoed = f"Plugin error: subject '{summary[:70]}...' is not allowed; detail: charged twice for shipping on the order"
    redacted = redact_known(echoed, [summary])
    assert "refund amount" not in redacted and "INV-20931" not in redacted
    assert "Plugin error" in redacted
