"""Twenty-second round, part D (2026-12-02): the "In the record" line when none of its mentions
fits the card's word cap (docs/rulebook.md, "Twenty-second round (2026-12-02), part D")."""

from __future__ import annotations

from cds_service.render.cards import DETAIL_MAX_WORDS, _record_line

# Two mentions of three and four words: listed whole, the line is 10 words; with one, 9.
FACTORS = ["primary biliary cholangitis", "warfarin 5 mg daily"]


def _lines(words: int) -> list[str]:
    """The card's own lines: this many words."""
    return [" ".join(["word"] * words)]


def test_the_record_line_counts_what_it_leaves_out_when_no_mention_fits() -> None:
    # 124 words of the card's own: no mention fits (133 words with one), the count does (130).
    # Before this round the line was dropped and the reader could not tell the record was read.
    line = _record_line(FACTORS, _lines(DETAIL_MAX_WORDS - 6))
    assert line == "In the record: 2 more items."
    assert DETAIL_MAX_WORDS - 6 + len(line.split()) == DETAIL_MAX_WORDS
    assert _record_line(FACTORS[1:], _lines(DETAIL_MAX_WORDS - 6)) == "In the record: 1 more item."


def test_the_record_line_still_lists_what_fits_and_keeps_the_cap() -> None:
    assert _record_line(FACTORS, _lines(100)) == (
        "In the record: primary biliary cholangitis; warfarin 5 mg daily."
    )
    assert _record_line(FACTORS, _lines(DETAIL_MAX_WORDS - 9)) == (
        "In the record: primary biliary cholangitis (and 1 more)."
    )
    # Not even the count fits: no line (the cap holds).
    assert _record_line(FACTORS, _lines(DETAIL_MAX_WORDS - 5)) == ""
