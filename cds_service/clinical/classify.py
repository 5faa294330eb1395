"""One pass over the record: each entry's value sets, time and status, computed once.

Every fact and finding asks "which entries are in value set X", often for several ALPs; answering
from an index built once per request keeps evaluation linear in the size of the record (a
5,000-resource record is evaluated in one pass, not once per value set).

FHIR JSON reaches here as dicts (orjson), so its objects are tested with `isinstance(x, dict)`:
the `Mapping` ABC check costs about ten times as much, and a call makes hundreds of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, NamedTuple

import orjson

from cds_service.clinical.labs import effective_time, numeric_value, unusable_reason
from cds_service.clinical.record import PatientRecord, Resource
from cds_service.fhir.values import (
    LOINC,
    as_list,
    as_str,
    codings,
    concept_text,
    parse_datetime,
    reference_parts,
    resource_key,
)
from cds_service.knowledge.model import (
    CONCEPT_MEMO_MAX_KEY,
    LOCAL_SOURCE,
    Code,
    KnowledgeBase,
    ValueSet,
)

INACTIVE = {"inactive", "remission", "resolved"}
NOT_TRUE = {"refuted", "entered-in-error"}
# Not (yet) established: a working diagnosis on a differential is not a recorded cause.
NOT_CONFIRMED = NOT_TRUE | {"differential", "provisional", "unconfirmed"}
ACTIVE_MEDICATION = {"active", "on-hold", "intended"}
# A course that was taken and is over; "cancelled" and "entered-in-error" were never taken.
ENDED_MEDICATION = {"completed", "stopped"}
DONE_PROCEDURE = {"completed", "in-progress"}
# A dose that was given, wholly or in part ("stopped": an infusion halted part-way).
GIVEN_ADMINISTRATION = ("completed", "in-progress", "stopped")
# Dose and form words dropped from a medication's name when a card names it. A dose by weight
# ("1 mg/kg", nineteenth round, part G: "Ipilimumab / kg" was named) or area ("mg/m2") too.
_DOSE = re.compile(
    r"\b\d[\d.,]*\s*(mg|mcg|ug|g|ml|unt|units?|%|meq|actuat)?(\s*/\s*(ml|l|actuat|dose|kg|m2))?\b",
    re.IGNORECASE,
)
# What follows the drug in a free-text order: its reason or its condition ("for epilepsy",
# "when required", "as needed", "if pain").
# "120 MG in 1.7 ML" (an RxNorm dose in a volume): the "in" goes with the dose, so it is cut
# with it (thirteenth round, review 13: "Xgeva in" named on a card).
_DOSE_IN = re.compile(r"\s+in\s+(?=[\d.]+\s*(ml|l)\b)", re.IGNORECASE)
_CLAUSE = re.compile(r"\s(?:for|when|as needed|as required|if|to)\s", re.IGNORECASE)
_FORM = re.compile(
    r"\b(oral|tablets?|capsules?|injection|injectable|solution|suspension|extended|delayed|"
    r"release|chewable|film|coated|prefilled|syringe|pen|powder|for|product|pack|kit|"
    r"intravenous|subcutaneous|disintegrating|sprinkle|hr|24|12|er|xr|sr|mg/ml|"
    r"once|twice|daily|weekly|monthly|yearly|annually|nightly|every|weeks?|days?|months?|years?|"
    r"at|night|morning|iv|im|three|four|times|a day|per day|bd|bid|tds|tid|qds|qid|od|prn|"
    r"micrograms?|milligrams?|infusion|sc|subcut|subcutaneously|sq|intramuscular)\b",
    re.IGNORECASE,
)


def status_code(concept: Any) -> str | None:
    for coding in codings(concept):
        code = coding.get("code")
        if isinstance(code, str):
            return code
    return None


def _first_time(*values: Any) -> datetime | None:
    for value in values:
        parsed = parse_datetime(value)
        if parsed:
            return parsed
    return None


def has_clock(*values: Any) -> bool:
    """Whether the first of `values` that parses as a date carries a time of day
    ("2026-11-19T06:00:00Z"), not a date alone ("2026-11-19", read as its midnight)."""
    for value in values:
        if parse_datetime(value) is not None:
            return isinstance(value, str) and "T" in value
    return False


def _effective_values(observation: Resource) -> tuple[Any, ...]:
    """An Observation's times in the order effective_time reads them."""
    period = observation.get("effectivePeriod")
    start = period.get("start") if isinstance(period, dict) else None
    return (
        observation.get("effectiveDateTime"),
        observation.get("effectiveInstant"),
        start,
        observation.get("issued"),
    )


def _onset_values(condition: Resource) -> tuple[Any, Any]:
    period = condition.get("onsetPeriod")
    start = period.get("start") if isinstance(period, dict) else None
    return condition.get("onsetDateTime"), start


def _performed_values(procedure: Resource) -> tuple[Any, ...]:
    period = procedure.get("performedPeriod")
    bounds = (period.get("start"), period.get("end")) if isinstance(period, dict) else ()
    return (procedure.get("performedDateTime"), *bounds)


def administration_time(administration: Resource) -> datetime | None:
    """When a dose was given: the administration's time, else its period's start (an infusion
    given over hours), else its end."""
    period = administration.get("effectivePeriod")
    bounds = (period.get("start"), period.get("end")) if isinstance(period, dict) else ()
    return _first_time(administration.get("effectiveDateTime"), *bounds)


def condition_time(condition: Resource) -> datetime | None:
    """When the condition began (onset). The date it was recorded says when someone wrote it
    down, not when it happened, so it never dates an event (a bypass graft coded years later)."""
    return _first_time(*_onset_values(condition))


def recorded_time(condition: Resource) -> datetime | None:
    return parse_datetime(condition.get("recordedDate"))


def _repeats(medication: Resource) -> Iterator[Mapping[str, Any]]:
    """Each dosage's `timing.repeat` of a MedicationRequest (its bounds date the course)."""
    for dosage in as_list(medication.get("dosageInstruction")):
        timing = dosage.get("timing") if isinstance(dosage, dict) else None
        repeat = timing.get("repeat") if isinstance(timing, dict) else None
        if isinstance(repeat, dict):
            yield repeat


def medication_end(medication: Resource) -> datetime | None:
    """When a completed or stopped course ended: the validity or effective period's end, the
    end of the dosing bounds, or the start plus the dosing duration; else when it was written
    (the latest date the record gives for it; for a request, see `stop_date_unknown`)."""
    kind = medication.get("resourceType")
    if kind == "MedicationStatement":
        period = medication.get("effectivePeriod")
        end = period.get("end") if isinstance(period, dict) else None
        return _first_time(end, medication.get("effectiveDateTime"), medication.get("dateAsserted"))
    return _request_end(medication) or parse_datetime(medication.get("authoredOn"))


def _request_end(medication: Resource) -> datetime | None:
    """A MedicationRequest's own end: the validity period's end, the end of the dosing bounds,
    or the written date plus the dosing duration; None when it gives none."""
    dispense = medication.get("dispenseRequest")
    validity = dispense.get("validityPeriod") if isinstance(dispense, dict) else None
    end = parse_datetime(validity.get("end")) if isinstance(validity, dict) else None
    if end:
        return end
    authored = parse_datetime(medication.get("authoredOn"))
    for repeat in _repeats(medication):
        bounds = repeat.get("boundsPeriod")
        if isinstance(bounds, dict) and parse_datetime(bounds.get("end")):
            return parse_datetime(bounds.get("end"))
        duration = repeat.get("boundsDuration")
        if authored and isinstance(duration, dict):
            days = _duration_days(duration)
            if days is not None:
                return authored + timedelta(days=days)
    return None


def stop_date_unknown(medication: Resource) -> bool:
    """A stopped or completed MedicationRequest that gives no end (no validity end, dosing
    bounds or duration). FHIR R4 has no stop date on a request: `statusReason` says why, not
    when, and `meta.lastUpdated` moves with any edit. It ended on or after it was written (its
    `time` stays `authoredOn`, the earliest it can have ended, so it counts as a recent course
    only when written within the window), and a card never names that date as the end."""
    return (
        medication.get("resourceType") == "MedicationRequest"
        and as_str(medication.get("status")) in ENDED_MEDICATION
        and _request_end(medication) is None
    )


def medication_start(medication: Resource) -> datetime | None:
    """When a course began: the statement's effective start, or the request's dosing bounds
    start, else when it was written; None when the record does not say."""
    if medication.get("resourceType") == "MedicationStatement":
        period = medication.get("effectivePeriod")
        start = period.get("start") if isinstance(period, dict) else None
        return _first_time(start, medication.get("effectiveDateTime"))
    if medication.get("resourceType") == "Procedure":
        # A dose recorded as a procedure (a denosumab injection) began the day it was given.
        return procedure_time(medication)
    if medication.get("resourceType") == "MedicationAdministration":
        return administration_time(medication)
    for repeat in _repeats(medication):
        bounds = repeat.get("boundsPeriod")
        begun = parse_datetime(bounds.get("start")) if isinstance(bounds, dict) else None
        if begun:
            return begun
    return parse_datetime(medication.get("authoredOn"))


_DAYS = {"d": 1.0, "day": 1.0, "days": 1.0, "wk": 7.0, "week": 7.0, "weeks": 7.0,
         "mo": 30.4, "month": 30.4, "months": 30.4, "h": 1 / 24}  # fmt: skip


def _duration_days(duration: Mapping[str, Any]) -> float | None:
    value = duration.get("value")
    unit = str(duration.get("code") or duration.get("unit") or "").lower()
    if not isinstance(value, int | float) or isinstance(value, bool) or unit not in _DAYS:
        return None
    return float(value) * _DAYS[unit]


def short_name(concept: Any) -> str:
    """A medication's name as a card says it: 'amoxicillin / clavulanate' rather than
    'Amoxicillin 875 MG / Clavulanate 125 MG Oral Tablet'."""
    text = _text(concept)
    # The first part that names a drug: HCPCS descriptors lead with the form ("Injection,
    # denosumab, 1 mg", review 13).
    for part in text.split("[")[0].split(","):
        drug = _CLAUSE.split(part.split("(")[0], maxsplit=1)[0]
        cut = _FORM.sub(" ", _DOSE.sub(" ", _DOSE_IN.sub(" ", drug)))
        name = " / ".join(" ".join(piece.split()) for piece in cut.split("/") if piece.strip())
        name = name.strip(" ,-")
        if name:
            # In the record's own spelling (a brand keeps its capital: Prolia, Strensiq).
            return name[:60]
    return text[:60]


def procedure_time(procedure: Resource) -> datetime | None:
    return _first_time(*_performed_values(procedure))


@dataclass(slots=True)  # not frozen: made for every resource of every call (engine.Check)
class Entry:
    resource: Resource
    key: str
    matches: Mapping[str, str]
    """Value set id -> evidence ("K74.3 Primary biliary cirrhosis", or a name match)."""
    time: datetime | None
    """Conditions: onset; procedures: performed; observations: effective; medications: when
    an ended course ended (None while active)."""
    active: bool
    """Conditions: clinically active; medications: active; procedures: done; observations:
    usable."""
    countable: bool = True
    """Conditions: not refuted or entered in error."""
    confirmed: bool = True
    """Conditions: countable and not differential, provisional or unconfirmed (no
    verification status reads as confirmed)."""
    recorded: datetime | None = None
    """Conditions: when the entry was recorded (never an event date, except for a finding
    source that allows it for a symptom with no onset)."""
    ended: bool = False
    """Medications: a completed or stopped course (its end in `time`)."""
    name: str = ""
    """How a card names it (medications: a short name)."""
    timed: bool = False
    """Conditions and procedures: `time` carries a time of day (not a date alone), so it can
    be ordered against another timed event on the same day."""
    recorded_timed: bool = False
    """Conditions: `recorded` carries a time of day."""
    given: bool = False
    """Medications: a dose recorded as a done procedure (an injection or infusion), dated the
    day it was given."""
    stop_unknown: bool = False
    """Medications: a stopped or completed request with no end in the record (`time` is when
    it was written, the earliest it can have ended; thirteenth round)."""


@dataclass
class Classified:
    entries: dict[str, list[Entry]] = field(default_factory=dict)
    """conditions, medications, procedures, observations -> entries, in record order."""
    index: dict[tuple[str, str], list[Entry]] = field(default_factory=dict)
    """(kind, value set id) -> entries in it."""
    co_resulted: frozenset[str] = frozenset()

    def in_valueset(self, kind: str, valueset: str) -> list[Entry]:
        return self.index.get((kind, valueset), [])

    def observations_in(self, valuesets: Iterable[str]) -> list[Entry]:
        seen: dict[str, Entry] = {}
        for valueset in valuesets:
            for entry in self.in_valueset("observations", valueset):
                seen.setdefault(entry.key, entry)
        return list(seen.values())

    def observation(self, valueset: str, key: str) -> Entry | None:
        """The entry of the result `key` (`Type/id`) in a value set, if it is one."""
        return next((e for e in self.in_valueset("observations", valueset) if e.key == key), None)


def medication_concept(record: PatientRecord, medication: Resource) -> Any:
    """The medication's CodeableConcept, resolving medicationReference through contained or
    included Medication resources; a bare reference's display stands in as text."""
    concept = medication.get("medicationCodeableConcept")
    if concept:
        return concept
    reference = medication.get("medicationReference")
    if not isinstance(reference, dict):
        return None
    kind, ident = reference_parts(reference)
    if ident is not None and str(reference.get("reference", "")).startswith("#"):
        for contained in as_list(medication.get("contained")):
            if isinstance(contained, dict) and contained.get("id") == ident:
                return contained.get("code")
    found = record.find(kind or "Medication", ident)
    if found is not None and found.get("resourceType") == "Medication":
        return found.get("code")
    display = reference.get("display")
    return {"text": display} if isinstance(display, str) else None


class _Concept(NamedTuple):
    matches: Mapping[str, str]
    """Value set id -> how the concept matched it."""
    name: str
    """Its text or first display, as the record words it."""
    short: str
    """A medication's short name (short_name)."""


def _concept(kb: KnowledgeBase, concept: Any, by_name: bool, negatable: bool = False) -> _Concept:
    """What the entries need of a CodeableConcept. The same concept (a LOINC code, a common
    problem or drug) recurs in most records, so the answer is remembered by the concept's JSON
    text; entries share it read-only."""
    if not isinstance(concept, dict):
        return _read_concept(kb, concept, by_name, negatable)
    try:
        text = orjson.dumps(concept)
    except TypeError:  # not JSON-shaped (an integer past 64 bits): not remembered
        return _read_concept(kb, concept, by_name, negatable)
    if len(text) > CONCEPT_MEMO_MAX_KEY:
        return _read_concept(kb, concept, by_name, negatable)
    key = (by_name, negatable, text)
    found: _Concept | None = kb.concept_memo.get(key)
    if found is None:
        found = kb.concept_memo.remember(key, _read_concept(kb, concept, by_name, negatable))
    return found


def _read_concept(
    kb: KnowledgeBase, concept: Any, by_name: bool, negatable: bool = False
) -> _Concept:
    matches = _find_matches(kb, concept, by_name, negatable)
    return _Concept(MappingProxyType(matches), _text(concept), short_name(concept))


NEGATIONS = "negations"
"""The value set of negation cues ("no", "not", "excluded", "ruled out"): a condition whose own
words negate the name a value set matched ("no gallstones", "?PSC - ruled out") does not
count for that value set (eighteenth round, part C, review 18 X04)."""

_WORD = re.compile(r"[a-z0-9']+")


class _Negation(NamedTuple):
    """A condition's own words, read for negation cues (the `negations` value set)."""

    cues: ValueSet
    own: str
    """The entry's text: whether it opens by negating itself."""
    texts: list[str]
    """Its text and code displays: where a name matched by words is mentioned."""

    def takes_back_words(self, valueset: ValueSet, name: str) -> bool:
        """A match by words is taken back when every mention of the word that names the
        condition is negated: a cue within the window before it, or after it, in its clause
        ("No fever, PBC" keeps the PBC). In a name of parts ("paget & bone", "melanoma & history
        of") that is the first part; the others qualify it and may recur un-negated ("No
        evidence of Paget's disease of bone on bone scan", "Bone scan: no Paget's disease";
        nineteenth round, part H, review 24 R24-11). A negated qualifier alone takes nothing
        back ("Melanoma excised, no history of recurrence")."""
        parts = [part for part in name.split(" & ") if part]
        return (
            valueset.negation_veto
            and bool(parts)
            and _negated_everywhere(self.cues, self.texts, parts[0])
        )

    def takes_back_code(self, valueset: ValueSet) -> bool:
        """A match by code is taken back when the entry's own text opens by negating itself
        ("Gallstones excluded on ultrasound", "Not PBC"): the code says what was considered,
        the words what was found. Not a name of the value set's own that starts with a cue
        ("Not weight bearing")."""
        return (
            valueset.negation_veto
            and bool(self.own)
            and _opens_negated(self.cues, self.own)
            and not _opens_with_name(self.cues, valueset, self.own)
        )


def _negation(kb: KnowledgeBase, concept: Any) -> _Negation | None:
    cues = kb.valuesets.get(NEGATIONS)
    if cues is None or not isinstance(concept, dict):
        return None
    own = str(concept.get("text") or "").lower()
    texts = [own, *(str(c.get("display") or "").lower() for c in codings(concept))]
    return _Negation(cues, own, texts)


def _clauses(cues: ValueSet, text: str) -> list[str]:
    if not cues.clause_breaks:
        return [text]
    pattern = "|".join(re.escape(mark) for mark in cues.clause_breaks)
    return re.split(pattern, text)


def _negated_everywhere(cues: ValueSet, texts: list[str], term: str) -> bool:
    """Every mention of `term` in the texts is negated in its clause (and there is one)."""
    mentioned = False
    for text in texts:
        for clause in _clauses(cues, text):
            start = clause.find(term)
            while start >= 0:
                mentioned = True
                before = _WORD.findall(clause[:start])
                after = _WORD.findall(clause[start + len(term) :])
                if not (_cue_before(cues, before) or _cue_after(cues, after)):
                    return False
                start = clause.find(term, start + len(term))
    return mentioned


def _starts(words: list[str], at: int, phrase: str) -> bool:
    wanted = phrase.split()
    return words[at : at + len(wanted)] == wanted


def _cue_before(cues: ValueSet, words: list[str]) -> bool:
    """A cue ends at most `window_words` words before the name, and is not a pseudo-negation
    ("no change in")."""
    for at in range(len(words)):
        for cue in cues.cues_before:
            end = at + len(cue.split())
            if (
                _starts(words, at, cue)
                and len(words) - end <= cues.window_words
                and not any(_starts(words, at, pseudo) for pseudo in cues.cues_pseudo)
            ):
                return True
    return False


def _cue_after(cues: ValueSet, words: list[str]) -> bool:
    """A cue starts at most `window_after_words` words after the name."""
    return any(
        _starts(words, at, cue)
        for at in range(min(len(words), cues.window_after_words + 1))
        for cue in cues.cues_after
    )


def _opens_with_name(cues: ValueSet, valueset: ValueSet, text: str) -> bool:
    """The text opens with one of the value set's own names that itself starts with a cue
    ("Not weight bearing" is a gait disturbance, not its negation)."""
    return any(
        text.startswith(name) and any(_starts(name.split(), 0, cue) for cue in cues.cues_before)
        for name in (*valueset.names, *valueset.word_names)
    )


def _opens_negated(cues: ValueSet, text: str) -> bool:
    """The entry's first clause negates itself: it opens with a cue ("No gallstones", "Not
    PBC") or a cue follows its first words ("Gallstones excluded", "?PSC - ruled out")."""
    words = _WORD.findall(_clauses(cues, text)[0])
    if not words:
        return False
    if any(_starts(words, 0, cue) for cue in cues.cues_before) and not any(
        _starts(words, 0, pseudo) for pseudo in cues.cues_pseudo
    ):
        return True
    return _cue_after(cues, words[1:])


def _find_matches(
    kb: KnowledgeBase, concept: Any, by_name: bool, negatable: bool = False
) -> dict[str, str]:
    """Value set id -> evidence. `negatable` (conditions): the entry's own words may take a
    match back ("no gallstones", "?PSC - ruled out"; eighteenth round, part C, review 18 X04)."""
    found = {vs: _code_evidence(code) for vs, code in kb.classify(concept).items()}
    negation = _negation(kb, concept) if negatable else None
    # Taken back after the words are read, as a value set a code matched is not searched by
    # words; a match by words after the relatives' veto.
    taken_back = (
        [vs for vs in found if negation.takes_back_code(kb.valuesets[vs])] if negation else []
    )
    if not by_name:
        # A result (by_name is False only for observations): its words, only when no code of
        # it is in any value set (a LOINC code always wins over the text beside it).
        if not found:
            found.update(result_name_matches(kb, concept))
        return found
    text = concept_text(concept).lower()
    if text:
        by_words: dict[str, str] = {}  # value set id -> the name that matched
        for valueset in kb.valuesets.values():
            if (valueset.names or valueset.word_names) and valueset.id not in found:
                name = valueset.match_name_in(text)
                if name is not None:
                    by_words[valueset.id] = name
                    found[valueset.id] = (
                        f"name match: '{name}' in \"{_text(concept)}\" (no code matched)"
                    )
        if by_words and (RELATIVES in by_words or _leads_with_relative(kb, text)):
            # Thirteenth round, part D (review 13, patient 41): "Mother - PBC" is a relative's
            # disease, not the patient's. A relative's word vetoes every match by words (a
            # code still stands), except in value sets that opt out (pregnancy: "maternal").
            for valueset_id in by_words:
                if valueset_id != RELATIVES and kb.valuesets[valueset_id].relatives_veto:
                    del found[valueset_id]
        if negation is not None:
            taken_back += [
                vs
                for vs, name in by_words.items()
                if vs in found and negation.takes_back_words(kb.valuesets[vs], name)
            ]
    for valueset_id in taken_back:
        del found[valueset_id]
    return found


RELATIVES = "relatives"
"""The value set of a relative's words ("mother", "maternal"): an entry worded with one is a
family member's condition, so no other value set matches it by its words."""


def _leads_with_relative(kb: KnowledgeBase, text: str) -> bool:
    """The entry opens with a relative's word ("Mother also has PBC"): the relative's condition,
    whatever words follow (the value set's `word_exclude`, "also", lifts the veto only where the
    patient's disease comes first: "PBC - mother also had PBC"; review 15, P21)."""
    relatives = kb.valuesets.get(RELATIVES)
    first = text.split(maxsplit=1)[0].strip(" -:;,.()") if text.strip() else ""
    return relatives is not None and first in relatives.word_names


BY_LOCAL_CODE = "a local code of this deployment (ALP_CDS_LOCAL_RESULT_CODES)"
"""How a result matched by a deployment's local code is described (trace evidence)."""


def _code_evidence(code: Code) -> str:
    if code.source == LOCAL_SOURCE:
        return f"{code.code} {code.display}: {BY_LOCAL_CODE}"
    return f"{code.code} {code.display}"


RECOGNISED_BY_WORDS = "recognised by its words"
"""How a result matched by `result_names` is described (trace evidence)."""


def result_name_matches(kb: KnowledgeBase, concept: Any) -> dict[str, str]:
    """Value set id -> how a result's words matched it (`result_names`), for a result none of
    whose codes is in any value set: a local code with the text "ALK PHOS" (twelfth round,
    part D). Never for a result with a LOINC code. The evidence says it was recognised by its
    words."""
    if any(coding.get("system") == LOINC for coding in codings(concept)):
        # A LOINC code says what the test is: one outside every value set (bone ALP 1777-2
        # with the text "ALP") is not made a total ALP by its words.
        return {}
    text = concept_text(concept).lower()
    if not text:
        return {}
    found: dict[str, str] = {}
    for valueset in kb.valuesets.values():
        name = valueset.match_result_name_in(text)
        if name is not None:
            found[valueset.id] = (
                f"{RECOGNISED_BY_WORDS}: '{name}' in \"{_text(concept)}\" (no code matched)"
            )
    return found


def _text(concept: Any) -> str:
    if not isinstance(concept, dict):
        return ""
    texts = [concept.get("text"), *(c.get("display") for c in codings(concept))]
    return next((str(t) for t in texts if t), "")


def classify(kb: KnowledgeBase, record: PatientRecord) -> Classified:
    result = Classified(co_resulted=frozenset(resource_key(r) for r in record.results))
    entries: dict[str, list[Entry]] = {
        k: [] for k in ("conditions", "medications", "procedures", "observations")
    }
    for condition in record.conditions:
        if condition.get("resourceType") != "Condition":
            continue
        # Free text counts too (a problem-list entry "Hypophosphatasia" with no code): only
        # value sets that list names are searched, with their exclusions.
        # A condition's own words may negate it ("gallstones excluded"): review 18, X04.
        seen = _concept(kb, condition.get("code"), by_name=True, negatable=True)
        verification = status_code(condition.get("verificationStatus"))
        entries["conditions"].append(
            Entry(
                condition,
                resource_key(condition),
                seen.matches,
                condition_time(condition),
                active=status_code(condition.get("clinicalStatus")) not in INACTIVE,
                countable=verification not in NOT_TRUE,
                confirmed=verification not in NOT_CONFIRMED,
                recorded=recorded_time(condition),
                name=seen.name,
                timed=has_clock(*_onset_values(condition)),
                recorded_timed=has_clock(condition.get("recordedDate")),
            )
        )
    for medication in record.medications:
        if medication.get("resourceType") == "MedicationAdministration":
            dose = _administration(kb, record, medication)
            if dose is not None:
                entries["medications"].append(dose)
            continue
        if medication.get("resourceType") not in {"MedicationRequest", "MedicationStatement"}:
            continue
        seen = _concept(kb, medication_concept(record, medication), by_name=True)
        status = as_str(medication.get("status"))
        ended = status in ENDED_MEDICATION
        entries["medications"].append(
            Entry(
                medication,
                resource_key(medication),
                seen.matches,
                medication_end(medication) if ended else None,
                active=status in ACTIVE_MEDICATION,
                ended=ended,
                name=seen.short,
                stop_unknown=ended and stop_date_unknown(medication),
            )
        )
    for procedure in record.procedures:
        if procedure.get("resourceType") != "Procedure":
            continue
        # Procedures often carry a local code and text ("ERCP with stent"): names count too.
        seen = _concept(kb, procedure.get("code"), by_name=True)
        done = as_str(procedure.get("status")) in DONE_PROCEDURE
        entries["procedures"].append(
            Entry(
                procedure,
                resource_key(procedure),
                seen.matches,
                procedure_time(procedure),
                active=done,
                name=seen.name,
                timed=has_clock(*_performed_values(procedure)),
            )
        )
        given = {
            vs: why
            for vs, why in seen.matches.items()
            if vs in kb.valuesets and kb.valuesets[vs].given_as_procedure
        }
        if done and given and procedure_time(procedure) is not None:
            # A 6-monthly denosumab injection or a yearly zoledronate infusion is often
            # recorded only as a procedure: it is a dose of the drug, a course that ended the
            # day it was given, so every finding that reads the drug counts it (review 12 N28).
            entries["medications"].append(
                Entry(
                    procedure,
                    resource_key(procedure),
                    MappingProxyType(given),
                    procedure_time(procedure),
                    active=False,
                    ended=True,
                    name=seen.short or seen.name,
                    given=True,
                )
            )
    for observation in record.observations():
        entries["observations"].append(
            Entry(
                observation,
                resource_key(observation),
                _concept(kb, observation.get("code"), by_name=False).matches,
                effective_time(observation),
                active=unusable_reason(observation) is None,
                timed=has_clock(*_effective_values(observation)),
            )
        )
    result.entries = entries
    for kind, found in entries.items():
        for entry in found:
            for valueset in entry.matches:
                result.index.setdefault((kind, valueset), []).append(entry)
    return result


def _administration(kb: KnowledgeBase, record: PatientRecord, given: Resource) -> Entry | None:
    """A dose given (a zoledronate infusion, a denosumab injection charted on the ward) as a
    course that ended the day it was given, as a dose recorded as a procedure is: every finding
    that reads the drug counts it. A dose not given, or undated, is left out."""
    when = administration_time(given)
    if as_str(given.get("status")) not in GIVEN_ADMINISTRATION or when is None:
        return None
    seen = _concept(kb, medication_concept(record, given), by_name=True)
    return Entry(
        given,
        resource_key(given),
        seen.matches,
        when,
        active=False,
        ended=True,
        name=seen.short or seen.name,
        given=True,
    )


def value_of(entry: Entry) -> float | None:
    return numeric_value(entry.resource)
