"""Shared result and condition builders for the nineteenth-round tests.

`Labs(now)` binds a file's own NOW: every builder dates its result at `now` unless given
`when`. Units double as UCUM codes; ranges are those the files used before this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask.testing import FlaskClient

from tests.support.fhir import (
    alp,
    condition,
    full_prefetch,
    ggt,
    medication,
    observation,
    patient,
    searchset,
    sign_request,
)

# `fhir.observation`'s own default date, for files that never set one.
RESULT_DATE = "2026-11-20T08:00:00Z"


def day(date: str) -> str:
    """`2026-11-01` -> `2026-11-01T08:00:00Z`."""
    return f"{date}T08:00:00Z"


def worded(text: str, onset: str = "2017-01-01") -> dict[str, Any]:
    """A condition known only by its words, under a local code."""
    entry = condition("LOCAL1", system="urn:oid:1.2.3", onset=onset)
    entry["code"]["text"] = text
    entry["code"]["coding"][0]["display"] = text
    return entry


@dataclass(frozen=True)
class Labs:
    """Builders for one test file, dated at its `now` unless a `when` is passed."""

    now: str

    def lab(
        self,
        loinc: str,
        value: float,
        unit: str,
        low: float | None = None,
        high: float | None = None,
        when: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        return observation(
            loinc, value, unit=unit, ucum=unit, low=low, high=high, when=when or self.now, **extra
        )

    def alp(
        self,
        value: float,
        low: float = 35,
        high: float = 104,
        when: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        return alp(value, low=low, high=high, when=when or self.now, **extra)

    def ggt(self, value: float, high: float = 40) -> dict[str, Any]:
        """GGT with the 5-40 U/L range (the bare `fhir.ggt` default is 5-36)."""
        return ggt(value, low=5, high=high, when=self.now)

    def alt(self, value: float, when: str | None = None) -> dict[str, Any]:
        return self.lab("1742-6", value, "U/L", 7, 40, when)

    def ast(self, value: float, when: str | None = None) -> dict[str, Any]:
        return self.lab("1920-8", value, "U/L", 8, 40, when)

    def bilirubin(self, mg_dl: float, when: str | None = None) -> dict[str, Any]:
        """Total bilirubin in mg/dL."""
        return self.lab("1975-2", mg_dl, "mg/dL", 0.1, 1.2, when)

    def bilirubin_umol(self, value: float, when: str | None = None) -> dict[str, Any]:
        """Total bilirubin in umol/L."""
        return self.lab("1975-2", value, "umol/L", 3, 21, when)

    def bile_acids(self, value: float, when: str | None = None) -> dict[str, Any]:
        return self.lab("14628-2", value, "umol/L", 0, 10, when)

    def calcium(self, value: float, **extra: Any) -> dict[str, Any]:
        return self.lab("2000-8", value, "mmol/L", 2.15, 2.55, **extra)

    def phosphate(self, value: float) -> dict[str, Any]:
        return self.lab("2777-1", value, "mmol/L", 0.8, 1.5)

    def pth(self, value: float) -> dict[str, Any]:
        return self.lab("2731-8", value, "pmol/L", 1.6, 6.9)

    def magnesium(self, value: float) -> dict[str, Any]:
        """Serum magnesium, LOINC 2601-3."""
        return self.lab("2601-3", value, "mmol/L", 0.7, 1.0)

    def vitamin_d(self, value: float) -> dict[str, Any]:
        """25-OH vitamin D, LOINC 1989-3, in nmol/L."""
        return self.lab("1989-3", value, "nmol/L", 50, 250)

    def wbc(self, value: float) -> dict[str, Any]:
        return self.lab("6690-2", value, "10*9/L", 4, 11)

    def crp(self, value: float) -> dict[str, Any]:
        return self.lab("1988-5", value, "mg/L", 0, 5)

    def temperature(self, celsius: float) -> dict[str, Any]:
        return self.lab("8310-5", celsius, "Cel")

    # The draw's other chemistry, with the ranges the review rounds used (one definition
    # here rather than one per test file).
    def inr(self, value: float, when: str | None = None) -> dict[str, Any]:
        return self.lab("6301-6", value, "{INR}", 0.8, 1.2, when)

    def creatinine(self, value: float, when: str | None = None) -> dict[str, Any]:
        """Serum creatinine in umol/L."""
        return self.lab("14682-9", value, "umol/L", 45, 90, when)

    def glucose(self, value: float, when: str | None = None) -> dict[str, Any]:
        """Plasma glucose in mmol/L."""
        return self.lab("2345-7", value, "mmol/L", 3.5, 7.8, when)

    def platelets(self, value: float, when: str | None = None) -> dict[str, Any]:
        return self.lab("777-3", value, "10*9/L", 150, 400, when)

    def ldh(self, value: float, when: str | None = None) -> dict[str, Any]:
        return self.lab("2532-0", value, "U/L", 120, 250, when)

    def potassium(self, value: float, when: str | None = None, **extra: Any) -> dict[str, Any]:
        return self.lab("2823-3", value, "mmol/L", 3.5, 5.1, when, **extra)

    def direct_bilirubin(self, mg_dl: float, when: str | None = None) -> dict[str, Any]:
        """Direct (conjugated) bilirubin in mg/dL."""
        return self.lab("1968-7", mg_dl, "mg/dL", 0.0, 0.3, when)


def since(code: str, onset: str) -> dict[str, Any]:
    """A condition by its code with its onset."""
    return condition(code, onset=onset)


def drug(text: str, authored: str | None = None, code: str | None = None) -> dict[str, Any]:
    """A medication order by its words (and code), written on `authored`."""
    request = medication(code, text=text)
    if authored:
        request["authoredOn"] = authored
    return request


def post(
    client: FlaskClient,
    sex: str,
    born: str,
    results: list[dict[str, Any]],
    labs: list[dict[str, Any]] = [],  # noqa: B006 - never mutated
    conditions: list[dict[str, Any]] = [],  # noqa: B006
    medications: list[dict[str, Any]] = [],  # noqa: B006
    statements: list[dict[str, Any]] = [],  # noqa: B006
    procedures: list[dict[str, Any]] = [],  # noqa: B006
    administrations: list[dict[str, Any]] = [],  # noqa: B006
) -> list[dict[str, Any]]:
    """A lab-result-sign request for a patient of this sex and birth date, its results also in
    the labs key; the cards answered."""
    prefetch = full_prefetch(
        pt=patient(sex, born),
        labs=results + labs,
        conditions=conditions,
        medications=medications,
        procedures=procedures,
        administrations=administrations,
    )
    prefetch["statements"] = searchset(statements)
    response = client.post("/cds-services/alp-result-sign", json=sign_request(results, prefetch))
    assert response.status_code == 200, response.get_json()
    found: list[dict[str, Any]] = response.get_json()["cards"]
    return found


def words(card: dict[str, Any]) -> int:
    """A card's detail length in words, as the card contract counts it."""
    return len(card["detail"].split())
