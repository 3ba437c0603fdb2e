from shared.dynamics.columns import cut, newest_lines_within, utf16_length


def test_utf16_length_counts_surrogate_pairs_twice():
    assert utf16_length("a😀") == 3


def test_cut_marks_the_cut_and_never_splits_a_pair():
    text = cut("😀" * 10, 6)
    assert utf16_length(text) <= 6 and text.endswith("…")
    assert "\ud83d" not in text
    assert cut("short", 10) == "short"


def test_newest_lines_within_keeps_newest_oldest_first():
    out = newest_lines_within("head", ["one", "two", "three"], 4 + 3 + 12, "\nT:")
    assert out == "head\nT:\ntwo\nthree"
