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
    assert fired(cards(before, [alp(20)], conditions=[local_hypothyroidism])) == ["alp-low-first"]

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
    assert fired(cards(after, [alp(20)], conditions=[local_hypothyroidism])) == [
        "alp-low-explained"
    ]
    discovery = after.get("/cds-services").get_json()["services"][0]
    before_hash = before.get("/cds-services").get_json()["services"][0]["extension"]
    assert discovery["extension"] != before_hash  # the content hash moved with the edit
