import logging

import pytest
from logs import own_records, rendered

from shared.platform.log import get_logger, log_event, safe_dimensions


def _mine(caplog) -> logging.LogRecord:
    """This test's last record: a background thread of an earlier test (a status write, a relay)
    may log meanwhile, so never look at all of caplog (tests/logs.py)."""
    return own_records(caplog, logger="handoff_bridge.test")[-1]


def test_log_event_masks_pii_and_drops_customer_text(caplog):
    logger = get_logger("test")
    with caplog.at_level(logging.INFO, logger="handoff_bridge"):
        log_event(
            logger,
            "handoff.accepted",
            handoffId="msg_1",
            sessionId="ses_1",
            phone="+14155550123",
            email="dana.reyes@example.com",
            summary="Customer wants to move delivery of order 1182",
            error="contact dana.reyes@example.com at +1 415 555 0123 failed",
        )
    record = _mine(caplog)
    text = rendered(record)
    assert "4155550123" not in text and "555 0123" not in text
    assert "dana.reyes" not in text
    assert "order 1182" not in text
    assert record.handoffId == "msg_1"
    assert record.sessionId == "ses_1"
    assert record.phone == "+1******0123"
    assert record.summaryLength == len("Customer wants to move delivery of order 1182")
    assert record.event == "handoff.accepted"


def test_reserved_logrecord_names_do_not_break_logging(caplog):
    with caplog.at_level(logging.INFO, logger="handoff_bridge"):
        log_event(get_logger("test"), "x", msg="clash", args="clash", levelname="clash")
    record = _mine(caplog)
    assert record.msg_ == "clash" and record.args_ == "clash" and record.levelname_ == "clash"
    assert record.levelname == "INFO" and record.name == "handoff_bridge.test"


def test_safe_dimensions_skips_none():
    assert safe_dimensions({"a": None, "b": 1}) == {"b": 1}


def test_dimensions_named_level_and_event_are_dimensions(caplog):
    """log_event's own parameters are positional-only: a dimension of the same name is data."""
    with caplog.at_level(logging.DEBUG, logger="handoff_bridge"):
        log_event(get_logger("test"), "handoff.accepted", logging.INFO, level="gold", event="spoofed")
    record = _mine(caplog)
    assert record.levelno == logging.INFO
    assert "level=gold" in record.getMessage()
    # The record's `event` is what operators query: a dimension of that name must not replace it.
    assert record.event == "handoff.accepted"
    assert record.event_ == "spoofed"
    assert record.getMessage().startswith("handoff.accepted ")


def test_default_level_is_info_and_a_level_dimension_does_not_change_it(caplog):
    with caplog.at_level(logging.DEBUG, logger="handoff_bridge"):
        log_event(get_logger("test"), "x.y", level=logging.CRITICAL)
    assert _mine(caplog).levelno == logging.INFO


@pytest.mark.parametrize("key", ["sessionId", "handoffId", "reason", "error", "conversationId", "fields"])
@pytest.mark.parametrize("value", ["a\nhandoff.accepted forged=1", "a\r\nb", "a\x1b[2Jb", "a\x00b", "a\x85b"])
def test_control_characters_are_escaped_so_no_value_starts_a_log_line(caplog, key, value):
    with caplog.at_level(logging.INFO, logger="handoff_bridge"):
        log_event(get_logger("test"), "handoff.rejected", **{key: value})
    record = _mine(caplog)
    rendered = record.getMessage()
    assert "\n" not in rendered and "\r" not in rendered and "\x1b" not in rendered
    assert "\x00" not in rendered and "\x85" not in rendered
    assert "\n" not in str(getattr(record, key)) and "\x00" not in str(getattr(record, key))
    assert "\\x" in rendered


@pytest.mark.parametrize(
    "key", ["summary", "transcript", "description", "subject", "text", "name", "customerName", "body"]
)
def test_message_texts_and_names_are_never_logged(caplog, key):
    value = "Dana Reyes says: move order 1182 to Friday"
    with caplog.at_level(logging.INFO, logger="handoff_bridge"):
        log_event(get_logger("test"), "x", **{key: value})
    record = _mine(caplog)
    everything = rendered(record)
    assert "Dana" not in everything and "1182" not in everything
    assert getattr(record, f"{key}Length") == len(value)


@pytest.mark.parametrize("key", ["token", "secret"])
def test_secrets_are_never_logged(caplog, key):
    with caplog.at_level(logging.INFO, logger="handoff_bridge"):
        log_event(get_logger("test"), "x", **{key: "whsec_c2VjcmV0LXZhbHVlLWhlcmUh"})
    assert "c2VjcmV0" not in rendered(_mine(caplog))
