import logging

from shared.platform.log import get_logger, log_event, safe_dimensions


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
    record = caplog.records[-1]
    rendered = caplog.text + repr(vars(record))
    assert "4155550123" not in rendered and "555 0123" not in rendered
    assert "dana.reyes" not in rendered
    assert "order 1182" not in rendered
    assert record.handoffId == "msg_1"
    assert record.sessionId == "ses_1"
    assert record.phone == "+1******0123"
    assert record.summaryLength == len("Customer wants to move delivery of order 1182")
    assert record.event == "handoff.accepted"


def test_reserved_logrecord_names_do_not_break_logging(caplog):
    with caplog.at_level(logging.INFO, logger="handoff_bridge"):
        log_event(get_logger("test"), "x", name="clash", msg="clash")
    assert caplog.records[-1].name_ == "clash"


def test_safe_dimensions_skips_none():
    assert safe_dimensions({"a": None, "b": 1}) == {"b": 1}
