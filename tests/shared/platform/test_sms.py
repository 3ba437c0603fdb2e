"""One SMS segment: 160 GSM-7 septets (extension characters count two), 70 UCS-2 code units."""

from shared.platform.sms import fits_one_segment, segment_cost


def test_plain_text_is_gsm7_up_to_160():
    assert segment_cost("a" * 160) == (160, 160)
    assert fits_one_segment("a" * 160)
    assert not fits_one_segment("a" * 161)


def test_extension_characters_count_double():
    assert segment_cost("€" * 80) == (160, 160)
    assert not fits_one_segment("€" * 80 + "a")
    assert segment_cost("[x]") == (5, 160)


def test_one_character_outside_gsm7_makes_it_ucs2():
    assert segment_cost("sáb") == (3, 70)
    assert fits_one_segment("á" * 70)
    assert not fits_one_segment("á" * 71)


def test_an_emoji_takes_two_ucs2_units():
    assert segment_cost("🙂" * 35) == (70, 70)
    assert not fits_one_segment("🙂" * 36)
