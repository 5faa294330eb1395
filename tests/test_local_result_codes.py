"""`ALP_CDS_LOCAL_RESULT_CODES`: results a laboratory files only under its own codes, read as
the knowledge base's tests by a deployment setting (docs/configuration.md; the site setting
left open by the twelfth round, part D, beside the words)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from cds_service.alp_services import RESULT_SIGN_ID, lab_codes
from cds_service.app import create_app, load_knowledge_base
from cds_service.cli import main
from cds_service.knowledge.model import LOCAL_SOURCE, KnowledgeBase
from cds_service.settings import Settings, SettingsError
from tests.rules_helper import SERVICE, fired, suggested
from tests.support.fhir import full_prefetch, observation, sign_request

LAB = "urn:oid:2.16.840.1.113883.3.9999.5"
SETTING = f"alp-total={LAB}|70231|Alkaline phosphatase; ggt={LAB}|70232"


def local(code: str, text: str, value: float, **kwargs: Any) -> dict[str, Any]:
    """A result under the laboratory's own code, with a text no word list knows ("AP", "GT")."""
    result = observation(code, value, unit="U/L", ucum="U/L", **kwargs)
    result["code"] = {"coding": [{"system": LAB, "code": code}], "text": text}
    return result


LABS = [local("70231", "AP", 390, low=30, high=130), local("70232", "GT", 260, low=5, high=61)]


def build(tmp_path: Path, setting: str | None) -> Flask:
    env = {"ALP_CDS_DEV_MODE": "true", "ALP_CDS_DATA_DIR": str(tmp_path)}
    if setting is not None:
        env["ALP_CDS_LOCAL_RESULT_CODES"] = setting
    return create_app(Settings.from_env(env))


def answer(app: Flask, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    response = app.test_client().post(SERVICE, json=sign_request(results, full_prefetch()))
    assert response.status_code == 200, response.get_json()
    found: list[dict[str, Any]] = response.get_json()["cards"]
    return found


def test_results_under_configured_local_codes_are_read_as_alp_and_ggt(tmp_path: Path) -> None:
    # Without the setting the texts "AP" and "GT" name nothing: no card.
    assert answer(build(tmp_path / "a", None), LABS) == []
    # With it: ALP 3x with a raised GGT, the liver-source card, and no GGT ordered again.
    found = answer(build(tmp_path / "b", SETTING), LABS)
    assert fired(found) == ["alp-high-liver-source"]
    assert all("2324-2" not in suggested(card) for card in found)


def test_the_trace_says_the_code_came_from_the_deployment(tmp_path: Path) -> None:
    from cds_service.explain import evaluate_document

    app = build(tmp_path, SETTING)
    body = sign_request(LABS, full_prefetch())
    trace = evaluate_document(app.extensions["alp_cds"].services, body).trace
    facts = trace.evaluations[0].facts
    assert facts["ggt.status"].value == "high"
    by_code = facts["results.by_local_code"].value
    assert [line.split(": ", 1)[1] for line in by_code] == [
        "70231 Alkaline phosphatase: a local code of this deployment (ALP_CDS_LOCAL_RESULT_CODES)",
        "70232 70232: a local code of this deployment (ALP_CDS_LOCAL_RESULT_CODES)",
    ]
    # Read by the code, not by words.
    assert "results.by_words" not in facts


def test_the_labs_query_asks_for_the_local_codes_too(tmp_path: Path, kb: KnowledgeBase) -> None:
    # Earlier ALPs filed under the local code come back only if the query names it.
    default = build(tmp_path / "a", None).test_client().get("/cds-services").get_json()
    configured = build(tmp_path / "b", SETTING).test_client().get("/cds-services").get_json()

    def labs_query(document: dict[str, Any]) -> str:
        service = next(s for s in document["services"] if s["id"] == RESULT_SIGN_ID)
        query: str = service["prefetch"]["labs"]
        return query

    assert f"{LAB}|70231" not in labs_query(default)
    assert f"{LAB}|70231" in labs_query(configured)
    assert f"{LAB}|70232" in labs_query(configured)
    # The LOINC codes are all still there, in the same order.
    loinc = ",".join(lab_codes(kb))
    assert loinc in labs_query(default)
    assert labs_query(configured).replace(f",{LAB}|70231,{LAB}|70232", "") == labs_query(default)


def test_the_knowledge_base_keeps_its_identity_and_marks_the_codes(tmp_path: Path) -> None:
    plain = load_knowledge_base(Settings.from_env({"ALP_CDS_DATA_DIR": str(tmp_path)}))
    env = {"ALP_CDS_DATA_DIR": str(tmp_path), "ALP_CDS_LOCAL_RESULT_CODES": SETTING}
    local_kb = load_knowledge_base(Settings.from_env(env))
    # Configuration, not content: the same version and hash as the files.
    assert (local_kb.version, local_kb.content_hash) == (plain.version, plain.content_hash)
    added = [c for c in local_kb.valuesets["alp-total"].codes if c.source == LOCAL_SOURCE]
    assert [(c.system, c.code, c.display, c.verified) for c in added] == [
        (LAB, "70231", "Alkaline phosphatase", False)
    ]
    # A code without a display is shown by its code.
    assert [c.display for c in local_kb.valuesets["ggt"].codes if c.source == LOCAL_SOURCE] == [
        "70232"
    ]
    assert not any(c.source == LOCAL_SOURCE for c in plain.valuesets["alp-total"].codes)
    # The rulebook the informatics team reads lists them, with the setting as their source.
    book = build(tmp_path, SETTING).test_client().get("/rulebook.json").get_json()
    alp_total = next(v for v in book["valuesets"] if v["id"] == "alp-total")
    assert {"code": "70231", "source": LOCAL_SOURCE, "verified": False}.items() <= next(
        c for c in alp_total["codes"] if c["system"] == LAB
    ).items()


@pytest.mark.parametrize(
    ("setting", "problem"),
    [
        (f"alp-totl={LAB}|1", "'alp-totl' is not a laboratory value set"),
        # A condition's value set is not a result's: a local code there would be misread.
        (f"pbc={LAB}|1", "'pbc' is not a laboratory value set"),
    ],
)
def test_a_value_set_that_is_not_a_laboratory_test_stops_start_up(
    tmp_path: Path, setting: str, problem: str
) -> None:
    with pytest.raises(SettingsError, match=f"^ALP_CDS_LOCAL_RESULT_CODES: {problem}"):
        build(tmp_path, setting)


@pytest.mark.parametrize("value", ["alp-total", f"alp-total={LAB}", f"={LAB}|1", "x=|1"])
def test_a_malformed_setting_names_the_variable(value: str) -> None:
    with pytest.raises(SettingsError, match=r"^ALP_CDS_LOCAL_RESULT_CODES"):
        Settings.from_env({"ALP_CDS_LOCAL_RESULT_CODES": value})


def test_evaluate_reads_the_setting_and_refuses_a_bad_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps(sign_request(LABS, full_prefetch())), "utf-8")
    monkeypatch.setenv("ALP_CDS_LOCAL_RESULT_CODES", SETTING)
    assert main(["evaluate", "--json", str(request)]) == 0
    cards = json.loads(capsys.readouterr().out)["response"]["cards"]
    assert [c["source"]["topic"]["display"] for c in cards] == ["alp-high-liver-source"]
    monkeypatch.setenv("ALP_CDS_LOCAL_RESULT_CODES", f"pbc={LAB}|1")
    assert main(["evaluate", str(request)]) == 1
    assert capsys.readouterr().err.startswith(
        "error: ALP_CDS_LOCAL_RESULT_CODES: 'pbc' is not a laboratory value set"
    )


def test_an_orderable_test_takes_local_result_codes_too(tmp_path: Path) -> None:
    # Bone-specific ALP has no value set: its local code is given under the orderable's id, and a
    # result under it is that test already resulted (not ordered again), asked for in the query.
    setting = f"{SETTING}; bone-alp={LAB}|70240"
    bone = local("70240", "BA", 48)
    bone["valueQuantity"] = {"value": 48, "unit": "ug/L"}
    labs = [local("70231", "AP", 390, low=30, high=130), local("70232", "GT", 20, low=5, high=61)]
    assert "17838-4" in suggested(answer(build(tmp_path / "a", SETTING), [*labs, bone])[0])
    app = build(tmp_path / "b", setting)
    assert "17838-4" not in suggested(answer(app, [*labs, bone])[0])
    document = app.test_client().get("/cds-services").get_json()
    service = next(s for s in document["services"] if s["id"] == RESULT_SIGN_ID)
    assert f"{LAB}|70240" in service["prefetch"]["labs"]
    kb = app.extensions["alp_cds"].kb
    assert kb.orderables["ggt"].local_result_codes == {(LAB, "70232")}


def test_an_impact_candidate_is_given_the_same_deployment_codes(tmp_path: Path) -> None:
    # The console's impact preview compares a candidate cards/ with the running knowledge base:
    # the deployment's codes are configuration, not a difference the candidate makes.
    from cds_service.console import impact

    codes = f"{SETTING}; zinc={LAB}|9"
    settings = Settings.from_env(
        {"ALP_CDS_DATA_DIR": str(tmp_path), "ALP_CDS_LOCAL_RESULT_CODES": codes}
    )
    current = load_knowledge_base(settings)
    candidate = impact.load_candidate(settings.kb_dir, current)
    assert candidate.valuesets == current.valuesets
    assert candidate.orderables == current.orderables
    # A test whose value set shares its id (zinc) is resulted under the code given to it.
    assert current.orderables["zinc"].local_result_codes == {(LAB, "9")}
    assert current.orderables_resulted_by({"coding": [{"system": LAB, "code": "9"}]}) == ["zinc"]


@pytest.mark.parametrize(
    ("setting", "problem"),
    [
        # One result read as both an ALP and a GGT would be wrong for both.
        (f"alp-total={LAB}|1; ggt={LAB}|1", rf"{LAB}\|1 is given to both 'alp-total' and 'ggt'"),
        # A repeat ALP's result is the ALP itself: its code belongs to alp-total.
        (f"repeat-alp={LAB}|1", "'repeat-alp' is not a laboratory value set or an orderable"),
    ],
)
def test_a_code_given_twice_or_to_the_alp_itself_stops_start_up(
    tmp_path: Path, setting: str, problem: str
) -> None:
    with pytest.raises(SettingsError, match=f"^ALP_CDS_LOCAL_RESULT_CODES: {problem}"):
        build(tmp_path, setting)
