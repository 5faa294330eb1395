"""The request pipeline without HTTP, its typed decision trace, and the hot path kept honest.

- The compiled request validator (jsonschema-rs) gives jsonschema's answer on valid and invalid
  bodies alike; jsonschema still itemises the 400.
- orjson reads what the standard library read, with the same refusals.
- Memoised value-set classification (per coding, and per whole concept) gives the uncached
  answer, shares nothing writable, and stays bounded; texts naming only parameters are rendered
  once; a rule is checked up to its first failed condition.
- The depth bound counts right and stops early.
- One table of data kinds drives prefetch, labels and the record: a new kind is one row.
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cds_service import alp_services, strict_json
from cds_service.alp_services import (
    DATA_KINDS,
    PATIENT_VIEW_ID,
    RESULT_SIGN_ID,
    AlpServices,
    DataKind,
)
from cds_service.clinical import classify, engine
from cds_service.clinical.record import PatientRecord
from cds_service.explain import evaluate_document
from cds_service.fhir import values
from cds_service.hooks.declaration import ServiceDeclaration
from cds_service.hooks.errors import CdsError
from cds_service.hooks.invocation import Invocation
from cds_service.hooks.patient_scope import names_another_patient
from cds_service.hooks.pipeline import Pipeline, json_depth
from cds_service.hooks.request import RequestValidator, request_validator
from cds_service.hooks.response import CdsResponse, Coding
from cds_service.hooks.trace import CardIssued, DataSource, DecisionTrace
from cds_service.knowledge.model import (
    CLASSIFY_CACHE_MAX_LENGTH,
    CLASSIFY_CACHE_SIZE,
    CONCEPT_MEMO_MAX_KEY,
    BoundedMemo,
    Condition,
    KnowledgeBase,
    normalise_code,
)
from cds_service.render.cards import card_trace
from cds_service.serving import gunicorn_options
from cds_service.settings import Settings
from tests.conftest import NOW
from tests.support import fhir
from tests.test_fuzz import BUNDLES, JSON_VALUES, KEYS, PREFETCH, TEXT, valid_request

SIGN = "/cds-services/alp-result-sign"
VIEW = "/cds-services/alp-patient-view"


@pytest.fixture(scope="module")
def services(kb: KnowledgeBase) -> AlpServices:
    return AlpServices(
        kb,
        "https://cds.example.org",
        fhir.RESULT_SIGN_HOOK,
        clock=lambda: NOW,
    )


@pytest.fixture(scope="module")
def declarations(services: AlpServices) -> dict[str, ServiceDeclaration]:
    return {d.id: d for d in services.declarations()}


@pytest.fixture(scope="module")
def pipeline(declarations: dict[str, ServiceDeclaration]) -> Pipeline:
    return Pipeline.offline(declarations.values(), "the tests fetch nothing")


# --- the compiled validator and jsonschema give one answer -------------------------------------


@pytest.fixture(scope="module")
def validators(declarations: dict[str, ServiceDeclaration]) -> dict[str, RequestValidator]:
    """Per path; a small Bundle entry limit, so the limit is crossed by generated bodies too."""
    return {
        SIGN: request_validator(declarations[RESULT_SIGN_ID].hook, 3),
        VIEW: request_validator(declarations[PATIENT_VIEW_ID].hook, 3),
    }


def assert_one_answer(validator: RequestValidator, body: Any) -> None:
    full = not any(True for _ in validator.full.iter_errors(body))
    try:
        fast = validator.fast.is_valid(body)
    except (ValueError, TypeError, OverflowError):
        return  # RequestValidator.check then asks jsonschema alone
    assert fast == full, json.dumps(body, default=repr)[:2000]


AGREEMENT = settings(max_examples=150, deadline=None, derandomize=True, database=None)


@AGREEMENT
@given(
    path=st.sampled_from([SIGN, VIEW]),
    fields=st.dictionaries(
        st.sampled_from(
            [
                "hook",
                "hookInstance",
                "context",
                "prefetch",
                "extension",
                "fhirAuthorization",
                "fhirServer",
                "x",
            ]
        ),
        st.one_of(TEXT, JSON_VALUES),
        max_size=3,
    ),
    removed=st.sets(st.sampled_from(["hook", "hookInstance", "context", "prefetch"]), max_size=2),
)
def test_validators_agree_on_request_fields(
    validators: dict[str, RequestValidator], path: str, fields: dict[str, Any], removed: set[str]
) -> None:
    body = valid_request(path)
    for name in removed:
        body.pop(name, None)
    body.update(fields)
    assert_one_answer(validators[path], body)


@AGREEMENT
@given(
    path=st.sampled_from([SIGN, VIEW]),
    context=st.dictionaries(
        st.one_of(st.sampled_from(["userId", "patientId", "encounterId", "results"]), KEYS),
        st.one_of(TEXT, JSON_VALUES, BUNDLES),
        max_size=4,
    ),
    prefetch=PREFETCH,
)
def test_validators_agree_on_context_and_prefetch(
    validators: dict[str, RequestValidator],
    path: str,
    context: dict[str, Any],
    prefetch: dict[str, Any],
) -> None:
    body = valid_request(path)
    body["context"] = {**body["context"], **context}
    body["prefetch"] = {**body["prefetch"], **prefetch}
    assert_one_answer(validators[path], body)


def _set(path: tuple[str, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(body: dict[str, Any]) -> None:
        holder = body
        for key in path[:-1]:
            holder = holder.setdefault(key, {})
        holder[path[-1]] = value

    return mutate


AUTHORIZATION = {
    "access_token": "t",
    "token_type": "Bearer",
    "expires_in": 60,
    "scope": "s",
    "subject": "c",
}
EDGES: dict[str, Callable[[dict[str, Any]], None]] = {
    # Patterns: Python's `$` matches before a final newline; the schemas say `$(?!\n)`.
    "hookInstance ending in a newline": _set(("hookInstance",), "abc\n"),
    "hookInstance of 129 characters": _set(("hookInstance",), "a" * 129),
    "hookInstance of 128 characters": _set(("hookInstance",), "a" * 128),
    "hookInstance with non-ASCII digits": _set(("hookInstance",), "١٢٣"),
    "patientId ending in a newline": _set(("context", "patientId"), "pt-1\n"),
    "userId of another kind": _set(("context", "userId"), "Device/1"),
    "userId ending in a newline": _set(("context", "userId"), "Practitioner/1\n"),
    # maxLength counts characters, not bytes or UTF-16 units.
    "hook of 200 astral characters": _set(("hook",), "😀" * 200),
    "hook of 201 characters": _set(("hook",), "é" * 201),
    "fhirServer with a newline": _set(("fhirServer",), "https://fhir.example.org/r4\n"),
    "fhirServer with a space": _set(("fhirServer",), "https://fhir.example.org/a b"),
    "fhirServer in capitals": _set(("fhirServer",), "HTTPS://FHIR.EXAMPLE.ORG/R4"),
    "fhirServer with an IPv6 host": _set(("fhirServer",), "https://[::1]:8443/fhir"),
    "fhirServer with a non-ASCII path": _set(("fhirServer",), "https://fhir.example.org/é"),
    "fhirAuthorization without fhirServer": _set(("fhirAuthorization",), AUTHORIZATION),
    "expires_in 60.0": _set(("fhirAuthorization",), {**AUTHORIZATION, "expires_in": 60.0}),
    "expires_in true": _set(("fhirAuthorization",), {**AUTHORIZATION, "expires_in": True}),
    "expires_in -1": _set(("fhirAuthorization",), {**AUTHORIZATION, "expires_in": -1}),
    "expires_in 2**63": _set(("fhirAuthorization",), {**AUTHORIZATION, "expires_in": 2**63}),
    "token_type in lower case": _set(
        ("fhirAuthorization",), {**AUTHORIZATION, "token_type": "bearer"}
    ),
    "prefetch value a list": _set(("prefetch", "labs"), []),
    "prefetch value null": _set(("prefetch", "labs"), None),
    "a Bundle over the entry limit": _set(
        ("prefetch", "labs"), fhir.searchset([fhir.ggt(20) for _ in range(4)])
    ),
    "a Bundle at the entry limit": _set(
        ("prefetch", "labs"), fhir.searchset([fhir.ggt(20) for _ in range(3)])
    ),
    "results without entries": _set(("context", "results", "entry"), []),
    "results entry without a resource": _set(("context", "results", "entry"), [{}]),
    "another hook": _set(("hook",), "patient-view"),
    "context a list": _set(("context",), []),
}


@pytest.mark.parametrize("path", [SIGN, VIEW])
@pytest.mark.parametrize("edge", list(EDGES))
def test_validators_agree_on_edges(
    validators: dict[str, RequestValidator], path: str, edge: str
) -> None:
    body = valid_request(path)
    if path == SIGN:
        body["fhirServer"] = "https://fhir.example.org/r4"
        body["fhirAuthorization"] = dict(AUTHORIZATION)
    EDGES[edge](body)
    assert_one_answer(validators[path], body)


def test_an_invalid_body_is_still_itemised(validators: dict[str, RequestValidator]) -> None:
    body = valid_request(SIGN)
    body["hookInstance"] = "has spaces"
    del body["context"]["patientId"]
    body["prefetch"]["labs"] = fhir.searchset([fhir.ggt(20) for _ in range(4)])
    with pytest.raises(CdsError) as refused:
        validators[SIGN].check(body)
    found = {(i.code, i.expression) for i in refused.value.issues}
    assert found == {
        ("required", "$.context"),
        ("invalid", "$.hookInstance"),
        ("too-costly", "$.prefetch.labs"),
    }


# --- orjson reads what the standard library read -----------------------------------------------


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "1e400", "-1e999", "[1,]"])
def test_what_json_does_not_allow_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"JSON|out of range|Expecting|Illegal"):
        strict_json.loads(f'{{"value": {text}}}'.encode())


def test_what_orjson_refuses_but_json_allows_reads_as_before() -> None:
    # Integers beyond a float stay exact (the FHIR readers treat them as absent, not infinite).
    assert strict_json.loads(b'{"v": ' + str(10**400).encode() + b"}") == {"v": 10**400}
    assert strict_json.loads('{"v": "\\ud800"}') == {"v": "\ud800"}  # a lone surrogate
    assert strict_json.loads(b"\xef\xbb\xbf{}") == {}  # a UTF-8 byte order mark
    with pytest.raises(json.JSONDecodeError) as bad:
        strict_json.loads(b'{"hook": ')
    assert bad.value.pos == 9  # positions for the 400, from the standard library


def test_dumps_writes_what_orjson_cannot() -> None:
    written = strict_json.dumps({"n": 10**30, "s": "é"})
    assert json.loads(written) == {"n": 10**30, "s": "é"}
    # Read back, an integer past 64 bits is a float, as in JavaScript; the FHIR readers take
    # every number as a float anyway.
    assert strict_json.loads(written)["n"] == 1e30


# --- memoised classification -------------------------------------------------------------------


def _reference(kb: KnowledgeBase, system: str, code: str) -> set[str]:
    """The value sets of a coding, asked of each value set in turn (no index, no cache). A code
    that needs words in the concept's text (E83.39 for hypophosphatasia) has none here."""
    found = set()
    for vs in kb.valuesets.values():
        entry = vs.match_coding(system, code)
        if entry is not None and entry.accepts(""):
            found.add(vs.id)
    return found


def test_classification_gives_each_value_sets_own_answer(kb: KnowledgeBase) -> None:
    codings = set()
    for valueset in kb.valuesets.values():
        for entry in valueset.codes:
            normal = normalise_code(entry.system, entry.code)
            variants = {entry.code, normal, normal.lower(), f" {entry.code} ", normal + "9"}
            codings |= {(entry.system, variant) for variant in variants}
    codings |= {(system, "not-a-code") for system, _ in list(codings)}
    for _ in range(2):  # cold, then from the cache
        for system, code in sorted(codings):
            concept = {"coding": [{"system": system, "code": code}]}
            assert set(kb.classify(concept)) == _reference(kb, system, code), (system, code)


def test_a_concept_of_several_codings_merges_without_touching_the_cache(
    kb: KnowledgeBase,
) -> None:
    liver = {"system": fhir.LOINC, "code": "2324-2"}  # GGT
    alp = {"system": fhir.LOINC, "code": "6768-6"}
    alone = dict(kb.classify({"coding": [alp]}))
    both = kb.classify({"coding": [alp, liver]})
    assert set(both) == set(alone) | set(kb.classify({"coding": [liver]}))
    assert dict(kb.classify({"coding": [alp]})) == alone
    with pytest.raises(TypeError):
        kb.classify({"coding": [alp]})["x"] = None  # type: ignore[index]


def test_the_classification_cache_is_bounded(kb: KnowledgeBase) -> None:
    cache = kb._classes.cache_info()
    assert cache.maxsize == CLASSIFY_CACHE_SIZE
    long_code = "x" * CLASSIFY_CACHE_MAX_LENGTH
    kb.classify({"coding": [{"system": fhir.LOINC, "code": long_code}]})
    assert kb._classes.cache_info().currsize == cache.currsize  # not kept


HPP_CODE = {"system": fhir.ICD10, "code": "E83.39"}
CONCEPTS = [
    {"coding": [HPP_CODE], "text": "Hypophosphatasia, adult form"},
    {"coding": [HPP_CODE], "text": "Acid phosphatase deficiency"},  # the same code, not HPP
    {"text": "Alendronate 70 MG Oral Tablet weekly"},  # a name, no code
    {"coding": [{"system": fhir.LOINC, "code": "6768-6"}]},
    {"coding": [{"system": fhir.LOINC, "code": "6768-6", "display": "ALP"}], "text": "ALP"},
]


@pytest.mark.parametrize("by_name", [True, False])
def test_a_remembered_concept_reads_as_it_did_when_first_read(
    kb: KnowledgeBase, by_name: bool
) -> None:
    for concept in CONCEPTS:
        first = classify._concept(kb, concept, by_name)
        again = classify._concept(kb, copy.deepcopy(concept), by_name)
        assert again is first  # from the memo, by the concept's JSON text
        assert again == classify._read_concept(kb, concept, by_name)
        with pytest.raises(TypeError):
            again.matches["x"] = "y"  # type: ignore[index]
    hpp, other, drug = (classify._concept(kb, c, by_name).matches for c in CONCEPTS[:3])
    # The text gate of a broad code and the name fallback are part of what is remembered.
    assert "hypophosphatasia" in hpp
    assert "hypophosphatasia" not in other
    assert ("bisphosphonates" in drug) is by_name
    assert classify._concept(kb, CONCEPTS[2], True).short == "Alendronate"


def test_the_concept_memo_is_bounded(kb: KnowledgeBase) -> None:
    memo: BoundedMemo[str, str] = BoundedMemo(2)
    for key in "abc":
        memo.remember(key, key)
    assert len(memo) <= 2
    assert memo["c"] == "c"
    huge = {"text": "x" * CONCEPT_MEMO_MAX_KEY}
    before = dict(kb.concept_memo)
    classify._concept(kb, huge, by_name=True)
    assert dict(kb.concept_memo) == before  # read, not kept


def test_a_text_naming_only_parameters_is_rendered_once(kb: KnowledgeBase) -> None:
    record = PatientRecord(fhir.patient(), NOW, results=(fhir.alp(312),))
    [evaluation] = engine.evaluate(kb, record)
    facts = evaluation.facts
    assert facts is not None
    fixed = "ALP at least {{param.infiltrative_min_xuln}}x"
    varying = "ALP {{alp.value}} ({{param.infiltrative_min_xuln}}x)"
    assert engine.render_text(fixed, facts, kb) == "ALP at least 3x"
    assert kb.text_memo[fixed] == ("ALP at least 3x",)
    assert engine.render_text(varying, facts, kb) == "ALP 312 (3x)"
    assert kb.text_memo[varying] == ()  # it names a fact: rendered for each record
    facts.set("alp.value", "95")
    assert engine.render_text(varying, facts, kb) == "ALP 95 (3x)"


def test_a_finding_with_a_height_limit_explains_only_below_it(kb: KnowledgeBase) -> None:
    # findings.explaining: a fracture (2x) and cirrhosis (3x) explain only a modest rise; PBC
    # explains any height. findings.present keeps them all (the cards still name them).
    fracture = fhir.condition("S22.000A", onset="2026-10-15")
    cirrhosis, pbc = fhir.condition("K74.60"), fhir.condition("K74.3")

    def facts(value: float, *conditions: dict[str, Any]) -> Any:
        record = PatientRecord(
            fhir.patient(), NOW, results=(fhir.alp(value),), conditions=conditions
        )
        [evaluation] = engine.evaluate(kb, record)
        assert evaluation.facts is not None
        return evaluation.facts

    below = facts(207, fracture, cirrhosis)  # 1.99x
    assert below.get("findings.explaining") == below.get("findings.present")
    above = facts(312, fracture, cirrhosis, pbc)  # 3.0x
    assert {"recent-fracture", "liver-explains", "pbc"} <= set(above.get("findings.present"))
    explaining = set(above.get("findings.explaining"))
    assert "pbc" in explaining
    assert not {"recent-fracture", "liver-explains"} & explaining
    assert facts(208, fracture).get("findings.explaining") == []  # 2.0x


def test_a_rule_is_checked_up_to_its_first_failed_condition(kb: KnowledgeBase) -> None:
    record = PatientRecord(fhir.patient(), NOW, results=(fhir.alp(312),))
    [evaluation] = engine.evaluate(kb, record)
    by_rule = {o.rule.id: o for o in evaluation.outcomes}
    for outcome in by_rule.values():
        conditions = outcome.rule.conditions
        if outcome.fired:
            assert len(outcome.checks) == len(conditions)
            assert all(c.held for c in outcome.checks)
        else:
            # Every check before the failed one held; none after it was computed.
            assert [c.held for c in outcome.checks] == [True] * (len(outcome.checks) - 1) + [False]
            assert outcome.why_not == f"not true: {outcome.checks[-1].says}"
    assert by_rule["alp-high-confirm-origin"].fired
    assert any(len(o.checks) < len(o.rule.conditions) for o in by_rule.values())


def test_a_test_shared_by_rules_is_checked_once_per_evaluation(kb: KnowledgeBase) -> None:
    record = PatientRecord(fhir.patient(), NOW, results=(fhir.alp(312),))
    [evaluation] = engine.evaluate(kb, record)
    facts = evaluation.facts
    assert facts is not None
    raised = [
        o.checks[0]
        for o in evaluation.outcomes
        if o.checks
        and o.checks[0].says == "ALP is above the upper reference limit for this patient"
    ]
    assert len(raised) > 1
    assert all(c is raised[0] for c in raised)  # one Check, shared by every rule that opens so
    # A fact set afterwards is seen: nothing checked before it is reused.
    condition = next(o.rule.conditions[0] for o in evaluation.outcomes if o.checks[0] is raised[0])
    assert engine.check(kb, condition, facts).held
    facts.set("alp.status", "low")
    assert not engine.check(kb, condition, facts).held


def test_another_knowledge_base_checks_the_same_facts_afresh(kb: KnowledgeBase) -> None:
    # The impact replay runs the current and a candidate knowledge base over the same facts: a
    # parameter only the candidate changed must show in its checks, even in a text alone.
    record = PatientRecord(fhir.patient(), NOW, results=(fhir.alp(312),))
    [evaluation] = engine.evaluate(kb, record)
    facts = evaluation.facts
    assert facts is not None
    condition = Condition(
        says="ALP is raised (extreme from {{param.extreme_xuln}} times the upper limit)",
        fact="alp.status",
        operator="is",
        operand="high",
    )
    assert engine.check(kb, condition, facts).says.startswith("ALP is raised (extreme from 10")
    lowered = dataclasses.replace(kb.parameters["extreme_xuln"], value=2.5)
    candidate = dataclasses.replace(kb, parameters={**kb.parameters, "extreme_xuln": lowered})
    again = engine.check(candidate, condition, facts)
    assert again.says == "ALP is raised (extreme from 2.5 times the upper limit)"


def test_the_heap_is_settled_before_each_fork(settings: Settings) -> None:
    # What is alive when a worker forks (the app, the knowledge base) is frozen out of the
    # collector's reach; a full collection would otherwise walk it on every request burst.
    pre_fork = gunicorn_options(settings)["pre_fork"]
    try:
        gc.unfreeze()
        pre_fork(None, None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_each_worker_settles_its_heap_after_warming_up(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    from cds_service import serving, warmup

    done: list[str] = []
    monkeypatch.setattr(warmup, "warm_up", lambda app: done.append("warm"))
    monkeypatch.setattr(serving, "settle_heap", lambda: done.append("settle"))

    audit = SimpleNamespace(start_writer=lambda batch_ms: None)
    app = SimpleNamespace(extensions={"alp_cds": SimpleNamespace(audit=audit, settings=settings)})
    serving.post_fork_warm_up(app)(None, None)  # type: ignore[arg-type]
    assert done == ["warm", "settle"]


# --- the depth bound ------------------------------------------------------------------------


def test_a_time_read_again_is_the_remembered_one_and_long_texts_are_not_kept() -> None:
    text = "2026-11-20T08:00:00+01:00"
    first = values.parse_datetime(text)
    assert first is not None
    assert first.utcoffset() is not None
    assert values.parse_datetime(text) is first  # remembered, not parsed again
    assert values.parse_datetime("2026-11") == values.parse_datetime("2026-11-01")
    kept = values._parse_text.cache_info().currsize
    junk = "2026-11-20T08:00:00" + "0" * 100
    assert values.parse_datetime(junk) is None
    assert values._parse_text.cache_info().currsize == kept  # a long text fills no memory


def test_a_resource_is_this_patients_by_its_exact_reference_or_its_parts() -> None:
    assert not names_another_patient({"subject": {"reference": "Patient/p"}}, "p")
    assert not names_another_patient({"subject": {"reference": "https://x/fhir/Patient/p"}}, "p")
    assert names_another_patient({"subject": {"reference": "Patient/q"}}, "p")
    assert names_another_patient({"patient": {"reference": "Group/p"}}, "p")
    # The exact form of one field does not vouch for the other.
    both = {"subject": {"reference": "Patient/p"}, "patient": {"reference": "Patient/q"}}
    assert names_another_patient(both, "p")


def test_depth_counting_stops_past_the_limit() -> None:
    assert json_depth(b"[" * 100 + b"]" * 100, 64) == 65
    assert json_depth(b'{"a": "[[[[[["}', 0) == 1
    assert json_depth(b"[" * 1_000_000, 64) == 0  # unbalanced: the parser refuses it


# --- the pipeline, without HTTP -----------------------------------------------------------------


def test_a_call_runs_through_the_pipeline(
    pipeline: Pipeline, declarations: dict[str, ServiceDeclaration], kb: KnowledgeBase
) -> None:
    body = fhir.sign_request([fhir.alp(312, ident="alp-p")], fhir.full_prefetch())
    invocation = Invocation(endpoint="service")
    answer = pipeline.run(declarations[RESULT_SIGN_ID], strict_json.dumps(body), invocation)
    [card] = answer.body["cards"]
    [issued] = answer.trace.cards
    assert issued.uuid == card["uuid"]
    assert (issued.rule, issued.rule_version) == (
        "alp-high-confirm-origin",
        kb.rules["alp-high-confirm-origin"].version,
    )
    assert [s.uuid for s in issued.suggestions] == [s["uuid"] for s in card["suggestions"]]
    assert [d.key for d in answer.trace.data] == [kind.key for kind in DATA_KINDS]
    assert {d.source for d in answer.trace.data} == {"prefetch"}
    [evaluation] = answer.trace.evaluations
    assert evaluation.item == "Observation/alp-p"
    assert evaluation.facts["alp.status"].value == "high"
    assert list(evaluation.facts["alp.status"].evidence) == ["Observation/alp-p"]
    assert invocation.trace is answer.trace
    assert (invocation.patient, invocation.user) == (f"Patient/{fhir.PATIENT_ID}", fhir.USER)


def test_a_412_keeps_where_the_data_came_from(
    pipeline: Pipeline, declarations: dict[str, ServiceDeclaration]
) -> None:
    prefetch = fhir.full_prefetch()
    del prefetch["patient"]
    invocation = Invocation(endpoint="service")
    with pytest.raises(CdsError) as refused:
        pipeline.run_body(
            declarations[RESULT_SIGN_ID], fhir.sign_request([fhir.alp(312)], prefetch), invocation
        )
    assert refused.value.status == 412
    assert invocation.trace is not None
    patient = next(d for d in invocation.trace.data if d.key == "patient")
    assert (patient.ok, patient.source) == (False, "none")
    assert "the tests fetch nothing" in patient.problems


def test_the_card_rule_comes_from_the_rule_not_the_card(
    services: AlpServices, pipeline: Pipeline, declarations: dict[str, ServiceDeclaration]
) -> None:
    """Cards will carry a topic code of their own; the audit keeps the rule that fired."""
    service = declarations[RESULT_SIGN_ID]
    body = fhir.sign_request([fhir.alp(312)], fhir.full_prefetch())
    request = pipeline.check(service, body)
    record = services.record(request, pipeline.resolve(service, request), (fhir.alp(312),))
    evaluations = engine.evaluate(services.kb, record)
    answer = pipeline.run_body(service, body)
    [card] = answer.response.cards
    topic = Coding("urn:example", "ALPHIGHCONFIRMORIGIN", "alp-high-confirm-origin")
    recoded = dataclasses.replace(card, source=dataclasses.replace(card.source, topic=topic))
    [issued] = card_trace(evaluations, [recoded])
    assert issued.rule == "alp-high-confirm-origin"


def test_cards_of_a_handler_without_a_trace_are_still_kept(
    pipeline: Pipeline, declarations: dict[str, ServiceDeclaration]
) -> None:
    service = declarations[RESULT_SIGN_ID]
    body = fhir.sign_request([fhir.alp(312)], fhir.full_prefetch())
    request = pipeline.check(service, body)
    full = pipeline.run_body(service, body).response
    answer = pipeline.digest(request, CdsResponse(cards=full.cards), ())
    assert [(c.uuid, c.rule) for c in answer.trace.cards] == [(full.cards[0].uuid, None)]


# --- the trace's JSON ----------------------------------------------------------------------------


def test_the_trace_reads_back_what_it_wrote(
    services: AlpServices, pipeline: Pipeline, declarations: dict[str, ServiceDeclaration]
) -> None:
    body = fhir.sign_request([fhir.alp(20), fhir.ggt(20)], fhir.full_prefetch())
    trace = pipeline.run_body(declarations[RESULT_SIGN_ID], body).trace
    stored = json.loads(strict_json.dumps(trace.to_json()))
    assert DecisionTrace.from_json(stored).to_json() == trace.to_json()


def test_a_trace_stored_before_the_typed_trace_reads() -> None:
    old = {
        "knowledge_base": {"version": "1.0.0", "hash": "abc"},
        "evaluations": [
            {
                "observation": "Observation/a",
                "facts": {"alp.status": {"value": "high", "from": ["Observation/a"]}},
                "rules": [
                    {
                        "rule": "r1",
                        "version": "1.0.0",
                        "fired": False,
                        "checks": [{"says": "x", "held": False, "fact": "f", "value": 1}],
                        "why_not": "not true: x",
                    }
                ],
            }
        ],
        "data": {"patient": {"source": "prefetch", "ok": True, "resources": 1}},
        "cards": [{"uuid": "c1", "rule": "r2", "indicator": "info", "suggestions": ["s1"]}],
    }
    trace = DecisionTrace.from_json(old)
    assert trace.evaluations[0].rules[0].why_not == "not true: x"
    assert trace.evaluations[0].rules[0].checks[0].value == 1
    assert trace.cards[0].suggestions[0].uuid == "s1"
    assert trace.data == (DataSource("patient", "prefetch", True, 1),)
    assert DecisionTrace.from_json(None) == DecisionTrace()


def test_rewriting_reaches_every_reference_and_nothing_else() -> None:
    trace = DecisionTrace.from_json(
        {
            "evaluations": [
                {
                    "observation": "Observation/a",
                    "facts": {"patient.sex": {"value": "female", "from": ["Patient/p1"]}},
                    "rules": [{"rule": "Patient/p1-rule", "version": "1", "fired": True}],
                }
            ],
            "data": {"patient": {"source": "fetch", "ok": False, "problems": ["GET /Patient/p1"]}},
        }
    )
    hidden = trace.rewritten(lambda text: text.replace("Patient/p1", "Patient/pseudo"))
    assert list(hidden.evaluations[0].facts["patient.sex"].evidence) == ["Patient/pseudo"]
    assert hidden.data[0].problems == ("GET /Patient/pseudo",)
    assert hidden.evaluations[0].rules[0].rule == "Patient/p1-rule"  # ids are not text


def test_a_card_summary_of_a_foreign_card() -> None:
    """CardIssued.of reads a card's suggestions and the codes its actions order."""
    from cds_service.hooks.response import Action, Card, Source, Suggestion

    order = {"resourceType": "ServiceRequest", "code": {"coding": [{"system": "s", "code": "c"}]}}
    card = Card(
        uuid="u",
        summary="s",
        indicator="info",
        source=Source("x"),
        suggestions=(Suggestion("l", "su", (Action("create", "d", order),)),),
        selection_behavior="any",
    )
    assert CardIssued.of(card, "r", "1").suggestions[0].codes == ("s|c",)


# --- one table of data kinds -------------------------------------------------------------------


def test_every_data_kind_files_into_the_record() -> None:
    fields = {f.name for f in dataclasses.fields(PatientRecord) if f.init}
    assert {kind.record_field for kind in DATA_KINDS} <= fields
    assert len({kind.key for kind in DATA_KINDS}) == len(DATA_KINDS)


def test_a_new_kind_of_data_is_one_row(
    kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    imaging = DataKind(
        key="imaging",
        query="ImagingStudy?patient={{context.patientId}}",
        label="imaging studies",
        record_field="procedures",
        resource_types=("ImagingStudy",),
    )
    monkeypatch.setattr(alp_services, "DATA_KINDS", (*DATA_KINDS, imaging))
    services = AlpServices(kb, "https://cds.example.org", fhir.RESULT_SIGN_HOOK, clock=lambda: NOW)
    service = next(d for d in services.declarations() if d.id == RESULT_SIGN_ID)
    assert service.discovery_entry()["prefetch"]["imaging"] == imaging.query
    study = {"resourceType": "ImagingStudy", "id": "img-1", "status": "available"}
    body = fhir.sign_request([fhir.alp(312)], fhir.full_prefetch())
    pipeline = Pipeline.offline([service])
    request = pipeline.check(service, body)
    missing = services.record(request, pipeline.resolve(service, request), ())
    assert "imaging studies" in missing.unavailable  # named on cards when it cannot be had
    body["prefetch"]["imaging"] = fhir.searchset([study])
    request = pipeline.check(service, body)
    record = services.record(request, pipeline.resolve(service, request), ())
    assert study in record.procedures
    assert "imaging studies" not in record.unavailable
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in (fhir.patient(), fhir.alp(312), study)],
    }
    bundle["entry"][0]["resource"]["id"] = fhir.PATIENT_ID
    answer = evaluate_document(services, bundle)
    imaging_data = next(d for d in answer.trace.data if d.key == "imaging")
    assert imaging_data.resources == 1
