"""How a card names a medication (clinical/classify.py short_name), without HTTP: the drug, not
its dose, form or schedule."""

from __future__ import annotations

import pytest

from cds_service.clinical.classify import short_name


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("Augmentin 625 mg three times a day", "Augmentin"),  # fifth bedside review
        ("Forsteo 20 micrograms daily", "Forsteo"),
        ("Zoledronic acid 5 mg infusion", "Zoledronic acid"),
        ("Flucloxacillin 500 mg capsules qds", "Flucloxacillin"),
        ("Amoxicillin 875 MG / Clavulanate 125 MG Oral Tablet", "Amoxicillin / Clavulanate"),
        ("Prolia 60 mg every 6 months", "Prolia"),
        ("Vitamin A 10000 units daily", "Vitamin A"),  # "a" is dropped only in "a day"
        ("Carbamazepine 200 mg twice daily for epilepsy", "Carbamazepine"),  # not "epilepsy"
        ("Paracetamol 1 g four times daily when required", "Paracetamol"),
        ("Ibuprofen 400 mg as needed for pain", "Ibuprofen"),
    ],
)
def test_a_card_names_the_drug_without_dose_form_or_schedule(text: str, named: str) -> None:
    assert short_name({"text": text}) == named
