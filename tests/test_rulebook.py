"""/rulebook, /rulebook.json, `alp-cds kb report` and `alp-cds evaluate`."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from cds_service.cli import main
from cds_service.knowledge.model import KnowledgeBase
from tests.support.fhir import alp, full_prefetch, ggt, patient, sign_request

HTI1_FIELDS = {
    "race", "ethnicity", "language", "sexual_orientation", "gender_identity", "sex",
    "date_of_birth", "social_determinants_of_health", "health_status_assessments",
}  # fmt: skip


def test_rulebook_json_has_every_rule_with_citations_and_hti1(
    client: FlaskClient, kb: KnowledgeBase
) -> None:
    book = client.get("/rulebook.json").get_json()
    assert book["version"] == kb.version
    assert book["content_hash"] == kb.content_hash
    assert {r["id"] for r in book["rules"]} == set(kb.rules)
    for rule in book["rules"]:
        assert rule["citations"], rule["id"]
        assert all(c["text"] for c in rule["citations"])
        assert set(rule["hti1"]["uses"]) == HTI1_FIELDS
        assert rule["hti1"]["bibliographic_citation"]
        assert rule["hti1"]["developer"]
        assert rule["hti1"]["funding_source"]
        assert rule["dates"]["last_review_date"]
        assert rule["dates"]["next_review_date"]
        assert rule["conditions"]
        assert all(c["says"] for c in rule["conditions"])
        assert all(c["test"] for c in rule["conditions"])


def test_rulebook_json_shows_thresholds_with_their_values(client: FlaskClient) -> None:
    book = client.get("/rulebook.json").get_json()
    extreme = next(r for r in book["rules"] if r["id"] == "alp-extreme")
    params = {p["name"]: p for p in extreme["parameters"]}
    assert params["extreme_xuln"]["value"] == 10
    assert params["extreme_absolute_ul"]["citation"] == "maldonado-1998"
    assert params["extreme_xuln"]["verified"] is False  # no primary source: shown as unverified
    tests = [c["test"] for c in extreme["conditions"][1]["children"]]
    assert tests[0].startswith("alp.xuln is at least 10 ")


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.ids |= {v for k, v in attrs if k == "id" and v}


def test_rulebook_html_has_an_anchor_per_rule_and_card_links_resolve(
    client: FlaskClient, kb: KnowledgeBase
) -> None:
    response = client.get("/rulebook")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    parser = _Ids()
    parser.feed(html)
    assert set(kb.rules) <= parser.ids
    assert "HTI-1 source attributes" in html
    assert "Newsome PN et al." in html
    card = client.post(
        "/cds-services/alp-result-sign", json=sign_request([alp(312)], full_prefetch())
    ).get_json()["cards"][0]
    anchor = card["source"]["url"].split("#")[1]
    assert anchor in parser.ids


def test_rulebook_html_escapes_text(client: FlaskClient) -> None:
    html = client.get("/rulebook").get_data(as_text=True)
    assert not re.search(r"<script", html, re.IGNORECASE)


@pytest.mark.slow
def test_kb_report_writes_html_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "book.html"
    assert main(["kb", "report", "--output", str(out)]) == 0
    assert "alp-high-confirm-origin" in out.read_text("utf-8")
    assert "wrote" in capsys.readouterr().out
    assert main(["kb", "report", "--format", "json", "--output", "-"]) == 0
    book = json.loads(capsys.readouterr().out)
    assert len(book["rules"]) >= 14


@pytest.mark.slow
def test_evaluate_explains_a_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kb: KnowledgeBase
) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps(sign_request([alp(312), ggt(20)], full_prefetch())), "utf-8")
    assert main(["evaluate", str(request)]) == 0
    out = capsys.readouterr().out
    assert "[info] ALP 312 U/L (3.0x upper limit), GGT normal: bone source likely" in out
    assert "FIRED alp-high-bone-source" in out
    liver = kb.rules["alp-high-liver-source"].version
    assert (
        f"not   alp-high-liver-source v{liver}: not true: GGT (or 5'-nucleotidase) is raised" in out
    )
    assert "ggt.status = normal   <- Observation/" in out


@pytest.mark.slow
def test_evaluate_reads_a_fhir_bundle_as_the_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    resources = [
        patient(),
        alp(90, when="2026-01-01T08:00:00Z"),
        alp(20, when="2026-03-01T08:00:00Z"),
        alp(21, when="2026-06-01T08:00:00Z"),
    ]
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }
    path = tmp_path / "record.json"
    path.write_text(json.dumps(bundle), "utf-8")
    assert main(["evaluate", "--json", str(path)]) == 0
    result = json.loads(capsys.readouterr().out)
    # The whole bundle is the record: both earlier ALPs are read, so the low is persistent; the
    # normal 90 U/L in January is seen, but with no recorded cause the warning stays.
    assert [c["source"]["topic"]["display"] for c in result["response"]["cards"]] == [
        "alp-low-persistent"
    ]
    facts = result["trace"]["evaluations"][0]["facts"]
    assert facts["alp.persistent_low"]["value"] is True
    assert facts["alp.earlier_not_low"]["value"] is True


@pytest.mark.slow
def test_evaluate_refuses_what_it_cannot_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"resourceType": "Patient"}', "utf-8")
    assert main(["evaluate", str(path)]) == 1
    assert "cannot evaluate" in capsys.readouterr().err
    path.write_text("{not json", "utf-8")
    assert main(["evaluate", str(path)]) == 1
