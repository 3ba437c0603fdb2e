"""Values as people write them, within the worst values the settings check assumed, and every
rendered notice within one segment in both alphabets (a property test over values and zones)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.concierge.wording import compose, language_of, local_time, wait_phrase
from shared.platform.notice_templates import DEFAULTS, PLACEHOLDERS, WORST_VALUES
from shared.platform.sms import fits_one_segment, segment_cost

ZONES = sorted(available_timezones())


def test_times_in_the_zone_people_write_them():
    instant = datetime(2026, 12, 8, 14, 0, tzinfo=UTC)
    assert local_time(instant, ZoneInfo("America/New_York"), "en") == ("9:00 AM Tue", "EST")
    assert local_time(instant, ZoneInfo("Europe/Madrid"), "es") == ("mar 15:00", "CET")
    assert local_time(instant.replace(hour=23, minute=30), ZoneInfo("UTC"), "en")[0] == "11:30 PM Tue"


def test_waits_rounded_as_a_person_would():
    assert wait_phrase(None, "en") is None
    assert wait_phrase(0, "en") is None
    assert wait_phrase(45, "en") == "under a minute"
    assert wait_phrase(185, "en") == "about 3 minutes"
    assert wait_phrase(1000, "en") == "about 15 minutes"
    assert wait_phrase(7200, "en") == "about 2 hours"
    assert wait_phrase(185, "es") == "unos 3 minutos"


def test_language_falls_back_to_english():
    assert language_of("es-MX", DEFAULTS) == "es"
    assert language_of("fr", DEFAULTS) == "en"
    assert language_of(None, DEFAULTS) == "en"


@settings(max_examples=300, deadline=None)
@given(
    instant=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
    ),
    zone=st.sampled_from(ZONES),
    language=st.sampled_from(sorted(DEFAULTS)),
    wait=st.one_of(st.none(), st.floats(min_value=0, max_value=10 * 86_400)),
    position=st.one_of(st.none(), st.integers(min_value=1, max_value=999)),
    ticket=st.from_regex(r"CAS-[0-9]{5}-[A-Z0-9]{6}", fullmatch=True),
)
def test_every_notice_fits_one_segment(instant, zone, language, wait, position, ticket):
    opens, zone_text = local_time(instant, ZoneInfo(zone), language)
    phrase = wait_phrase(wait, language)
    values = {
        "opens": opens,
        "zone": zone_text,
        "ticket": ticket,
        "position": str(position) if position else None,
        "wait": phrase,
    }
    for name in PLACEHOLDERS:
        text, _ = compose(DEFAULTS, name, language, values)
        if text is not None:
            assert fits_one_segment(text), (text, segment_cost(text))


def test_formatters_stay_within_the_worst_values_the_settings_check_used():
    for language, worst in WORST_VALUES.items():
        for zone in ZONES:
            start = datetime(2026, 1, 5, tzinfo=UTC)
            for hours in range(0, 7 * 24, 7):
                opens, zone_text = local_time(
                    start + timedelta(hours=hours, minutes=30), ZoneInfo(zone), language
                )
                assert len(opens) <= max(len(v) for v in worst["opens"])
                assert zone_text is None or len(zone_text) <= len(worst["zone"][0])
        for seconds in range(0, 40_000, 37):
            phrase = wait_phrase(seconds, language)
            assert phrase is None or len(phrase) <= max(len(v) for v in worst["wait"])
