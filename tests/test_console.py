"""The informatics console through Flask's test client: off unless configured, sign-in (HTTP
Basic, the login form with its CSRF token, a trusted proxy header), the access log, escaping of
everything that comes from the record, the pages' content, and the feedback CSV."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select, update

from cds_service.app import create_app
from cds_service.audit import reports, schema
from cds_service.audit.spool import Spool
from cds_service.audit.store import AuditStore
from cds_service.console import impact
from cds_service.knowledge.model import KnowledgeBase
from cds_service.settings import Settings, SettingsError
from tests.conftest import NOW
from tests.support.console import (
    PASSWORD,
    USER,
    ConsoleApp,
    basic,
    call,
    console_app,
    feedback,
    shift,
    write_users,
)
from tests.support.databases import BACKENDS, migrated_engine
from tests.support.fhir import alp, full_prefetch, ggt, sign_request

HOSTILE = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>"
HTML = {"Accept": "text/html"}


@pytest.fixture
def console(tmp_path: Path, kb: KnowledgeBase) -> ConsoleApp:
    return console_app(tmp_path, kb)


@pytest.fixture
def client(console: ConsoleApp) -> FlaskClient:
    return console.client()


def access_rows(console: ConsoleApp) -> list[dict[str, Any]]:
    table = schema.console_access
    with console.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(table).order_by(table.c.id)).mappings()]


def sign_in(client: FlaskClient, user: str = USER, password: str = PASSWORD) -> Any:
    page = client.get("/console/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True))
    assert token, "the login form carries a CSRF token"
    return client.post(
        "/console/login",
        data={"username": user, "password": password, "csrf": token.group(1), "next": "/console/"},
    )


def one_call(client: FlaskClient, value: float = 312, hook_instance: str = "hi-console-1") -> Any:
    body = sign_request([alp(value, ident=f"alp-{hook_instance}")], full_prefetch())
    return call(client, body, hook_instance)


# --- off unless configured --------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/console", "/console/", "/console/login", "/console/feedback.csv", "/console/impact"]
)
def test_the_console_is_a_plain_404_when_sign_in_is_not_configured(app: Flask, path: str) -> None:
    response = app.test_client().get(path, headers=basic())
    assert response.status_code == 404
    assert response.get_json()["resourceType"] == "OperationOutcome"


def test_a_trusted_header_needs_its_proxies() -> None:
    with pytest.raises(SettingsError, match=r"^ALP_CDS_CONSOLE_TRUSTED_PROXIES"):
        Settings.from_env({"ALP_CDS_CONSOLE_TRUSTED_HEADER": "X-Remote-User"})
    with pytest.raises(SettingsError, match=r"^ALP_CDS_CONSOLE_TRUSTED_PROXIES"):
        Settings.from_env({"ALP_CDS_CONSOLE_TRUSTED_PROXIES": "10.0.0.0/33"})
    with pytest.raises(SettingsError, match=r"^ALP_CDS_CONSOLE_TRUSTED_HEADER"):
        Settings.from_env({"ALP_CDS_CONSOLE_TRUSTED_HEADER": "X Remote"})


def test_a_users_file_without_bcrypt_hashes_stops_start_up(
    tmp_path: Path, kb: KnowledgeBase
) -> None:
    users = tmp_path / "users"
    users.write_text("ada:$apr1$abc$0123456789abcdefghij\n", "utf-8")
    with pytest.raises(SettingsError, match=r"ALP_CDS_CONSOLE_USERS_FILE: .*users:1: .*bcrypt"):
        console_app(tmp_path, kb, console_users_file=users)


# --- HTTP Basic ---------------------------------------------------------------------------------


def test_basic_sign_in_for_scripts(client: FlaskClient, console: ConsoleApp) -> None:
    assert client.get("/console/", headers=basic()).status_code == 200
    wrong = client.get("/console/feedback.csv", headers=basic(password="nope"))
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"].startswith('Basic realm="alp-cds console"')
    assert wrong.get_json()["issue"][0]["code"] == "login"
    assert client.get("/console/", headers=basic(user="bob")).status_code == 401
    rows = access_rows(console)
    assert [(r["user_name"], r["auth"], r["status"]) for r in rows] == [
        (USER, "basic", 200),
        (USER, "basic", 401),
        ("bob", "basic", 401),
    ]


@pytest.mark.parametrize(
    "path",
    [
        "/console/",
        "/console/rules/alp-extreme",
        "/console/invocations/hi-console-1",
        "/console/invocations",
        "/console/feedback.csv",
        "/console/impact",
        "/console/access",
    ],
)
def test_every_page_is_refused_without_credentials(client: FlaskClient, path: str) -> None:
    one_call(client)
    script = client.get(path)
    assert script.status_code == 401
    assert script.get_json()["resourceType"] == "OperationOutcome"
    browser = client.get(path, headers=HTML)
    assert browser.status_code == 303
    assert browser.headers["Location"].startswith("/console/login?next=/console")
    assert "alp-" not in client.get(path).get_data(as_text=True).replace("alp-cds", "")


# --- the login form ---------------------------------------------------------------------------


def test_form_sign_in_sets_a_protected_session_cookie(
    client: FlaskClient, console: ConsoleApp
) -> None:
    response = sign_in(client)
    assert response.status_code == 303
    assert response.headers["Location"] == "/console/"
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("alp_console="))
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Path=/console" in cookie
    assert "Secure" not in cookie  # development mode: plain http on loopback
    page = client.get("/console/", headers=HTML)
    assert page.status_code == 200
    assert "Overview" in page.get_data(as_text=True)
    assert access_rows(console)[-1]["auth"] == "form"


def test_the_session_cookie_is_secure_outside_development_mode(
    tmp_path: Path, kb: KnowledgeBase
) -> None:
    users = write_users(tmp_path / "users", {USER: PASSWORD})
    settings = Settings.from_env(
        {},
        data_dir=tmp_path,
        console_users_file=users,
        trust_presets=("cds-hooks-sandbox",),
        workers=1,
        public_base_url="https://cds.example.org",
        auto_migrate=True,  # production refuses an unmigrated store; this one is new
    )
    app = create_app(settings)
    response = sign_in(app.test_client())
    assert response.status_code == 303
    for cookie in response.headers.getlist("Set-Cookie"):
        assert "Secure" in cookie, cookie


def test_the_login_form_needs_its_csrf_token(client: FlaskClient, console: ConsoleApp) -> None:
    client.get("/console/login")
    no_token = client.post("/console/login", data={"username": USER, "password": PASSWORD})
    assert no_token.status_code == 400
    forged = client.post(
        "/console/login", data={"username": USER, "password": PASSWORD, "csrf": "x.y.z"}
    )
    assert forged.status_code == 400
    # A real token without the browser cookie it was issued with (another browser's form).
    token = re.search(
        r'name="csrf" value="([^"]+)"', client.get("/console/login").get_data(as_text=True)
    )
    assert token
    other = console.client()
    stolen = other.post(
        "/console/login", data={"username": USER, "password": PASSWORD, "csrf": token.group(1)}
    )
    assert stolen.status_code == 400
    assert not any(c.startswith("alp_console=") for c in stolen.headers.getlist("Set-Cookie")), (
        "no session from a form without its cookie"
    )
    assert client.get("/console/").status_code == 401
    assert [r["status"] for r in access_rows(console)][:3] == [400, 400, 400]


def test_a_wrong_password_on_the_form_is_refused_and_recorded(
    client: FlaskClient, console: ConsoleApp
) -> None:
    response = sign_in(client, password="wrong")
    assert response.status_code == 401
    assert "Wrong user name or password" in response.get_data(as_text=True)
    assert client.get("/console/").status_code == 401
    posted = [r for r in access_rows(console) if r["method"] == "POST"]
    assert [(r["user_name"], r["auth"], r["status"]) for r in posted] == [(USER, "form", 401)]


def test_sign_in_never_redirects_off_the_console(client: FlaskClient) -> None:
    token = re.search(
        r'name="csrf" value="([^"]+)"', client.get("/console/login").get_data(as_text=True)
    )
    assert token
    for target in ("https://evil.example/", "//evil.example/console", "/rulebook"):
        response = client.post(
            "/console/login",
            data={"username": USER, "password": PASSWORD, "csrf": token.group(1), "next": target},
        )
        assert response.headers["Location"] == "/console/", target
        client.get("/console/login")  # a fresh form cookie for the next try
        token = re.search(
            r'name="csrf" value="([^"]+)"', client.get("/console/login").get_data(as_text=True)
        )
        assert token


def test_sign_out_needs_the_session_token(client: FlaskClient) -> None:
    sign_in(client)
    page = client.get("/console/", headers=HTML).get_data(as_text=True)
    token = re.search(r'action="/console/logout".*?name="csrf" value="([^"]+)"', page, re.S)
    assert token
    assert client.post("/console/logout", data={"csrf": "forged"}).status_code == 400
    assert client.get("/console/").status_code == 200
    out = client.post("/console/logout", data={"csrf": token.group(1)})
    assert out.status_code == 303
    assert client.get("/console/").status_code == 401


def test_a_removed_account_loses_its_session(
    client: FlaskClient, console: ConsoleApp, tmp_path: Path
) -> None:
    sign_in(client)
    assert client.get("/console/").status_code == 200
    assert console.settings.console_users_file
    write_users(console.settings.console_users_file, {"grace": "another long password"})
    assert client.get("/console/").status_code == 401


# --- trusted proxy header ---------------------------------------------------------------------


@pytest.fixture
def proxied(tmp_path: Path, kb: KnowledgeBase) -> ConsoleApp:
    return console_app(
        tmp_path,
        kb,
        console_trusted_header="X-Remote-User",
        console_trusted_proxies=("10.0.0.0/24",),
    )


def test_a_trusted_header_from_an_allowed_proxy_signs_in(proxied: ConsoleApp) -> None:
    client = proxied.client()
    response = client.get(
        "/console/",
        headers={"X-Remote-User": "dr.lin@hospital.example"},
        environ_base={"REMOTE_ADDR": "10.0.0.7"},
    )
    assert response.status_code == 200
    assert "dr.lin@hospital.example" in response.get_data(as_text=True)
    row = access_rows(proxied)[-1]
    assert (row["user_name"], row["auth"], row["remote_addr"]) == (
        "dr.lin@hospital.example",
        "header",
        "10.0.0.7",
    )


def test_a_trusted_header_from_anyone_else_is_refused(proxied: ConsoleApp) -> None:
    client = proxied.client()
    response = client.get(
        "/console/",
        headers={"X-Remote-User": "admin"},
        environ_base={"REMOTE_ADDR": "10.0.1.7"},
    )
    assert response.status_code == 403
    assert (access_rows(proxied)[-1]["status"], access_rows(proxied)[-1]["user_name"]) == (
        403,
        None,
    )
    # Without the header, and with no users file, there is no other way in.
    assert client.get("/console/", environ_base={"REMOTE_ADDR": "10.0.0.7"}).status_code == 401
    assert client.get("/console/login").status_code == 404
    # A proxy that sends an unusable name does not sign anyone in.
    bad = client.get(
        "/console/",
        headers={"X-Remote-User": "a:b"},
        environ_base={"REMOTE_ADDR": "10.0.0.7"},
    )
    assert bad.status_code == 401


# --- the access log ---------------------------------------------------------------------------


def test_every_view_is_recorded_with_who_what_when(
    client: FlaskClient, console: ConsoleApp
) -> None:
    one_call(client)
    for path in (
        "/console/?days=7",
        "/console/rules/alp-high-confirm-origin",
        "/console/invocations/hi-console-1",
        "/console/invocations?rule=alp-extreme",
        "/console/feedback.csv",
    ):
        assert client.get(path, headers=basic()).status_code == 200, path
    rows = access_rows(console)
    assert [r["path"] for r in rows] == [
        "/console/?days=7",
        "/console/rules/alp-high-confirm-origin",
        "/console/invocations/hi-console-1",
        "/console/invocations?rule=alp-extreme",
        "/console/feedback.csv",
    ]
    assert {r["user_name"] for r in rows} == {USER}
    assert all(r["at"] is not None and r["method"] == "GET" for r in rows)
    log = client.get("/console/access", headers=basic()).get_data(as_text=True)
    assert "GET /console/feedback.csv" in log


def test_a_view_that_cannot_be_recorded_is_withheld(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    one_call(client)

    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("audit store down")

    monkeypatch.setattr("cds_service.console.blueprint.record_access", broken)
    response = client.get("/console/invocations/hi-console-1", headers=basic())
    assert response.status_code == 503
    assert "hi-console-1" not in response.get_data(as_text=True)
    assert "Observation/" not in response.get_data(as_text=True)


# --- escaping ---------------------------------------------------------------------------------


def test_pages_escape_everything_from_the_record(client: FlaskClient, console: ConsoleApp) -> None:
    answer = one_call(client, hook_instance="hi-hostile")
    card = answer["cards"][0]
    feedback(
        client,
        answer["service"],
        card,
        "overridden",
        when=NOW,
        reason={"code": HOSTILE[:100], "system": "urn:x", "display": HOSTILE},
        comment=HOSTILE,
    )
    with console.engine.begin() as conn:
        trace = conn.execute(
            select(schema.invocations.c.trace).where(
                schema.invocations.c.hook_instance == "hi-hostile"
            )
        ).scalar_one()
        trace["evaluations"][0]["facts"]["alp.range_source"]["value"] = HOSTILE
        trace["evaluations"][0]["rules"][0]["why_not"] = HOSTILE
        trace["data"][HOSTILE] = {"source": HOSTILE, "ok": False, "resources": 0}
        conn.execute(
            update(schema.invocations)
            .where(schema.invocations.c.hook_instance == "hi-hostile")
            .values(trace=trace, tenant=HOSTILE, user_ref=HOSTILE, patient=HOSTILE)
        )
        conn.execute(
            update(schema.cards)
            .where(schema.cards.c.card_uuid == card["uuid"])
            .values(rule_id=HOSTILE[:100], summary=HOSTILE)
        )
    pages = {
        path: client.get(path, headers=basic())
        for path in (
            "/console/",
            f"/console/rules/{HOSTILE[:20].replace('/', '')}",
            "/console/invocations/hi-hostile",
            "/console/invocations?hook_instance=hi-hostile&rule=" + HOSTILE[:30],
            "/console/access",
        )
    }
    pages["rule"] = client.get(
        "/console/rules/alp-high-confirm-origin", headers=basic()
    )  # its overrides table shows the comment
    for path, response in pages.items():
        text = response.get_data(as_text=True)
        assert "<script>alert" not in text, path
        assert "<img src=x" not in text, path
    detail = pages["/console/invocations/hi-hostile"].get_data(as_text=True)
    assert detail.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 6  # each field, escaped
    overview = pages["/console/"].get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in overview  # the rule id in the SVG charts


# --- content ----------------------------------------------------------------------------------


def seeded(client: FlaskClient) -> list[dict[str, Any]]:
    """Three calls: a high ALP without GGT (confirm origin), one with a high GGT (liver), and an
    extreme one; feedback accepted, overridden with a reason and comment, and left."""
    answers = [
        one_call(client, 312, "hi-a"),
        call(
            client,
            sign_request([alp(250, ident="alp-b"), ggt(90, ident="ggt-b")], full_prefetch()),
            "hi-b",
        ),
        one_call(client, 1500, "hi-c"),
    ]
    now = datetime.now(UTC)
    feedback(client, "alp-result-sign", answers[0]["cards"][0], "accepted", when=now)
    feedback(
        client,
        "alp-result-sign",
        answers[2]["cards"][-1],
        "overridden",
        when=now,
        reason=answers[2]["cards"][-1]["overrideReasons"][0],
        comment="Known metastatic disease",
    )
    return answers


def test_overview_shows_the_charts_and_numbers(client: FlaskClient) -> None:
    seeded(client)
    text = client.get("/console/", headers=basic()).get_data(as_text=True)
    assert text.count('<svg class="chart"') == 6
    for title in (
        "Invocations per day",
        "Cards shown by rule and indicator",
        "Acceptance rate per rule",
        "Override rate per rule",
        "Top override reasons",
        "Latency percentiles per day",
    ):
        assert f"<figcaption>{title}" in text, title
    assert re.search(r'class="big">3</span><span>answered calls', text)
    assert "Known metastatic disease" not in text  # comments are on the rule page
    assert "Knowledge-base versions in service" in text
    assert 'data-tip="' in text
    assert "<title>" in text
    # An outside resource would break "nothing fetched from outside".
    assert not re.search(r'(src|href)="(https?:)?//', text)


def test_rule_page_shows_trend_logic_and_overrides(client: FlaskClient, kb: KnowledgeBase) -> None:
    answers = seeded(client)
    overridden_rule = answers[2]["cards"][-1]["source"]["topic"]["display"]
    text = client.get(f"/console/rules/{overridden_rule}", headers=basic()).get_data(as_text=True)
    assert '<svg class="chart"' in text
    assert "Known metastatic disease" in text
    assert "/console/invocations/hi-c" in text
    rule = kb.rules[overridden_rule]
    assert rule.conditions[0].says in text
    confirm = client.get("/console/rules/alp-high-confirm-origin", headers=basic()).get_data(
        as_text=True
    )
    assert "ggt_lookback_days" in confirm  # its thresholds, from the rulebook
    assert "30 days" in confirm
    review = kb.rules["alp-high-confirm-origin"].review
    assert review is not None
    assert f'Clinical review <span class="meta">{review.date}' in confirm
    assert html.escape(review.evidence[0].claim, quote=True) in confirm
    # The topic code EHRs keep override history by leads to the same page.
    topic = kb.rules["alp-high-confirm-origin"].topic
    by_topic = client.get(f"/console/rules/{topic}", headers=basic()).get_data(as_text=True)
    assert "Raised ALP" in by_topic
    assert "ggt_lookback_days" in by_topic
    assert client.get("/console/rules/no-such-rule", headers=basic()).status_code == 404


def test_invocation_page_shows_cards_trace_provenance_and_feedback(client: FlaskClient) -> None:
    answers = seeded(client)
    text = client.get("/console/invocations/hi-a", headers=basic()).get_data(as_text=True)
    card = answers[0]["cards"][0]
    assert card["summary"] in text.replace("&#39;", "'")
    assert "accepted" in text
    assert "<code>alp.status</code>" in text
    assert "<code>Observation/alp-hi-a</code>" in text  # the resource a fact came from
    assert "FIRED" in text
    assert "Data provenance" in text
    assert "prefetch" in text
    assert client.get("/console/invocations/nope", headers=basic()).status_code == 404


def test_a_comment_only_override_reads_as_such_not_as_a_python_dict(client: FlaskClient) -> None:
    # QA report D10: the reason column showed {'system': None, 'code': None, ...}.
    card = one_call(client, 312, "hi-comment")["cards"][0]
    when = datetime.now(UTC)
    feedback(client, "alp-result-sign", card, "overridden", when=when, comment="patient moving")
    text = client.get("/console/invocations/hi-comment", headers=basic()).get_data(as_text=True)
    row = text[text.index("<td>overridden</td>") :]
    row = row[: row.index("</tr>")]
    assert '(comment only) <span class="meta">(patient moving)</span>' in row
    assert "None" not in row
    assert "&#39;comment&#39;" not in row
    assert "{" not in row


def test_search_by_hook_instance_date_and_rule(client: FlaskClient) -> None:
    seeded(client)
    found = client.get("/console/invocations?hook_instance=hi-b", headers=basic())
    assert found.status_code == 303
    assert found.headers["Location"] == "/console/invocations/hi-b"
    by_rule = client.get(
        "/console/invocations?rule=alp-high-liver-source", headers=basic()
    ).get_data(as_text=True)
    assert "hi-b" in by_rule
    assert "hi-a" not in by_rule
    today = datetime.now(UTC).date().isoformat()
    by_day = client.get(f"/console/invocations?date={today}", headers=basic()).get_data(
        as_text=True
    )
    assert all(h in by_day for h in ("hi-a", "hi-b", "hi-c"))
    assert "hi-a" not in client.get(
        "/console/invocations?date=2020-01-01", headers=basic()
    ).get_data(as_text=True)
    bad = client.get("/console/invocations?date=yesterday", headers=basic())
    assert "is not a date" in bad.get_data(as_text=True)


def test_feedback_csv(client: FlaskClient) -> None:
    answers = seeded(client)
    feedback(
        client,
        "alp-result-sign",
        answers[1]["cards"][0],
        "overridden",
        when=datetime.now(UTC),
        comment='=HYPERLINK("http://evil.example","x")',
    )
    response = client.get("/console/feedback.csv", headers=basic())
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 3
    by_outcome = {r["outcome"]: r for r in rows if r["comment"] != rows[-1]["comment"]}
    assert by_outcome["accepted"]["card"] == answers[0]["cards"][0]["uuid"]
    assert by_outcome["accepted"]["accepted_suggestions"]
    overridden = by_outcome["overridden"]
    assert overridden["comment"] == "Known metastatic disease"
    assert (
        overridden["override_reason_code"] == answers[2]["cards"][-1]["overrideReasons"][0]["code"]
    )
    assert overridden["hook_instance"] == "hi-c"
    assert overridden["user"] == "Practitioner/dr-1"
    # A comment that a spreadsheet would run as a formula is neutralised.
    assert rows[-1]["comment"].startswith("'=HYPERLINK")


def test_pseudonymised_stores_show_pseudonyms(tmp_path: Path, kb: KnowledgeBase) -> None:
    console = console_app(tmp_path, kb, audit_pseudonym_key="k" * 32)
    client = console.client()
    one_call(client, hook_instance="hi-pseudo")
    text = client.get("/console/invocations/hi-pseudo", headers=basic()).get_data(as_text=True)
    assert "Patient/pseudo-" in text
    assert "Patient/pt-1" not in text
    assert "Practitioner/dr-1" not in text
    assert "pseudonyms (keyed hashes)" in text


@pytest.mark.parametrize("days", ["7", "30", "90", "365", "bogus"])
def test_every_period_renders(client: FlaskClient, days: str) -> None:
    seeded(client)
    assert client.get(f"/console/?days={days}", headers=basic()).status_code == 200
    assert client.get(f"/console/rules/alp-extreme?days={days}", headers=basic()).status_code == 200


def test_console_responses_carry_a_strict_content_security_policy(client: FlaskClient) -> None:
    response = client.get("/console/", headers=basic())
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    with client.get("/console/static/console.css") as static:
        assert static.status_code == 200
        assert "url(" not in static.get_data(as_text=True)  # no outside fonts or images


# --- the same on PostgreSQL ---------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    yield from migrated_engine(request.param, tmp_path, "alp_console")


def test_console_counts_by_day_on_each_database(
    backend: Engine, tmp_path: Path, kb: KnowledgeBase
) -> None:
    store = AuditStore(backend, Spool(tmp_path / "spool.jsonl"), kb.version, kb.content_hash)
    console = console_app(tmp_path, kb, store=store)
    client = console.client()
    answers = seeded(client)
    # Move one call to three days ago, late in the (UTC) evening: it counts on that day.
    earlier = (datetime.now(UTC) - timedelta(days=3)).replace(hour=23, minute=30)
    shift(backend, "hi-a", earlier)
    activity = reports.daily_activity(backend, earlier - timedelta(days=1))
    assert activity[earlier.date().isoformat()]["invocations"] == 1
    assert activity[datetime.now(UTC).date().isoformat()]["invocations"] == 2
    text = client.get("/console/?days=7", headers=basic()).get_data(as_text=True)
    assert re.search(r'class="big">3</span><span>answered calls', text)
    that_day = client.get(f"/console/invocations?date={earlier.date()}", headers=basic())
    assert "hi-a" in that_day.get_data(as_text=True)
    assert "hi-b" not in that_day.get_data(as_text=True)
    assert "hi-a" in client.get(
        f"/console/invocations?date={earlier.date()}&rule=alp-high-confirm-origin",
        headers=basic(),
    ).get_data(as_text=True)
    overridden = answers[2]["cards"][-1]["source"]["topic"]["display"]
    rule = client.get(f"/console/rules/{overridden}", headers=basic()).get_data(as_text=True)
    assert "Known metastatic disease" in rule
    latest = reports.latest_feedback(backend, earlier - timedelta(days=1))
    assert {f["outcome"] for f in latest} == {"accepted", "overridden"}
    assert answers[0]["cards"][0]["uuid"] in {f["card_uuid"] for f in latest}
    assert reports.kb_versions(backend, earlier - timedelta(days=1))[0]["invocations"] == 3
    replay = impact.impact(kb, kb, backend, earlier - timedelta(days=1))
    assert replay.evaluations == 3
    assert replay.totals()["same"] == sum(len(a["cards"]) for a in answers)


def test_a_remembered_basic_sign_in_never_makes_a_wrong_password_cheap(
    console: ConsoleApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bcrypt

    client = console.client()
    assert client.get("/console/", headers=basic()).status_code == 200
    checks: list[bytes] = []
    real = bcrypt.checkpw

    def counted(password: bytes, hashed: bytes) -> bool:
        checks.append(password)
        return real(password, hashed)

    monkeypatch.setattr("cds_service.console.auth.bcrypt.checkpw", counted)
    assert client.get("/console/", headers=basic()).status_code == 200
    assert checks == []  # the right password, remembered
    assert client.get("/console/", headers=basic(password="guess")).status_code == 401
    assert checks == [b"guess"]  # a wrong one is checked in full


def test_an_address_with_a_nul_is_a_400_page_and_still_recorded(
    backend: Engine, tmp_path: Path, kb: KnowledgeBase
) -> None:
    """On PostgreSQL these were a 500 (the search query) and 503 text pages (the access record
    could not be written): now the console's own 400 page, recorded with the escape."""
    store = AuditStore(backend, Spool(tmp_path / "spool.jsonl"), kb.version, kb.content_hash)
    console = console_app(tmp_path, kb, store=store)
    client = console.client()
    for path in (
        "/console/invocations?rule=%00",
        "/console/invocations?date=2026-11-21&hook_instance=a%01b",
        "/console/rules/a%00b",
        "/console/invocations/a%00b",
    ):
        response = client.get(path, headers={**basic(), **HTML})
        assert response.status_code == 400, path
        assert response.mimetype == "text/html"
        assert "Not a valid address" in response.get_data(as_text=True)
    paths = [row["path"] for row in access_rows(console)]
    assert paths == [
        "/console/invocations?rule=%00",
        "/console/invocations?date=2026-11-21&hook_instance=a%01b",
        "/console/rules/a%00b",
        "/console/invocations/a%00b",
    ]
    assert all(row["status"] == 400 for row in access_rows(console))


def test_the_last_and_first_representable_days_search_without_error(
    backend: Engine, tmp_path: Path, kb: KnowledgeBase
) -> None:
    """QA 12 #7: `date=9999-12-31`, which a date picker offers, was a 500 (its next day is out
    of datetime's range)."""
    store = AuditStore(backend, Spool(tmp_path / "spool.jsonl"), kb.version, kb.content_hash)
    client = console_app(tmp_path, kb, store=store).client()
    seeded(client)
    for day in ("9999-12-31", "0001-01-01"):
        response = client.get(f"/console/invocations?date={day}", headers=basic())
        assert response.status_code == 200, day
        assert "hi-a" not in response.get_data(as_text=True)
    response = client.get("/console/invocations?date=10000-01-01", headers=basic())
    assert response.status_code == 200
    assert "is not a date" in response.get_data(as_text=True)


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_since_date_past_the_range_in_utc_is_refused_as_a_bad_date(text: str) -> None:
    with pytest.raises(ValueError, match="out of range"):
        impact.parse_since(text, datetime.now(UTC))


def test_override_reasons_read_as_given_or_as_the_knowledge_base_names_them(
    client: FlaskClient, kb: KnowledgeBase
) -> None:
    """QA 12 #12: a dismissal with neither reason nor comment was counted as "(comment only)",
    and a reason sent as its code alone (the sandbox's way) showed the bare code."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    answers = [one_call(client, 312, f"hi-reason-{n}")["cards"][0] for n in range(3)]
    items = [
        {"card": answers[0]["uuid"], "outcome": "overridden", "outcomeTimestamp": now},
        {
            "card": answers[1]["uuid"],
            "outcome": "overridden",
            "outcomeTimestamp": now,
            "overrideReason": {
                "reason": {"system": kb.override_system, "code": "known-cause"},
            },
        },
        {
            "card": answers[2]["uuid"],
            "outcome": "overridden",
            "outcomeTimestamp": now,
            "overrideReason": {"userComment": "moving away"},
        },
    ]
    response = client.post("/cds-services/alp-result-sign/feedback", json={"feedback": items})
    assert response.status_code == 200, response.get_json()
    rule = answers[0]["source"]["topic"]["display"]
    text = client.get(f"/console/rules/{rule}?days=7", headers=basic()).get_data(as_text=True)
    table = text[text.index("<h2>Override reasons</h2>") :]
    assert "<td>(no reason given)</td><td>1</td>" in table
    assert f"<td>{kb.override_reasons['known-cause']}</td><td>1</td>" in table
    assert "<td>(comment only)</td><td>1</td>" in table
    assert "<td>known-cause</td>" not in table
    page = client.get("/console/invocations/hi-reason-0", headers=basic()).get_data(as_text=True)
    row = page[page.index("<td>overridden</td>") :]
    assert "(no reason given)" in row[: row.index("</tr>")]
