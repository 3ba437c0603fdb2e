"""bench.media runs, and the relay holds a file about once (memory, not time: machines are noisy)."""

from __future__ import annotations

from bench import media


def test_the_media_benchmark_relays_a_file_holding_it_about_once() -> None:
    size, figures = media.measure(2.0, 1)
    size_mb = size / 1e6
    for case in ("to_customer", "to_rep"):
        # base64 once (1.33x) plus fixed buffers, not the bytes and copies of them
        assert figures[case]["peak_mb"] < 1.4 * size_mb + 0.5, figures
    assert figures["naive_relay"]["peak_mb"] > 3 * size_mb, figures  # the baseline really copies
