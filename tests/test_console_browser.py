"""The informatics console in headless Chromium (Debian's, driven by Playwright through
`executable_path`), against the app served on a loopback port with 30 days of demo data made
by calling the service: a reviewer signs in through the form, sees the charts, opens a rule and
an invocation, exports the CSV and runs the impact preview; without credentials each page is
refused; the pages fit a laptop screen; and no request ever leaves the service's origin.

Set ALP_TEST_SCREENSHOTS=DIR to keep the screenshots (docs/console.md uses them)."""

from __future__ import annotations

import csv
import io
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from cds_service.audit import reports, schema
from cds_service.knowledge.model import KnowledgeBase
from tests.conftest import ROOT
from tests.support.console import PASSWORD, USER, ConsoleApp, console_app, seed_demo

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
]
LAPTOP = {"width": 1280, "height": 800}
WIDE = {"width": 1400, "height": 1000}


@dataclass
class Live:
    base: str
    console: ConsoleApp
    candidate: Path
    hook_instances: list[str]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, kb: KnowledgeBase) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("console-browser")
    candidate = folder / "candidate-cards"
    shutil.copytree(ROOT / "cards", candidate)
    params = candidate / "parameters.yaml"
    params.write_text(
        params.read_text("utf-8").replace(
            "  extreme_xuln:\n    value: 10\n", "  extreme_xuln:\n    value: 3\n"
        ),
        "utf-8",
    )
    console = console_app(folder, kb, console_candidate_dirs=(candidate,))
    made = seed_demo(console.client(), console.engine, days=30, per_day=12)
    server = make_server("127.0.0.1", 0, console.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Live(f"http://127.0.0.1:{server.server_port}", console, candidate, made)
    finally:
        server.shutdown()
        thread.join(10)


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Session:
    """A browser context that records every request and console error."""

    context: Any
    base: str
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def page(self) -> Any:
        page = self.context.new_page()
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        return page

    def check_nothing_left_the_service(self) -> None:
        assert self.requests, "no request was seen at all"
        outside = [u for u in self.requests if not u.startswith(self.base + "/")]
        assert outside == [], outside
        # A refused sign-in answers 401 on purpose; anything else (a script error, a CSP
        # violation, a blocked outside resource) is a failure.
        errors = [
            e
            for e in self.errors
            if not e.startswith("Failed to load resource: the server responded with a status")
        ]
        assert errors == [], errors


def session(browser: Any, live: Live, viewport: dict[str, int]) -> Session:
    context = browser.new_context(viewport=viewport, accept_downloads=True)
    found = Session(context, live.base)
    context.on("request", lambda r: found.requests.append(r.url))

    def only_ours(route: Any) -> None:
        # Anything aimed elsewhere is stopped here (and the list above shows it was tried).
        if route.request.url.startswith(live.base + "/"):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", only_ours)
    return found


@pytest.fixture
def wide(browser: Any, live: Live) -> Iterator[Session]:
    found = session(browser, live, WIDE)
    yield found
    found.context.close()


@pytest.fixture
def laptop(browser: Any, live: Live) -> Iterator[Session]:
    found = session(browser, live, LAPTOP)
    yield found
    found.context.close()


def screenshots(tmp_path: Path) -> Path:
    wanted = os.environ.get("ALP_TEST_SCREENSHOTS")
    folder = Path(wanted) if wanted else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def sign_in(page: Any, base: str) -> None:
    page.goto(base + "/console/")
    page.wait_for_url(base + "/console/login?next=/console/")
    page.fill("#username", USER)
    page.fill("#password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(base + "/console/")


def test_without_credentials_every_page_is_refused(wide: Session, live: Live) -> None:
    page = wide.page()
    for path in (
        "/console/",
        "/console/rules/alp-high-confirm-origin",
        f"/console/invocations/{live.hook_instances[0]}",
        "/console/impact",
    ):
        page.goto(live.base + path)
        assert page.url.startswith(live.base + "/console/login?next=/console/"), path
        assert page.locator("#password").is_visible()
        assert page.locator("svg.chart").count() == 0
        assert "Observation/" not in page.content()  # nothing from the record
    download = wide.context.request.get(live.base + "/console/feedback.csv")
    assert download.status == 401
    assert "outcome" not in download.text()
    page.fill("#username", USER)
    page.fill("#password", "not the password")
    page.click("form button[type=submit]")
    assert page.locator(".error").inner_text() == "Wrong user name or password."
    assert page.locator("svg.chart").count() == 0
    wide.check_nothing_left_the_service()


def test_a_reviewer_signs_in_reads_the_charts_a_rule_an_invocation_and_exports_csv(
    wide: Session, live: Live, tmp_path: Path
) -> None:
    shots = screenshots(tmp_path)
    page = wide.page()
    sign_in(page, live.base)

    # Overview: the charts, each with its caption and numbers on hover.
    charts = page.locator("svg.chart")
    assert charts.count() == 6
    captions = page.locator("figure figcaption").all_inner_texts()
    assert "Invocations per day" in captions
    assert any(c.startswith("Acceptance rate per rule") for c in captions)
    for i in range(charts.count()):
        box = charts.nth(i).bounding_box()
        assert box is not None
        assert box["width"] > 400
    page.hover("#fig-invocations rect.mark >> nth=-1")
    tip = page.locator("#tip")
    tip.wait_for(state="visible")
    assert "total" in tip.inner_text()
    page.mouse.move(5, 5)  # the read-out goes when the pointer leaves the marks
    tip.wait_for(state="hidden")
    page.screenshot(path=str(shots / "console-overview.png"), full_page=True)

    # A rule page, from the overview's rule table.
    page.click("table.rules a:text-is('alp-high-confirm-origin')")
    page.wait_for_url(live.base + "/console/rules/alp-high-confirm-origin")
    assert page.locator("h1").inner_text() == "Raised ALP with no GGT - confirm the source"
    assert page.locator("svg.chart").count() == 2
    assert page.get_by_text("Fires when all of these hold").is_visible()
    assert page.get_by_text("ggt_lookback_days").first.is_visible()
    page.screenshot(path=str(shots / "console-rule.png"), full_page=False)

    # An invocation where it fired: the card and its decision trace.
    page.click("section.two a[href^='/console/invocations/'] >> nth=0")
    page.wait_for_url(live.base + "/console/invocations/**")
    assert page.locator(".card").count() >= 1
    assert page.locator("h3", has_text="Decision trace").is_visible()
    assert page.locator("table.facts-table td code", has_text="alp.status").count() >= 1
    assert page.locator("ul.rules li.fired").count() >= 1
    assert page.get_by_text("Data provenance").is_visible()
    page.screenshot(path=str(shots / "console-invocation.png"), full_page=True)

    # Search by hookInstance leads to the same kind of page.
    page.click("header nav a:text-is('Invocations')")
    page.fill("input[name=hook_instance]", live.hook_instances[5])
    page.click("form.search button")
    page.wait_for_url(live.base + f"/console/invocations/{live.hook_instances[5]}")

    # The CSV export, as a download.
    with page.expect_download() as info:
        page.click("header nav a:text-is('Feedback CSV')")
    download = info.value
    text = Path(download.path()).read_text("utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == reports.FEEDBACK_CSV_COLUMNS
    with live.console.engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(schema.feedback)).scalar_one()
    assert len(rows) - 1 == stored > 0

    # Sign out: the pages are refused again.
    page.goto(live.base + "/console/")
    page.click("header form button:text-is('Sign out')")
    page.wait_for_url(live.base + "/console/login")
    page.goto(live.base + "/console/")
    assert page.url.startswith(live.base + "/console/login")
    wide.check_nothing_left_the_service()


def test_the_impact_preview_runs_a_configured_candidate(wide: Session, live: Live) -> None:
    page = wide.page()
    sign_in(page, live.base)
    page.click("header nav a:text-is('Impact preview')")
    page.select_option("select[name=candidate]", str(live.candidate))
    page.click("form.search button")
    page.wait_for_selector("#impact-table")
    row = page.locator("#impact-table tr", has=page.locator("a:text-is('alp-extreme')"))
    cells = row.locator("td").all_inner_texts()
    assert int(cells[1]) > 0  # cards that would appear with "extreme" from 3x
    assert page.locator(".example.appear").count() > 0
    wide.check_nothing_left_the_service()


@pytest.mark.parametrize(
    "path",
    [
        "/console/",
        "/console/rules/alp-high-confirm-origin",
        "/console/invocations?rule=alp-extreme",
        "/console/impact",
        "/console/access",
    ],
)
def test_pages_fit_a_laptop_screen(laptop: Session, live: Live, path: str) -> None:
    page = laptop.page()
    sign_in(page, live.base)
    page.goto(live.base + path)
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at 1280 px"
    for chart in page.locator("svg.chart").all():
        box = chart.bounding_box()
        assert box is not None
        assert 280 < box["width"] <= LAPTOP["width"]
    # Axis numbers stay readable when the charts shrink to half the screen.
    sizes = page.evaluate(
        "[...document.querySelectorAll('svg.chart .tick')]"
        ".map(t => t.getBoundingClientRect().height)"
    )
    if sizes:
        assert min(sizes) >= 9, min(sizes)
    laptop.check_nothing_left_the_service()


def test_the_laptop_overview_screenshot(laptop: Session, live: Live, tmp_path: Path) -> None:
    page = laptop.page()
    sign_in(page, live.base)
    assert page.locator("svg.chart").first.is_visible()
    page.screenshot(path=str(screenshots(tmp_path) / "console-overview-laptop.png"))
    laptop.check_nothing_left_the_service()


def test_the_request_monitor_would_see_an_outside_request(wide: Session, live: Live) -> None:
    """The check above can fail: a page (not the console's, which its CSP protects) that asks
    for an outside image is seen, and the request is stopped before it leaves."""
    page = wide.page()
    page.set_content('<img src="http://outside.invalid/pixel.png">')
    assert "http://outside.invalid/pixel.png" in wide.requests
    with pytest.raises(AssertionError):
        wide.check_nothing_left_the_service()
