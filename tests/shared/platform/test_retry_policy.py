import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from shared.platform.retry_policy import (
    Outcome,
    backoff_seconds,
    classify,
    parse_retry_after,
    retry_delay_seconds,
)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.SUCCESS),
        (201, Outcome.SUCCESS),
        (204, Outcome.SUCCESS),
        (None, Outcome.TRANSIENT),  # a dropped connection or a timeout
        (408, Outcome.TRANSIENT),
        (500, Outcome.TRANSIENT),
        (502, Outcome.TRANSIENT),
        (503, Outcome.TRANSIENT),
        (504, Outcome.TRANSIENT),
        (429, Outcome.THROTTLED),  # waiting, not failing: its own outcome
        (400, Outcome.PERMANENT),
        (401, Outcome.PERMANENT),
        (403, Outcome.PERMANENT),
        (404, Outcome.PERMANENT),
        # A 412 is never success by its code: rows.create_row confirms it with a GET first.
        (412, Outcome.PERMANENT),
    ],
)
def test_classification_follows_design_section_6(status, outcome):
    assert classify(status) is outcome


def test_retry_after_seconds_and_http_date():
    now = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == pytest.approx(
        30
    )
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now) == 0
    assert parse_retry_after("99999999") == 3600
    for bad in (None, "", "soon", "nan"):
        assert parse_retry_after(bad) is None


def test_backoff_is_full_jitter_exponential_and_capped():
    rng = random.Random(1)
    for attempt, ceiling in [(0, 2), (1, 4), (3, 16), (7, 256), (8, 300), (50, 300)]:
        samples = [backoff_seconds(attempt, rng) for _ in range(300)]
        assert all(0 <= s <= ceiling for s in samples)
        assert max(samples) > ceiling * 0.8
        assert min(samples) < ceiling * 0.2


def test_retry_delay_prefers_retry_after_and_never_spins():
    assert retry_delay_seconds(5, 3.2) == 4
    assert retry_delay_seconds(5, 0.0) == 1
    assert 1 <= retry_delay_seconds(0, None, random.Random(3)) <= 2


def test_a_throttled_crowd_is_spread_but_never_earlier_than_retry_after():
    rng = random.Random(3)
    delays = [retry_delay_seconds(0, 10, rng, spread=True) for _ in range(200)]
    assert min(delays) >= 10 and max(delays) <= 15
    assert len(set(delays)) >= 4  # not all in the same second
    assert {retry_delay_seconds(0, 10, rng) for _ in range(20)} == {10}  # no spread unless asked
