"""Small readers for FHIR R4 JSON held as plain dicts.

Prefetch and fetched data stay plain dicts on the hot path (a pydantic model costs 20-40x a dict
per resource). These helpers absorb what real EHRs send: missing systems, dates without time zones,
references in several shapes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

# A FHIR number is a JSON number: the clinical layer reads it from here.
from cds_service.strict_json import finite as finite

Resource = Mapping[str, Any]

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"

_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def as_list(value: Any) -> list[Any]:
    """A FHIR array, or nothing when the element is missing or not an array."""
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str | None:
    """A FHIR string/code, or None when missing or of another JSON type."""
    return value if isinstance(value, str) else None


def codings(concept: Any) -> Iterator[Mapping[str, Any]]:
    """The codings of a CodeableConcept, skipping anything malformed."""
    # dict, not Mapping: JSON gives dicts, and the ABC check costs more than the loop here.
    if not isinstance(concept, dict):
        return
    for coding in as_list(concept.get("coding")):
        if isinstance(coding, dict):
            yield coding


def has_coding(concept: Any, system: str, codes: frozenset[str] | set[str]) -> bool:
    return any(c.get("system") == system and c.get("code") in codes for c in codings(concept))


def concept_text(concept: Any) -> str:
    """`text` and every coding `display`, joined, for name-based fallbacks."""
    if not isinstance(concept, dict):
        return ""
    parts = [str(concept.get("text") or "")]
    parts.extend(str(c.get("display") or "") for c in codings(concept))
    return " ".join(p for p in parts if p)


def parse_datetime(value: Any) -> datetime | None:
    """Parse a FHIR date, dateTime or instant; naive values are taken as UTC.

    EHRs often send dateTimes without an offset, which FHIR forbids; rejecting them would drop
    real results, and the error from assuming UTC is at most a day on windows of 7-730 days.
    A partial date (year or year-month) becomes its first day.
    """
    if not isinstance(value, str) or not value:
        return None
    if len(value) > _REMEMBERED_MAX:
        return _parse_text.__wrapped__(value)
    return _parse_text(value)


_REMEMBERED_MAX = 40
"""The longest text remembered: a FHIR instant with microseconds and an offset is 32
characters; anything longer is not a time, and is not worth keeping (nor a way to fill memory)."""


@lru_cache(maxsize=8192)
def _parse_text(value: str) -> datetime | None:
    # A call reads each resource's times several times (windows, ordering, the trace), and a
    # record's times recur across calls; datetimes are immutable, so one parse serves them all.
    match = _DATE_RE.match(value)
    if match:
        year, month, day = match.groups()
        try:
            return datetime(int(year), int(month or 1), int(day or 1), tzinfo=UTC)
        except ValueError:
            return None
    text = value.replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def parse_date(value: Any) -> date | None:
    parsed = parse_datetime(value)
    return parsed.date() if parsed else None


def reference_parts(reference: Any) -> tuple[str | None, str | None]:
    """('Patient', '123') from {"reference": "Patient/123"} or an absolute URL ending so."""
    if isinstance(reference, dict):
        reference = reference.get("reference")
    if not isinstance(reference, str) or not reference:
        return None, None
    if reference.startswith("#"):
        return None, reference[1:]
    pieces = reference.split("/_history/")[0].rstrip("/").split("/")
    if len(pieces) >= 2:
        return pieces[-2], pieces[-1]
    return None, pieces[-1]


def resource_key(resource: Resource) -> str:
    """`Type/id`, as cited in explanations and the audit trail.

    Resources without an id (allowed in prefetch bundles) get a key unique to the
    object, so two id-less results are never mistaken for one another.
    """
    ident = resource.get("id")
    if not isinstance(ident, str) or not ident:
        ident = f"?{id(resource):x}"
    return f"{resource.get('resourceType', '?')}/{ident}"


def refers_to(reference: Any, resource_type: str, resource_id: str) -> bool:
    kind, rid = reference_parts(reference)
    return rid == resource_id and kind in (None, resource_type)
