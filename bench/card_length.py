"""Card length over the whole scenario library (ARCHITECTURE.md section 5).

A clinician gives a card about 20 seconds: detail median at most 80 words and never over 150,
every summary under 140 characters. `python -m bench.card_length` prints the figures and the
longest cards; tests/test_card_length.py holds the limits.
"""

from __future__ import annotations

import json
import statistics
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cds_service.alp_services import AlpServices
from cds_service.app import load_knowledge_base
from cds_service.explain import evaluate_document
from cds_service.settings import Settings

SCENARIOS = Path(__file__).resolve().parent.parent / "fhir_fixtures" / "scenarios"


@dataclass(frozen=True)
class Measured:
    scenario: str
    rule: str
    words: int
    summary_chars: int


def measure() -> list[Measured]:
    settings = Settings.from_env({}, dev_mode=True)
    services = AlpServices(
        load_knowledge_base(settings),
        "http://localhost:8080",
        settings.result_sign_hook,
        clock=lambda: datetime(2026, 11, 21, 12, tzinfo=UTC),
    )
    found = []
    for folder in sorted(p for p in SCENARIOS.iterdir() if (p / "request.json").is_file()):
        request = json.loads((folder / "request.json").read_text("utf-8"))
        for card in evaluate_document(services, request).to_json()["cards"]:
            found.append(
                Measured(
                    folder.name,
                    card["source"]["topic"]["display"],
                    len(card.get("detail", "").split()),
                    len(card["summary"]),
                )
            )
    return found


def main() -> int:
    cards = measure()
    words = [c.words for c in cards]
    print(f"{len(cards)} cards over {len({c.scenario for c in cards})} scenarios")
    print(f"detail words: median {statistics.median(words):g}, max {max(words)}")
    print(f"summary characters: max {max(c.summary_chars for c in cards)}")
    for card in sorted(cards, key=lambda c: -c.words)[:5]:
        print(f"  {card.words:4d} words  {card.rule}  ({card.scenario})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
