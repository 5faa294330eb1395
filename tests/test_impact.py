"""Impact of a candidate knowledge base: stored facts replay to the outcomes the service gave, and
`alp-cds kb impact` and the console's preview give the same answer when a candidate changes a
threshold, a card's text and a rule's status."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import select

from cds_service.audit import schema
from cds_service.clinical import engine
from cds_service.console import impact
from cds_service.knowledge.model import KnowledgeBase
from cds_service.render.cards import SUMMARY_LIMIT, shorten
from tests.conftest import ROOT, load_scenario, scenario_names
from tests.support.console import ConsoleApp, basic, call, console_app
from tests.support.fhir import alp, full_prefetch, sign_request

# ALP values with the lab range 35-104 U/L: 1.5x, 3.5x, 5x and 12x the upper limit, normal, low.
VALUES = (156, 364, 520, 1248, 80, 30)


def make_candidate(tmp_path: Path) -> Path:
    candidate = tmp_path / "candidate-cards"
    shutil.copytree(ROOT / "cards", candidate)

    def edit(name: str, old: str, new: str) -> None:
        path = candidate / name
        text = path.read_text("utf-8")
        assert old in text, (name, old)
        path.write_text(text.replace(old, new, 1), "utf-8")

    # A threshold a rule tests: "extreme" from 3x the upper limit instead of 10x.
    edit("parameters.yaml", "  extreme_xuln:\n    value: 10\n", "  extreme_xuln:\n    value: 3\n")
    # Card text: every confirm-origin card changes.
    edit(
        "rules/alp-high-confirm-origin.yaml",
        "order GGT to tell liver from bone",
        "order a GGT to tell liver from bone",
    )
    # A rule taken out of service: its cards go.
    edit("rules/alp-low-first.yaml", "status: active", "status: draft")
    return candidate


def stored_calls(console: ConsoleApp) -> None:
    client = console.client()
    for i, value in enumerate(VALUES):
        body = sign_request([alp(value, ident=f"alp-impact-{i}")], full_prefetch())
        call(client, body, f"hi-impact-{i}")


def console_counts(page: str) -> dict[str, tuple[int, int, int, int]]:
    table = page.split('id="impact-table"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(
        r'<tr[^>]*><td><a href="[^"]+">([^<]+)</a></td><td>(\d+)</td><td>(\d+)</td>'
        r"<td>(\d+)</td><td>(\d+)</td></tr>",
        table,
    )
    return {html.unescape(r[0]): (int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows}


def test_kb_impact_and_the_console_preview_agree_when_a_threshold_changes(
    tmp_path: Path,
    kb: KnowledgeBase,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from cds_service.cli import main

    candidate = make_candidate(tmp_path)
    console = console_app(tmp_path, kb, console_candidate_dirs=(candidate,))
    stored_calls(console)

    page = console.client().get(
        f"/console/impact?candidate={quote(str(candidate))}&days=30", headers=basic()
    )
    assert page.status_code == 200
    preview = console_counts(page.get_data(as_text=True))

    for name in list(os.environ):
        if name.startswith("ALP_CDS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ALP_CDS_DATA_DIR", str(console.settings.data_dir))
    monkeypatch.setenv("ALP_CDS_DEV_MODE", "true")
    assert main(["kb", "impact", "--candidate", str(candidate), "--since", "30d", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    cli = {r["rule"]: (r["appear"], r["change"], r["go"], r["same"]) for r in report["rules"]}

    assert cli == preview
    assert report["evaluations"] == len(VALUES)
    # 3.5x and 5x are extreme under the candidate; 12x was extreme already.
    assert cli["alp-extreme"] == (2, 0, 0, 1)
    # All four raised ALPs have no GGT: each confirm-origin card's summary changes.
    assert cli["alp-high-confirm-origin"] == (0, 4, 0, 0)
    assert cli["alp-low-first"] == (0, 0, 1, 0)
    examples = {
        e["hook_instance"]
        for r in report["rules"]
        if r["rule"] == "alp-extreme"
        for e in r["examples"]["appear"]
    }
    assert examples == {"hi-impact-1", "hi-impact-2"}
    text_page = page.get_data(as_text=True)
    assert "/console/invocations/hi-impact-1" in text_page  # examples link to the invocation
    assert "order a GGT to tell liver from bone" in text_page

    # The plain-text report says the same.
    assert main(["kb", "impact", "--candidate", str(candidate), "--since", "30d"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^alp-extreme\s+2\s+0\s+0\s+1$", out, re.M)
    assert "appear: 2, change: 4, go: 1" in out


def test_a_replay_past_its_budget_stops_and_says_so(tmp_path: Path, kb: KnowledgeBase) -> None:
    # Integration QA round 2, defect 15: the console's preview replayed 2,000 invocations for
    # 30 s in a worker that answers EHR calls. It now stops at its budget, newest first.
    candidate = make_candidate(tmp_path)
    console = console_app(tmp_path, kb, console_candidate_dirs=(candidate,))
    stored_calls(console)
    ticks = iter(range(100))
    report = impact.impact(
        kb,
        impact.load_candidate(candidate, kb),
        console.engine,
        datetime.now(UTC) - timedelta(days=30),
        budget_seconds=2,
        clock=lambda: float(next(ticks)),
    )
    assert report.stopped_after == 2
    assert report.invocations == 2  # two replayed before the clock passed the budget
    assert report.evaluations == 2
    assert report.warnings[0].startswith(
        f"Stopped after 2 s: the newest 2 of {len(VALUES)} invocations were replayed."
    )
    whole = impact.impact(
        kb, impact.load_candidate(candidate, kb), console.engine, datetime.now(UTC) - timedelta(30)
    )
    assert whole.stopped_after is None
    assert whole.evaluations == len(VALUES)


def test_one_preview_runs_at_a_time_in_a_worker(tmp_path: Path, kb: KnowledgeBase) -> None:
    candidate = make_candidate(tmp_path)
    console = console_app(tmp_path, kb, console_candidate_dirs=(candidate,))
    url = f"/console/impact?candidate={quote(str(candidate))}&days=30"
    with impact.PREVIEW_LOCK:  # another request's preview is running
        busy = console.client().get(url, headers=basic())
    assert busy.status_code == 429
    assert "Another impact preview is running" in busy.get_data(as_text=True)
    assert console.client().get(url, headers=basic()).status_code == 200  # and then it runs


def test_the_preview_only_runs_configured_candidates(tmp_path: Path, kb: KnowledgeBase) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(ROOT / "cards", broken)
    (broken / "kb.yaml").write_text("name: [unclosed\n", "utf-8")
    console = console_app(tmp_path, kb, console_candidate_dirs=(broken,))
    client = console.client()
    none = client.get("/console/impact", headers=basic())
    assert none.status_code == 200
    assert str(broken) in none.get_data(as_text=True)
    other = client.get(f"/console/impact?candidate={quote(str(ROOT / 'cards'))}", headers=basic())
    assert other.status_code == 400
    failed = client.get(f"/console/impact?candidate={quote(str(broken))}", headers=basic())
    assert failed.status_code == 422
    assert "kb.yaml" in failed.get_data(as_text=True)


def test_an_unchanged_candidate_changes_nothing(tmp_path: Path, kb: KnowledgeBase) -> None:
    console = console_app(tmp_path, kb)
    stored_calls(console)
    report = impact.impact(
        kb,
        impact.load_candidate(ROOT / "cards", kb),
        console.engine,
        datetime.now(UTC) - timedelta(days=1),
    )
    assert report.totals()["appear"] == report.totals()["change"] == report.totals()["go"] == 0
    assert report.totals()["same"] > 0
    assert report.warnings == []


def test_a_candidate_that_changes_how_facts_are_derived_is_flagged(
    tmp_path: Path, kb: KnowledgeBase
) -> None:
    candidate = tmp_path / "candidate"
    shutil.copytree(ROOT / "cards", candidate)
    params = candidate / "parameters.yaml"
    params.write_text(
        params.read_text("utf-8").replace(
            "  ggt_lookback_days:\n    value: 30\n", "  ggt_lookback_days:\n    value: 60\n"
        ),
        "utf-8",
    )
    console = console_app(tmp_path, kb)
    stored_calls(console)
    report = impact.impact(
        kb, impact.load_candidate(candidate, kb), console.engine, datetime.now(UTC) - timedelta(1)
    )
    assert not any("ggt_lookback_days are used in deriving facts" in w for w in report.warnings)
    # ggt_lookback_days is also named in a rule's text, so it is replayed; a parameter only
    # fact derivation reads is reported instead.
    params.write_text(
        params.read_text("utf-8").replace(
            "  result_time_tolerance_hours:\n    value: 24\n",
            "  result_time_tolerance_hours:\n    value: 48\n",
        ),
        "utf-8",
    )
    report = impact.impact(
        kb, impact.load_candidate(candidate, kb), console.engine, datetime.now(UTC) - timedelta(1)
    )
    assert any("result_time_tolerance_hours" in w for w in report.warnings), report.warnings


@pytest.mark.parametrize("name", scenario_names())
def test_stored_facts_replay_to_the_outcomes_the_service_gave(
    name: str, tmp_path_factory: pytest.TempPathFactory, kb: KnowledgeBase, shared: Any
) -> None:
    """Every scenario, called through the service and read back from the audit store: the rules
    evaluated on the facts rebuilt from the stored trace fire exactly as stored, and plan the
    same cards (rule, summary, indicator, suggested orders). A record stored before the trace
    kept each evaluation's context replays too: the same rules, indicators and orders, and the
    same summary up to where it names a finding (how the card named it was not kept)."""
    console: ConsoleApp = shared(tmp_path_factory, kb)
    request, _ = load_scenario(name)
    answer = call(console.client(), request, f"replay-{name}")
    with console.engine.connect() as conn:
        trace = conn.execute(
            select(schema.invocations.c.trace).where(
                schema.invocations.c.hook_instance == f"replay-{name}"
            )
        ).scalar_one()
    sent = sorted(
        (
            c["source"]["topic"]["display"],
            c["summary"],
            c["indicator"],
            tuple(s["label"] for s in c.get("suggestions", [])),
        )
        for c in answer["cards"]
    )
    old_format = json.loads(json.dumps(trace))
    for evaluation in old_format.get("evaluations", []):
        evaluation.pop("context", None)
    for stored_trace, exact in ((trace, True), (old_format, False)):
        replayed = []
        for observation, facts in impact.stored_evaluations(stored_trace, kb):
            stored = next(e for e in trace["evaluations"] if e["observation"] == observation)
            if facts is None:
                assert "not_interpreted" in stored
                continue
            evaluation = engine.replay(kb, facts, observation)
            fired = {o.rule.id: o.fired and not o.suppressed_by for o in evaluation.outcomes}
            assert fired == {r["rule"]: r["fired"] for r in stored["rules"]}
            replayed += [
                (v.rule, as_sent(v.summary), v.indicator, v.orders)
                for v in impact.cards_on(kb, observation, facts).values()
            ]
        replayed.sort()
        assert [(r, i, o) for r, _, i, o in replayed] == [(r, i, o) for r, _, i, o in sent]
        if exact:
            assert replayed == sent
            continue
        for (rule, summary, _, _), (_, sent_summary, _, _) in zip(replayed, sent, strict=True):
            if not names_findings(kb, rule):
                assert summary == sent_summary
                continue
            labels = [f.label for f in kb.findings.values() if f.label in summary]
            first = min((summary.find(label) for label in labels), default=len(summary))
            assert sent_summary.startswith(summary[:first].removesuffix("…")), (
                summary,
                sent_summary,
            )


def names_findings(kb: KnowledgeBase, rule_id: str) -> bool:
    card = kb.rules[rule_id].card
    assert card is not None
    return any("{{finding." in v.text or "{{group." in v.text for v in card.summary)


def as_sent(summary: str) -> str:
    """The summary as a card carries it (render/cards.py shortens long ones)."""
    return shorten(summary, SUMMARY_LIMIT)


@pytest.fixture(scope="module")
def shared() -> Any:
    """One console app (and audit store) for the whole replay parametrisation."""
    made: dict[str, ConsoleApp] = {}

    def get(factory: pytest.TempPathFactory, kb: KnowledgeBase) -> ConsoleApp:
        if "app" not in made:
            made["app"] = console_app(factory.mktemp("replay"), kb)
        return made["app"]

    return get


def test_since_parsing() -> None:
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    assert impact.parse_since("30d", now) == now - timedelta(days=30)
    assert impact.parse_since("2026-11-01", now) == datetime(2026, 11, 1, tzinfo=UTC)
    for bad in ("0d", "thirty", "30"):
        with pytest.raises(ValueError):  # noqa: PT011 - the message is for people
            impact.parse_since(bad, now)


def test_a_rule_testing_a_fact_no_stored_evaluation_holds_is_flagged(
    tmp_path: Path, kb: KnowledgeBase
) -> None:
    candidate = tmp_path / "candidate"
    shutil.copytree(ROOT / "cards", candidate)
    rule = candidate / "rules" / "alp-high-liver-source.yaml"
    rule.write_text(
        rule.read_text("utf-8").replace(
            "conditions:\n",
            "conditions:\n  - {fact: liver.r_ratio, at_most: 2, says: cholestatic pattern}\n",
            1,
        ),
        "utf-8",
    )
    console = console_app(tmp_path, kb)
    stored_calls(console)  # no ALT anywhere, so no R ratio was ever derived
    report = impact.impact(
        kb, impact.load_candidate(candidate, kb), console.engine, datetime.now(UTC) - timedelta(1)
    )
    assert any(
        w.startswith("Rule alp-high-liver-source tests liver.r_ratio") for w in report.warnings
    ), report.warnings


def test_kb_impact_refuses_what_it_cannot_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cds_service.cli import main

    monkeypatch.setenv("ALP_CDS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ALP_CDS_DEV_MODE", "true")
    assert main(["kb", "impact", "--candidate", str(tmp_path / "nowhere")]) == 1
    assert "knowledge base folder not found" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="--since expects 30d"):
        main(["kb", "impact", "--candidate", str(ROOT / "cards"), "--since", "last week"])
    with pytest.raises(SystemExit):
        main(["kb", "impact", "--candidate", str(ROOT / "cards"), "--limit", "0"])


def test_the_replay_is_bounded_and_says_so(tmp_path: Path, kb: KnowledgeBase) -> None:
    from cds_service.cli import build_parser

    parsed = build_parser().parse_args(["kb", "impact", "--candidate", "x"])
    assert parsed.limit == impact.DEFAULT_LIMIT  # the CLI and the console replay as much
    console = console_app(tmp_path, kb)
    stored_calls(console)
    report = impact.impact(kb, kb, console.engine, datetime.now(UTC) - timedelta(1), limit=2)
    assert report.truncated
    assert report.invocations == 2
    assert "Only the newest 2 invocations" in report.warnings[0]
