"""A reviewer changes a threshold and adds a code in cards/, with no Python edited, and the
service behaves differently."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from flask import Flask

from tests.rules_helper import cards, fired
from tests.support.fhir import alp, condition

CARDS = Path(__file__).resolve().parent.parent / "cards"
LOCAL = "http://hospital.example.org/problem-codes"


def test_a_threshold_and_a_code_changed_in_cards_change_the_cards(
    tmp_path: Path, make_app: Callable[..., Flask]
) -> None:
    edited = tmp_path / "cards"
    shutil.copytree(CARDS, edited)

    before = make_app(kb_dir=edited).test_client()
    assert fired(cards(before, [alp(312)])) == ["alp-high-confirm-origin"]
    local_hypothyroidism = condition("HYPO-1", LOCAL)
    [first_low] = cards(before, [alp(20)], conditions=[local_hypothyroidism])
    assert first_low["source"]["topic"]["display"] == "alp-low-first"
    assert "may explain it" not in first_low["summary"]

    parameters = edited / "parameters.yaml"
    text = parameters.read_text("utf-8")
    old = "  extreme_xuln:\n    value: 10\n"
    assert old in text
    parameters.write_text(text.replace(old, "  extreme_xuln:\n    value: 3\n"), "utf-8")
    valueset = edited / "valuesets" / "hypothyroidism.yaml"
    valueset.write_text(
        valueset.read_text("utf-8").rstrip("\n")
        + f"\n  - system: {LOCAL}\n    code: HYPO-1\n    display: Hypothyroidism (local code)\n"
        "    source: unverified-code\n    verified: false\n",
        "utf-8",
    )

    after = make_app(kb_dir=edited).test_client()
    assert fired(cards(after, [alp(312)])) == ["alp-extreme", "alp-high-confirm-origin"]
    # The local code now counts as a recorded cause, which the first-low card names.
    [named] = cards(after, [alp(20)], conditions=[local_hypothyroidism])
    assert named["source"]["topic"]["display"] == "alp-low-first"
    assert "may explain it" in named["summary"]
    discovery = after.get("/cds-services").get_json()["services"][0]
    before_hash = before.get("/cds-services").get_json()["services"][0]["extension"]
    assert discovery["extension"] != before_hash  # the content hash moved with the edit
