"""Twenty-second round (2026-12-02), the integrator's part: where two parts met (docs/rulebook.md,
"Twenty-second round (2026-12-02), the integrator's part").

Part H widened `alp-high-acute-liver-injury-severe` to an ALT of 5x or more with an INR of 1.5 or
more and no jaundice; part E's silent `alp-high-methotrexate-cytopenia-quiet` stands back only on
the severe card's triggers, so it hid that new patient's warning behind the cytopenia card until
its triggers were brought into step (part E's knowledge-base test caught the drift)."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.rules_helper import fired, within_limits
from tests.support.labs import Labs, drug, post, since

NOW = "2026-12-02T08:00:00Z"
LABS = Labs(NOW)


def test_cytopenia_on_methotrexate_with_an_acute_injury_without_jaundice_shows_the_liver_warning(
    client: FlaskClient,
) -> None:
    # RA on weekly methotrexate, WBC 1.8, ALT 8x (320), bilirubin normal, INR 1.7, ALP 2x
    labs = [LABS.ggt(150), LABS.alt(320), LABS.bilirubin(0.8), LABS.inr(1.7), LABS.wbc(1.8)]
    found = post(
        client,
        "female",
        "1964-01-01",
        [LABS.alp(208)],
        labs,
        [since("M06.9", "2020-01-01")],
        [drug("Methotrexate 20 mg once weekly", "2023-01-01")],
    )
    assert fired(found) == [
        "alp-high-methotrexate-cytopenia",
        "alp-high-acute-liver-injury-severe",
    ], fired(found)
    within_limits(found)
    assert "INR 1.7" in found[1]["summary"]
    assert "liver unit today" in found[1]["summary"]


# --- Review 42, R42-23 (wrong): ALT 4x with INR 1.6 and no jaundice -----------------------------

INR_LINE = "INR 1.6, no anticoagulant: IV vitamin K, INR again tomorrow; not corrected"


def _alt_4x(client: FlaskClient, inr: float, *meds: dict[str, object]) -> list[dict[str, object]]:
    # ALT 160 (4x), ALP 150, GGT 100, bilirubin 1.0 mg/dL
    labs = [LABS.ggt(100), LABS.alt(160), LABS.bilirubin(1.0), LABS.inr(inr)]
    return post(client, "male", "1970-01-01", [LABS.alp(150)], labs, [], list(meds))


def test_r42_23_an_inr_of_1_6_without_jaundice_is_named_with_what_settles_it(
    client: FlaskClient,
) -> None:
    found = _alt_4x(client, 1.6)
    assert fired(found) == ["alp-high-liver-source"], fired(found)
    within_limits(found)
    assert INR_LINE in str(found[0]["detail"])
    # under 1.5, or on an anticoagulant (the drug's INR), no such line
    assert "IV vitamin K" not in str(_alt_4x(client, 1.3)[0]["detail"])
    for med in ("Warfarin 3 mg daily", "Apixaban 5 mg twice daily"):
        found = _alt_4x(client, 1.6, drug(med, "2020-01-01"))
        within_limits(found)
        assert all("IV vitamin K" not in str(c["detail"]) for c in found), fired(found)


# --- Review 42, R42-55 (wrong): the acute-liver-injury warning asked for a creatinine on record --

SEVERE = "alp-high-acute-liver-injury-severe"
KIDNEY = "Creatinine 250 umol/L"


def _injury(
    client: FlaskClient, *more: dict[str, object], **extra: object
) -> list[dict[str, object]]:
    # ALT 15x (600), bilirubin 1.0, INR 1.7, no recorded cause; ALP 150
    labs = [LABS.ggt(100), LABS.alt(600), LABS.bilirubin(1.0), LABS.inr(1.7), *more]
    conditions = list(extra.get("conditions", []))  # type: ignore[call-overload]
    meds = list(extra.get("meds", []))  # type: ignore[call-overload]
    return post(client, "male", "1970-01-01", [LABS.alp(150)], labs, conditions, meds)


def test_r42_55_a_raised_creatinine_is_named_on_the_acute_liver_injury_warning(
    client: FlaskClient,
) -> None:
    found = _injury(client, LABS.creatinine(250))
    assert fired(found) == [SEVERE], fired(found)
    within_limits(found)
    assert f"{KIDNEY}" in str(found[0]["detail"])
    assert "kidney injury too (paracetamol, leptospirosis, ischaemia?)" in str(found[0]["detail"])
    # the longest neighbour: on rivaroxaban (the DOAC line) with the kidney line
    within_limits(
        _injury(client, LABS.creatinine(250), meds=[drug("Rivaroxaban 20 mg daily", "2025-01-01")])
    )
    # a normal creatinine, or CKD 4 recorded: no kidney line
    assert "kidney injury too" not in str(_injury(client, LABS.creatinine(80))[0]["detail"])
    ckd = _injury(client, LABS.creatinine(250), conditions=[since("N18.4", "2020-01-01")])
    assert "kidney injury too" not in str(ckd[0]["detail"])


# --- Review 42, R42-52 (wrong): PSC with fever, jaundice and INR 1.6 -----------------------------

PSC = [since("K83.01", "2018-01-01"), since("K51.90", "2015-01-01")]
CHOLANGITIS = "alp-high-suspected-cholangitis"


def _psc_fever(
    client: FlaskClient, inr: float, *meds: dict[str, object]
) -> list[dict[str, object]]:
    # known PSC + UC, T 38.9, WBC 16, ALP 800, GGT 600, bilirubin 8 mg/dL
    labs = [LABS.ggt(600), LABS.alt(120), LABS.bilirubin(8.0), LABS.inr(inr)]
    labs += [LABS.temperature(38.9), LABS.wbc(16)]
    return post(client, "female", "1975-01-01", [LABS.alp(800)], labs, PSC, list(meds))


def test_r42_52_psc_cholangitis_with_inr_1_6_names_it_and_gives_vitamin_k(
    client: FlaskClient,
) -> None:
    found = _psc_fever(client, 1.6)
    assert fired(found) == [CHOLANGITIS], fired(found)
    within_limits(found)
    detail = str(found[0]["detail"])
    assert "Tokyo 2018 grade III (INR 1.6: organ dysfunction): IV vitamin K" in detail
    assert "urgent biliary drainage (ERCP)" in detail
    # on warfarin the INR is the drug's: no vitamin K, not graded by it
    found = _psc_fever(client, 2.8, drug("Warfarin 3 mg daily", "2019-01-01"))
    within_limits(found)
    assert all("IV vitamin K" not in str(c["detail"]) for c in found), fired(found)


# --- Review 43, findings 3 and 4 (noisy): the calcium said twice beside the hypocalcaemia warning -


def test_r43_05_the_hypocalcaemia_warning_says_the_calcium_once(client: FlaskClient) -> None:
    # Prolia, first ALP 25, calcium 1.80, CKD 4: the warning and the first-low card beside it
    found = post(
        client,
        "female",
        "1956-03-01",
        [LABS.alp(25)],
        [LABS.calcium(1.8)],
        [since("N18.4", "2024-01-01")],
        [drug("Prolia 60mg injection 6-monthly", "2025-06-01")],
    )
    assert fired(found) == ["alp-low-antiresorptive-hypocalcaemia", "alp-low-first"], fired(found)
    within_limits(found)
    # part F's "correct it and recheck before the next dose" line on neither card
    assert all("correct it and recheck" not in str(c["detail"]) for c in found)
    assert "With it: 25-OH vitamin D and magnesium (correct both)." in str(found[0]["detail"])
    # on a bisphosphonate the warning's reasoning does not speak of denosumab
    found = post(
        client,
        "female",
        "1956-03-01",
        [LABS.alp(25)],
        [LABS.calcium(1.85)],
        [],
        [drug("Alendronic acid 70mg once weekly", "2025-06-01")],
    )
    within_limits(found)
    assert "denosumab" not in str(found[0]["detail"]).lower(), found[0]["detail"]
