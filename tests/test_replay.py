"""A stored evaluation replays to the same cards: the facts and context the audit trail keeps
are enough to run the rules again (the basis of `alp-cds kb impact`)."""

from __future__ import annotations

import json

import pytest

from cds_service.alp_services import AlpServices
from cds_service.clinical import engine
from cds_service.clinical.facts import Facts
from cds_service.clinical.plan import plan
from cds_service.explain import evaluate_document
from cds_service.knowledge.model import KnowledgeBase
from tests.conftest import NOW, load_scenario, scenario_names


@pytest.mark.parametrize("name", scenario_names())
def test_a_stored_evaluation_replays_to_the_same_cards(kb: KnowledgeBase, name: str) -> None:
    services = AlpServices(kb, "http://localhost", "org.alp-cds.lab-result-sign", clock=lambda: NOW)
    request, _ = load_scenario(name)
    response = evaluate_document(services, request)
    stored = json.loads(json.dumps(response.trace, default=str))  # as the audit store keeps it
    replayed = []
    for evaluation in stored.get("evaluations", []):
        if "facts" not in evaluation:
            continue
        facts = Facts.from_trace(evaluation["facts"], evaluation["context"])
        replayed.append(engine.replay(kb, facts, evaluation["observation"]))
    again = [
        (p.rule_id, p.summary, [s.orderable.id for s in p.suggestions]) for p in plan(kb, replayed)
    ]
    sent = response.to_json()["cards"]
    assert [r for r, _, _ in again] == [c["source"]["topic"]["display"] for c in sent]
    assert [s for _, s, _ in again] == [c["summary"] for c in sent]
    assert sum(len(o) for _, _, o in again) == sum(len(c.get("suggestions", [])) for c in sent)
