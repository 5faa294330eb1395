"""Cards are read in 20 seconds: over every scenario, detail median <= 80 words and never over
150, every summary under 140 characters (ARCHITECTURE.md section 5)."""

from __future__ import annotations

import statistics

import pytest

from bench.card_length import measure


@pytest.mark.slow
def test_cards_over_all_scenarios_are_short_enough() -> None:
    cards = measure()
    assert len(cards) >= 60  # the library really produced cards to measure
    words = [c.words for c in cards]
    assert statistics.median(words) <= 80
    too_long = [(c.scenario, c.rule, c.words) for c in cards if c.words > 150]
    assert too_long == []
    assert max(c.summary_chars for c in cards) < 140
    # Review 22: the card contract's 126 characters (three summaries of the review and seven
    # of the library were over it).
    over = [(c.scenario, c.rule, c.summary_chars) for c in cards if c.summary_chars > 126]
    assert over == []
