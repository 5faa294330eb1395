"""The informatics console in tests: users files, an app with the console on and its own audit
store, and demo data made by calling the service (scenario requests and feedback), spread over
past days."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import bcrypt
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select, update

from cds_service.alp_services import AlpServices
from cds_service.app import build_audit_store, create_app
from cds_service.audit import schema
from cds_service.audit.store import AuditStore
from cds_service.knowledge.model import KnowledgeBase
from cds_service.settings import Settings
from tests.conftest import NOW, load_scenario, scenario_names

PASSWORD = "correct horse battery staple"
USER = "ada"


def write_users(path: Path, users: dict[str, str]) -> Path:
    """An htpasswd file as `htpasswd -B` writes it ($2y$ prefix), at the lowest cost for speed."""
    lines = []
    for name, password in users.items():
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
        lines.append(f"{name}:$2y${hashed[4:]}")
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


@dataclass
class ConsoleApp:
    app: Flask
    store: AuditStore
    settings: Settings

    @property
    def engine(self) -> Engine:
        return self.store.engine

    def client(self) -> FlaskClient:
        return self.app.test_client()


def console_app(
    tmp_path: Path, kb: KnowledgeBase, store: AuditStore | None = None, **overrides: Any
) -> ConsoleApp:
    """An app with the console on (a users file with USER unless told otherwise) and its own
    audit store: SQLite in tmp_path, or `store`."""
    data_dir = tmp_path / "data"
    values: dict[str, Any] = {"dev_mode": True, "data_dir": data_dir}
    if "console_trusted_header" not in overrides and "console_users_file" not in overrides:
        values["console_users_file"] = write_users(tmp_path / "users", {USER: PASSWORD})
    values.update(overrides)
    settings = Settings.from_env({}, **values)
    store = store or build_audit_store(settings, kb)
    services = AlpServices(kb, settings.base_url, settings.result_sign_hook, clock=lambda: NOW)
    app = create_app(settings, services=services, audit=store)
    return ConsoleApp(app, store, settings)


def basic(user: str = USER, password: str = PASSWORD) -> dict[str, str]:
    import base64

    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def call(client: FlaskClient, request: dict[str, Any], hook_instance: str) -> dict[str, Any]:
    """One service call; returns the response body."""
    body = json.loads(json.dumps(request))
    body["hookInstance"] = hook_instance
    service = "alp-patient-view" if body["hook"] == "patient-view" else "alp-result-sign"
    response = client.post(f"/cds-services/{service}", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    answer: dict[str, Any] = response.get_json()
    answer["service"] = service
    return answer


def feedback(
    client: FlaskClient,
    service: str,
    card: dict[str, Any],
    outcome: str,
    *,
    when: datetime,
    reason: dict[str, Any] | None = None,
    comment: str | None = None,
) -> None:
    item: dict[str, Any] = {
        "card": card["uuid"],
        "outcome": outcome,
        "outcomeTimestamp": when.isoformat(),
    }
    if outcome == "accepted":
        item["acceptedSuggestions"] = [{"id": card["suggestions"][0]["uuid"]}]
    if outcome == "overridden":
        override: dict[str, Any] = {}
        if reason:
            override["reason"] = reason
        if comment:
            override["userComment"] = comment
        item["overrideReason"] = override
    response = client.post(f"/cds-services/{service}/feedback", json={"feedback": [item]})
    assert response.status_code == 200, response.get_data(as_text=True)


COMMENTS = (
    "GGT done last week at another lab",
    "Known Paget disease, followed by rheumatology",
    "Patient declined further tests today",
    None,
    None,
)


def shift(engine: Engine, hook_instance: str, when: datetime) -> None:
    """Date a stored invocation, and the feedback on its cards, in the past (demo data spread
    over days)."""
    inv, cards, fb = schema.invocations, schema.cards, schema.feedback
    record_ids = select(inv.c.record_id).where(inv.c.hook_instance == hook_instance)
    card_ids = select(cards.c.card_uuid).where(cards.c.record_id.in_(record_ids))
    with engine.begin() as conn:
        conn.execute(
            update(inv).where(inv.c.hook_instance == hook_instance).values(received_at=when)
        )
        conn.execute(
            update(fb)
            .where(fb.c.card_uuid.in_(card_ids))
            .values(received_at=when + timedelta(minutes=3))
        )


def seed_demo(
    client: FlaskClient, engine: Engine, *, days: int = 30, per_day: int = 12, seed: int = 13
) -> list[str]:
    """Scenario calls on each of the last `days` days with feedback on most cards: accepted,
    overridden with the card's own reasons (some with comments), or left unanswered. Returns
    the hookInstances."""
    rng = random.Random(seed)
    requests = [load_scenario(name)[0] for name in scenario_names()]
    now = datetime.now(UTC)
    made = []
    for day in range(days):
        # A weekly rhythm and a slow rise, so the charts have a shape.
        count = per_day + (4 if (day % 7) in (1, 2) else 0) - day // 6
        for i in range(max(2, count)):
            hook_instance = f"demo-{day:02d}-{i:02d}-{rng.randrange(16**6):06x}"
            answer = call(client, rng.choice(requests), hook_instance)
            when = now - timedelta(days=day, hours=rng.uniform(0, 10), minutes=rng.uniform(0, 59))
            for card in answer["cards"]:
                roll = rng.random()
                if not card.get("suggestions"):
                    # An informational card is mostly read and left; sometimes dismissed.
                    if roll < 0.15:
                        feedback(
                            client,
                            answer["service"],
                            card,
                            "overridden",
                            when=when,
                            reason=rng.choice(card.get("overrideReasons") or [None]),
                            comment=rng.choice(COMMENTS) or "already known",
                        )
                    continue
                # Older weeks were overridden more often: a rule change that was then made.
                accept_share = 0.5 + 0.2 * (day < 14)
                if roll < accept_share:
                    feedback(client, answer["service"], card, "accepted", when=when)
                elif roll < accept_share + 0.3:
                    feedback(
                        client,
                        answer["service"],
                        card,
                        "overridden",
                        when=when,
                        reason=rng.choice(card["overrideReasons"]),
                        comment=rng.choice(COMMENTS),
                    )
            shift(engine, hook_instance, when)
            made.append(hook_instance)
    return made
