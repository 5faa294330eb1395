"""Immutable objects the knowledge base loads into, with the indexes rules need at run time."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

if TYPE_CHECKING:
    from functools import _lru_cache_wrapper

from cds_service.fhir.values import ICD10CM, LOINC, codings, concept_text

PLACEHOLDER_RE = re.compile(r"\{\{\s*([a-z0-9_.-]+)\s*\}\}")
"""`{{alp.value}}`, `{{param.ggt_lookback_days}}`, `{{group.bone-causes}}` (the findings of a
group present, in the record's words) or `{{finding.recent-fracture}}` in rule text."""

DAYS_PER = {"d": 1.0, "wk": 7.0, "mo": 30.4375, "a": 365.25}

CLASSIFY_CACHE_SIZE = 32_768
"""Codings whose value sets are remembered: codes repeat across patients, so most of a record is
answered from here. An entry is a few hundred bytes, so this stays within a few megabytes."""
CLASSIFY_CACHE_MAX_LENGTH = 256
"""Longer system+code pairs are classified each time: callers choose them, and the cache must not
keep large strings alive."""
_NO_VALUE_SETS: Mapping[str, Any] = MappingProxyType({})
K = TypeVar("K")
V = TypeVar("V")
CONCEPT_MEMO_SIZE = 8_192
"""Whole concepts whose classification is remembered (clinical/classify.py): a record's
problems, drugs and lab codes repeat from patient to patient. Keyed by the concept's JSON text,
so an entry costs that text plus its matches (a few kilobytes at most: the memo stays within
about 20 MB per process); past the size it starts again empty."""
CONCEPT_MEMO_MAX_KEY = 1_024
"""A concept whose JSON text is longer is classified each time (callers choose its size). An
EHR's drug concept with several codings (RxNorm, NDC, a local code) fits."""
LOCAL_SOURCE = "deployment setting ALP_CDS_LOCAL_RESULT_CODES"
"""The `source` of a code added by the deployment (`with_local_result_codes`), not the files."""


class BoundedMemo(dict[K, V]):
    """A dict that starts again empty when full: answers computed from one knowledge base alone,
    kept between requests. Each get or set is one dict operation, atomic under the GIL, so
    threads share it without a lock (two threads computing the same answer store equal values)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def remember(self, key: K, value: V) -> V:
        if len(self) >= self.size:
            self.clear()
        self[key] = value
        return value


@dataclass(frozen=True)
class Citation:
    id: str
    text: str
    url: str | None
    verified: bool
    note: str | None = None
    kind: str = "paper"
    """guideline, paper, laboratory, reference, code-system or consumer (never cited by a rule)"""


@dataclass(frozen=True)
class Code:
    system: str
    code: str
    display: str
    source: str | None
    verified: bool
    prefix: bool = False
    requires_text: tuple[str, ...] = ()
    """Lower-case words, one of which the entry's text must contain (a broad code such as
    E83.39, whose inclusion terms cover the disorder among others)."""
    excludes_text: tuple[str, ...] = ()
    """Lower-case words none of which the entry's text may contain (F10.2 alcohol dependence,
    but not an entry that says "in remission")."""
    exclude: bool = False
    """This code, and any code below it, is left out of the value set even under a listed
    prefix (F10.21, in remission, under F10.2)."""

    def accepts(self, text: str) -> bool:
        """`text` is the lower-cased text and displays of the concept being matched."""
        if any(word in text for word in self.excludes_text):
            return False
        return not self.requires_text or any(word in text for word in self.requires_text)

    @property
    def reads_text(self) -> bool:
        return bool(self.requires_text or self.excludes_text)

    @property
    def is_loinc_test(self) -> bool:
        """A LOINC observation code (LA, LL and LP codes are answers, answer lists and parts)."""
        return self.system == LOINC and not self.code.startswith(("LA", "LL", "LP"))


def normalise_code(system: str, code: str) -> str:
    """ICD-10-CM codes arrive with and without the dot and in either case."""
    if system == ICD10CM:
        return code.replace(".", "").upper().strip()
    return code.strip()


_POSSESSIVE = re.compile(r"\b([A-Z][a-z]+)'")


@dataclass(frozen=True)
class ValueSet:
    id: str
    title: str
    purpose: str
    codes: tuple[Code, ...]
    names: tuple[str, ...] = ()
    exclude_names: tuple[str, ...] = ()
    context_names: tuple[str, ...] = ()
    """Names matched as whole words, and only in a text that also holds a `context` word (a
    brand or an abbreviation that names the organ nowhere: "WallFlex", "FCSEMS to CBD")."""
    context: tuple[str, ...] = ()
    word_names: tuple[str, ...] = ()
    """Names matched as whole words only, every ` & ` part in any order, a part's alternatives
    split by ` | `: "ca" is calcium as often as cancer and "rt" hides in "heart", so they count
    only beside an organ or treatment word (twelfth round: "Breast ca 2018 - mastectomy")."""
    word_exclude: tuple[str, ...] = ()
    """Words that veto a `word_names` match only, never a `names` one: a femoral neck fracture
    described by features ("transverse") is no AFF, but "atypical femoral fracture" stands."""
    result_names: tuple[str, ...] = ()
    """Names a lab result is recognised by, as whole words in its `code.text` or a display,
    when none of its codes is in any value set (twelfth round, part D: an ALP sent only as
    "urn:oid:...|ALKP", text "ALK PHOS"). Conditions never match them."""
    result_exclude: tuple[str, ...] = ()
    """Words that veto a `result_names` match (bone-specific ALP, isoenzymes, a ratio)."""
    given_as_procedure: bool = False
    """A drug whose doses are often recorded as a done Procedure ("Denosumab injection 60 mg"):
    such a procedure is also a completed course of it, ended the day it was given (twelfth
    round, review 12 N28)."""
    relatives_veto: bool = True
    """Whether a relative's word in the text (the `relatives` value set: "Mother - PBC")
    vetoes this value set's name matches (thirteenth round, part D). False for the pregnancy
    value sets, whose own entries say "maternal"."""
    negation_veto: bool = True
    """Whether a negation cue (the `negations` value set) beside a name this value set matched
    in a condition's own words vetoes the match ("no gallstones", "PBC excluded"; eighteenth
    round, part C, review 18 X04)."""
    cues_before: tuple[str, ...] = ()
    """`negations` only: words that negate a name they stand before ("no", "not")."""
    cues_after: tuple[str, ...] = ()
    """`negations` only: words that negate a name they follow ("excluded", "ruled out")."""
    cues_pseudo: tuple[str, ...] = ()
    """`negations` only: phrases that open with a cue and negate nothing ("no change")."""
    clause_breaks: tuple[str, ...] = ()
    """`negations` only: what ends a clause; no cue reaches past one ("No fever, PBC")."""
    window_words: int = 0
    """`negations` only: at most this many words between a cue and the name after it."""
    window_after_words: int = 0
    """`negations` only: at most this many words between a name and a cue after it."""
    text_marks: tuple[str, ...] = ()
    """Stems that mark a result by the laboratory's words, anywhere in its interpretation or a
    note, inside a longer word too (`haemolysed-sample`: "haemoly"); never matched to an entry."""
    text_mark_negations: tuple[str, ...] = ()
    """Phrases that negate a mark ("not haemoly"): a text holding one is not marked."""
    citation: str | None = None
    """The source of a word list with no codes to carry one (a citation id)."""
    verified: bool | None = None
    """Whether the word list was read in `citation` (None: the value set has codes instead)."""
    _exact: Mapping[tuple[str, str], Code] = field(init=False, repr=False, compare=False)
    _prefixes: tuple[tuple[str, str, Code], ...] = field(init=False, repr=False, compare=False)
    _excluded: tuple[tuple[str, str], ...] = field(init=False, repr=False, compare=False)
    eponyms: tuple[str, ...] = field(init=False, repr=False, compare=False)
    """Names its code displays write as possessives ("Graves' disease", "Crohn's disease"):
    eponyms, which a card keeps capitalised in the record's words (review 16, P08b, R03). Read
    once here, not for every entry a card names."""

    def __post_init__(self) -> None:
        displays = " ".join(code.display for code in self.codes)
        object.__setattr__(self, "eponyms", tuple(_POSSESSIVE.findall(displays)))
        exact = {}
        prefixes = []
        excluded = []
        for code in self.codes:
            normal = normalise_code(code.system, code.code)
            if code.exclude:
                excluded.append((code.system, normal))
            elif code.prefix:
                prefixes.append((code.system, normal, code))
            else:
                exact[(code.system, normal)] = code
        object.__setattr__(self, "_exact", exact)
        object.__setattr__(self, "_prefixes", tuple(prefixes))
        object.__setattr__(self, "_excluded", tuple(excluded))

    def match_coding(self, system: Any, code: Any) -> Code | None:
        if not isinstance(system, str) or not isinstance(code, str):
            return None
        normal = normalise_code(system, code)
        if any(system == ex_system and normal.startswith(ex) for ex_system, ex in self._excluded):
            return None
        found = self._exact.get((system, normal))
        if found:
            return found
        for prefix_system, prefix, entry in self._prefixes:
            if system == prefix_system and normal.startswith(prefix):
                return entry
        return None

    def match(self, concept: Any) -> Code | None:
        """The first coding of a CodeableConcept that is in this value set."""
        for coding in codings(concept):
            found = self.match_coding(coding.get("system"), coding.get("code"))
            if found and found.accepts(concept_text(concept).lower()):
                return found
        return None

    def match_name(self, concept: Any) -> str | None:
        """Fallback when no code matches: an ingredient name in `text` or a `display`."""
        if not (self.names or self.word_names):
            return None
        return self.match_name_in(concept_text(concept).lower())

    def marks(self, text: str) -> bool:
        """The text holds one of `text_marks` anywhere and none of `text_mark_negations`
        (case-blind: "Sample haemolysed" is marked, "not haemolysed" is not)."""
        lowered = text.lower()
        return any(m in lowered for m in self.text_marks) and not any(
            n in lowered for n in self.text_mark_negations
        )

    def match_name_in(self, text: str) -> str | None:
        """Name fallback on an already lower-cased text (one text, many value sets)."""
        if any(word in text for word in self.exclude_names):
            return None
        for name in self.names:
            # "history of & melanoma": every part, in any order (a history word with a
            # malignancy word, eleventh round), else the whole name.
            if all(part in text for part in name.split(" & ")):
                return name
        if self.context_names and any(word in text for word in self.context):
            for name in self.context_names:
                if re.search(rf"(?<![a-z0-9]){re.escape(name)}(?![a-z0-9])", text):
                    return name
        if any(word in text for word in self.word_exclude):
            return None
        for name in self.word_names:
            found = [
                next((word for word in part.split(" | ") if _has_word(word, text)), None)
                for part in name.split(" & ")
            ]
            if all(found):
                # The words that matched ("ca & mastectomy"), not the whole list, for the trace.
                return " & ".join(word for word in found if word)
        return None

    def match_result_name_in(self, text: str) -> str | None:
        """`result_names` fallback on an already lower-cased result text."""
        if not self.result_names or any(word in text for word in self.result_exclude):
            return None
        return next((name for name in self.result_names if _has_word(name, text)), None)


def _has_word(word: str, text: str) -> bool:
    """`word` in `text`, not inside a longer word ("ca" in "breast ca", not in "calcium"); a
    space in `word` stands for any run of spaces, dots or hyphens ("ca. breast", "breast-ca")."""
    pattern = r"[\s.\-]+".join(re.escape(piece) for piece in word.split())
    return re.search(rf"(?<![a-z0-9]){pattern}(?![a-z0-9])", text) is not None


@dataclass(frozen=True)
class UnitTable:
    citation: str
    factors: Mapping[str, tuple[str, float]]
    """Folded alias -> (UCUM code, factor to `unit`)."""
    unit: str = "U/L"
    """The unit every factor converts into (U/L for the catalytic-activity table)."""
    compact: bool = False
    """Spaces inside a unit are ignored too ("umol / L"); the enzyme table reads units as
    written."""

    @staticmethod
    def fold(unit: str) -> str:
        return unit.strip().replace("µ", "u").replace("μ", "u").lower()

    def _key(self, unit: str) -> str:
        folded = self.fold(unit)
        return "".join(folded.split()) if self.compact else folded

    @classmethod
    def build(
        cls,
        units: Sequence[Mapping[str, Any]],
        citation: str,
        unit: str = "U/L",
        compact: bool = False,
    ) -> UnitTable:
        table = cls(citation, {}, unit, compact)
        factors: dict[str, tuple[str, float]] = {}
        for entry in units:
            for alias in [entry["ucum"], *entry["aliases"]]:
                factors[table._key(alias)] = (entry["ucum"], float(entry["factor"]))
        return cls(citation, factors, unit, compact)

    def to_units_per_litre(self, value: float, code: Any, text: Any) -> tuple[float, str] | None:
        """(value in the table's unit, the unit as recognised), or None when neither code nor
        text is known. The name is the enzyme table's (U/L); analyte tables use `convert`."""
        for candidate in (code, text):
            if isinstance(candidate, str) and candidate.strip():
                found = self.factors.get(self._key(candidate))
                if found:
                    return value * found[1], found[0]
        return None

    def convert(self, value: float, code: Any, text: Any) -> float | None:
        """`value` in the table's unit, or None when neither the UCUM code nor the unit text is
        one the table knows (a result without a unit is not assumed to be in it)."""
        found = self.to_units_per_litre(value, code, text)
        return found[0] if found else None


@dataclass(frozen=True)
class AgeBound:
    value: float
    unit: str

    @classmethod
    def of(cls, raw: Mapping[str, Any] | None) -> AgeBound | None:
        return cls(float(raw["value"]), raw["unit"]) if raw else None

    @property
    def days(self) -> float:
        return self.value * DAYS_PER[self.unit]

    def __str__(self) -> str:
        names = {"d": "days", "wk": "weeks", "mo": "months", "a": "years"}
        number = f"{self.value:g}"
        return f"{number} {names[self.unit]}"


@dataclass(frozen=True)
class IntervalRow:
    sex: str
    low: float
    high: float
    age_from: AgeBound | None = None
    age_to: AgeBound | None = None

    def covers(self, age_days: float) -> bool:
        if self.age_from and age_days < self.age_from.days:
            return False
        return not (self.age_to and age_days >= self.age_to.days)

    def describe_age(self) -> str:
        start, end = self.age_from, self.age_to
        if start and end and start.unit == end.unit == "a" and end.value == int(end.value):
            return f"age {start.value:g}-{end.value - 1:g} y"
        if start and end:
            return f"age {start} to under {end}"
        if start:
            return (
                f"age {start.value:g} y and over" if start.unit == "a" else f"age {start} and over"
            )
        if end:
            return f"age under {end}"
        return "all ages"


@dataclass(frozen=True)
class IntervalTable:
    id: str
    analyte: str
    unit: str
    citation: str
    rows: tuple[IntervalRow, ...]
    verified: bool = True
    conversions: Mapping[str, float] = field(default_factory=dict)
    """Folded unit -> factor into `unit` (the table's own unit has factor 1)."""
    source_label: str = "knowledge base"
    """Who published the interval, as a card names it ("Mayo Clinic Laboratories")."""

    def convert(self, value: float, code: Any, text: Any) -> float | None:
        """The value in the table's unit, or None for a unit the table does not know."""
        for candidate in (code, text):
            if isinstance(candidate, str) and candidate.strip():
                folded = UnitTable.fold(candidate)
                if folded == UnitTable.fold(self.unit):
                    return value
                factor = self.conversions.get(folded)
                if factor is not None:
                    return value * factor
        if code is None and text is None:
            return value  # no unit at all: assume the table's unit
        return None

    @cached_property
    def lowest_low(self) -> float | None:
        """The lowest lower limit of any row (any age, either sex); computed once, as rows never
        change (read for every ALP value parsed: `clinical.facts.alp_floor`)."""
        return min((r.low for r in self.rows), default=None)

    def lookup(self, age_days: float, sex: str | None) -> tuple[float, float, str] | None:
        """(low, high, description) for this age and sex; the union of both sexes if sex unknown."""
        candidates = [r for r in self.rows if r.covers(age_days)]
        if sex in {"male", "female"}:
            chosen = [r for r in candidates if r.sex in {sex, "any"}]
        else:
            chosen = candidates
        if not chosen:
            return None
        low = min(r.low for r in chosen)
        high = max(r.high for r in chosen)
        row = chosen[0]
        who = f"{sex}, " if sex in {"male", "female"} and row.sex != "any" else ""
        if len(chosen) > 1:
            who = "either sex, "
        return low, high, f"{who}{row.describe_age()}"


@dataclass(frozen=True)
class Parameter:
    name: str
    value: float
    unit: str
    meaning: str
    citation: str | None
    verified: bool


@dataclass(frozen=True)
class Orderable:
    id: str
    label: str
    order_label: str
    system: str
    code: str
    display: str | None
    result_codes: frozenset[tuple[str, str]]
    lookback_days: int
    citation: str | None
    verified: bool
    closes_follow_up: bool = False
    local_codes: frozenset[tuple[str, str]] = frozenset()
    """The deployment's own order codes for this test (`ALP_CDS_LOCAL_ORDER_CODES`), not the
    knowledge base's: an open order coded only with one of them stands for it too."""
    local_result_codes: frozenset[tuple[str, str]] = frozenset()
    """The deployment's own result codes for this test (`ALP_CDS_LOCAL_RESULT_CODES`)."""
    result_valuesets: tuple[str, ...] = ()
    """Value sets whose results are results of this test (their codes are in `result_codes`;
    their `result_names` recognise a result by its words)."""
    result_names: tuple[str, ...] = ()
    """Words a result with no known code and no LOINC is recognised as this test by (whole
    words; ` & ` joins words that must all appear): a local "ALK PHOS, BONE SPECIFIC"."""
    result_exclude: tuple[str, ...] = ()
    """Words that veto a `result_names` match."""

    def named_by(self, text: str) -> bool:
        """A lower-cased result text is this test by its own `result_names`."""
        if not self.result_names or any(word in text for word in self.result_exclude):
            return False
        return any(
            all(_has_word(part, text) for part in name.split(" & ")) for name in self.result_names
        )


@dataclass(frozen=True)
class Condition:
    """One test in a rule: `fact` `operator` `operand`, or a combinator (all/any/none) over
    children. `group` names the findings group an operand list came from, for the rulebook."""

    says: str
    fact: str | None = None
    operator: str | None = None
    operand: Any = None
    combinator: str | None = None
    children: tuple[Condition, ...] = ()
    group: str | None = None


PreparedCondition = tuple[Condition, str, Any]
"""A condition, the key its check is shared under within one evaluation, and (a leaf) its test
(clinical/engine.py makes them)."""


@dataclass(frozen=True)
class TextItem:
    """A line of card text, shown only when `only_if` holds (always when it is None)."""

    text: str
    only_if: Condition | None = None
    leads: bool = False
    """A next step shown before the drug annotations (which otherwise lead): a line that must be
    read first (twenty-first round, part C, R32-30: HELLP before a drug line)."""


@dataclass(frozen=True)
class Outweighed:
    """A later lab result that outweighs a coded condition (a replete 25-OH vitamin D against a
    coded vitamin D deficiency)."""

    valueset: str
    """The analyte's value set."""
    statuses: tuple[str, ...]
    """The latest result's statuses against its reference range that outweigh the condition."""
    within_days: str
    """Name of the parameter: how recent that result must be."""
    at_least: str | None = None
    """Name of a parameter: a result at or above it (in the analyte's unit, units.yaml
    `analytes`; a result whose unit is not listed, or has none, never) outweighs the condition
    whatever its status (a 25-OH vitamin D of 45 nmol/L, low for its range but not low enough
    to cause osteomalacia)."""


class EdtaSignature(NamedTuple):
    """What EDTA carried into the ALP's own sample would show in that draw (findings.yaml lab
    sources): `raised` high, `lowered` low or not measured, and nothing in the record (`unless`,
    a finding) that explains the raised one."""

    raised: str
    lowered: str | None
    unless: str | None
    """Explains the raised one only (a drug raising potassium): not a low `lowered` beside it."""
    unless_both: str | None = None
    """Explains the raised one and a low `lowered` together (kidney failure)."""
    unless_no_marker: str | None = None
    """With the raised one not measured, explains the low analyte and a low `lowered` beside
    it (a recorded cause of magnesium loss: true hypomagnesaemia lowers calcium too)."""
    gross_at_least: str | None = None
    """A parameter name: a marker at or above it beside a low `lowered` is gross contamination,
    which `unless` with `unless_no_marker` no longer clears (only `unless_both` does; twenty-first
    round, part B, R32-26)."""


@dataclass(frozen=True)
class FindingSource:
    kind: str
    """conditions, medications, procedures or labs"""
    valueset: str
    within_days: str | None = None
    """Name of the parameter limiting how long before the ALP the entry's event happened."""
    include_inactive: bool = False
    ended_within_days: str | None = None
    """Medications: name of the parameter for how recently an ended course still counts."""
    status: str | None = None
    """Labs: the latest result's status against its reference range that counts (low, high)."""
    separate_draw: bool = False
    """Labs: only a result from another draw than the ALP's (EDTA carried into the ALP's own
    sample lowers zinc and magnesium with it)."""
    edta_marker: str | None = None
    """Labs, with `separate_draw`: a value set whose result in the ALP's own draw, measured and
    not high, rules EDTA contamination out, so a result from that draw counts after all
    (potassium: K2/K3-EDTA raises it; fourteenth round, part H)."""
    edta_lowered: str | None = None
    """Labs, with `edta_marker`: a value set whose result in the ALP's draw must be low (or not
    measured) beside the high marker for EDTA to be suspected (calcium: EDTA chelates it;
    sixteenth round, part A, review 15 P17: a high potassium alone is not the signature)."""
    edta_unless: str | None = None
    """Labs, with `edta_marker`: a finding (from the record, not labs) that explains a high
    marker only (a drug raising potassium): with it a high marker whose lowered analyte is not
    low is expected, not the unexpected hyperkalaemia of contamination (Cornes 2008, 2010). A
    drug does not lower calcium: a low one beside it is still EDTA's signature (eighteenth
    round, part D, N01)."""
    edta_unless_both: str | None = None
    """Labs, with `edta_marker`: a finding (from the record, not labs) that explains a high
    marker and a low lowered analyte together (kidney failure: high potassium, low calcium)."""
    edta_unless_no_marker: str | None = None
    """Labs, with `edta_lowered`: a finding (from the record, not labs) that, with the marker
    not measured in the ALP's draw, explains the low analyte and a low lowered analyte beside
    it (coeliac disease, malnutrition or alcohol with a low magnesium and calcium: nineteenth
    round, part I, review 26 R26-18). Twentieth round, part L (review 31, R31-47): with the
    marker high and the lowered analyte low, it clears EDTA together with `edta_unless` (a drug
    explains the potassium, the recorded loss the magnesium, whose deficiency lowers calcium)."""
    edta_marker_gross: str | None = None
    """Labs, with `edta_lowered`: a parameter name. A marker at or above it with the lowered
    analyte low is gross EDTA contamination (marked unexpected hyperkalaemia with hypocalcaemia:
    Cornes 2008, 2010): `edta_unless` with `edta_unless_no_marker` does not clear it, whatever
    drug is recorded; `edta_unless_both` (kidney failure) still does (twenty-first round, part B,
    review 32, R32-26)."""

    @property
    def edta(self) -> EdtaSignature | None:
        if self.edta_marker is None:
            return None
        return EdtaSignature(
            self.edta_marker,
            self.edta_lowered,
            self.edta_unless,
            self.edta_unless_both,
            self.edta_unless_no_marker,
            self.edta_marker_gross,
        )

    confirmed: bool = False
    """Conditions: only an entry whose verification status is not differential, provisional,
    unconfirmed, refuted or entered in error (a cause on a differential is not a cause)."""
    recorded_dates: bool = False
    """Conditions: with `within_days`, an entry with no onset is dated by its recorded date (a
    symptom such as fever is recorded when it is seen)."""
    after: str | None = None
    """Conditions and labs: with `within_days`, only an entry (a lab result) dated on or after
    the latest entry of the named finding, by the clock when both carry a time of day, else by
    the day (a fever that began before the drainage was the reason for it, not a sign that it
    failed)."""
    not_before: str | None = None
    """Conditions: an entry dated before the latest entry of the named finding (by the clock
    when both carry a time, else on an earlier day) does not count; an undated one, or one with
    no such entry to compare with, still does (a cholangitis that was the drainage's reason)."""
    at_least: str | None = None
    """Labs: name of a parameter; any usable result in the window at or above it, in the
    parameter's unit, counts (a fixed threshold, not the lab's range: a temperature of 38 C)."""
    at_most: str | None = None
    """Labs: name of a parameter; the latest usable result in the window, in the parameter's
    unit (units.yaml `analytes` converts), counts when at or below it: a severe value now, not
    one since corrected (a magnesium of 0.45 mmol/L; twentieth round, part B)."""
    at_most_any: bool = False
    """Labs, with `at_most`: the lowest usable result in the window counts, not only the latest
    (a severe magnesium since replaced; twentieth round, part J, review 30 R30-03)."""
    started_before_rise: bool = False
    """Medications: only a course started before the first raised ALP of the current rise
    (or with no start recorded): a drug begun after the ALP was already raised did not raise
    it (RUCAM times the onset of injury from the start of the drug)."""
    started_within_days: str | None = None
    """Medications: name of the parameter for how recently before the ALP a course must have
    started (a start in the record) to count; the card names its start. Eighteenth round: a
    drug started beside anti-TB treatment is a co-suspect of the liver injury."""
    unless_in: tuple[str, ...] = ()
    """Medications and conditions: value sets whose entries do not count here (eighteenth
    round: the anti-TB drugs, also among the drugs that raise ALP, when another drug beside them
    is sought; a drug that must not be stopped abruptly, or one with its own card, under "stop it
    now"; fatty liver among the liver diseases whose complication is looked for)."""
    ended_by: str | None = None
    """Procedures: a value set of procedures that end what this one put in place (a biliary
    stent's removal). An entry in it is not itself a placement, and an entry counts only while
    no such procedure is dated on a later day (a removal and a new stent the same day are an
    exchange: the new stent is in place)."""
    falling: tuple[tuple[str, str], ...] = ()
    """Labs (status high): tiers of (fraction, days), each naming parameters: a raised latest
    result does not count when, for any tier, it is at least the fraction below the result
    before it, from another draw up to that many days earlier (a CRP still raised but falling
    after drainage is recovery, not a new sign: a quarter within 4 days, or half within 7)."""
    outweighed_by: Outweighed | None = None
    """Conditions: an entry dated (onset, else recorded date; undated too) on or before the day
    of the analyte's latest result in the window, when that result has one of the statuses, no
    longer counts: a measurement outweighs an older code."""


@dataclass(frozen=True)
class Finding:
    id: str
    label: str
    direction: str
    sources: tuple[FindingSource, ...]
    note: str | None = None
    explains_below_xuln: str | None = None
    """Parameter name: it explains a raised ALP only below this multiple of the upper limit."""


@dataclass(frozen=True)
class SuggestionTemplate:
    orderable: str
    recommended: bool = False
    only_if: Condition | None = None
    occurrence: tuple[str, str] | None = None
    """Parameter names (weeks after the result): the test is for later, in that period."""
    note: str | None = None


@dataclass(frozen=True)
class RuleCard:
    indicator: str
    summary: tuple[TextItem, ...]
    """Variants: the first whose `only_if` holds (the last has none)."""
    finding: tuple[TextItem, ...]
    """Variants, as the summary's (a finding that says "no GGT in 30 days" must say otherwise
    when the labs could not be had)."""
    reasoning: str
    next_steps: tuple[TextItem, ...] = ()
    cautions: tuple[TextItem, ...] = ()
    suggest: tuple[SuggestionTemplate, ...] = ()
    override_reasons: tuple[str, ...] = ()
    finding_of: str = "alp"
    """The result the finding line reports: its own preliminary status is said on the card
    (`<finding_of>.preliminary`), not another result's (review 22, R22-45)."""
    record_omits: tuple[str, ...] = ()
    """Findings the card names itself (its summary or finding line): their mentions are left out
    of "In the record" so a value is not said twice (twenty-first round, part B; the urgent
    magnesium card, parts B and J's left-open)."""

    @property
    def items(self) -> tuple[TextItem, ...]:
        """Every text that may be shown only if a condition holds: summary and finding variants,
        next steps and cautions."""
        return (*self.summary, *self.finding, *self.next_steps, *self.cautions)


@dataclass(frozen=True)
class Evidence:
    claim: str
    source: str
    level: str | None = None


@dataclass(frozen=True)
class Review:
    """A rule's clinical review record: what was read, what supports each threshold, what is
    not verified, and when."""

    date: str
    reviewer: str
    sources_read: tuple[str, ...]
    evidence: tuple[Evidence, ...]
    unverified: tuple[str, ...]


@dataclass(frozen=True)
class Rule:
    id: str
    topic: str
    """Stable alphanumeric code for source.topic.code (Epic keeps override history by it)."""
    version: str
    status: str
    family: str
    title: str
    intent: str
    kind: str
    """card, annotation or silent"""
    priority: int
    exclusive: bool
    suppresses: tuple[str, ...]
    conditions: tuple[Condition, ...]
    card: RuleCard | None
    annotation: str | None
    citations: tuple[str, ...]
    dates: Mapping[str, str]
    hti1_uses: Mapping[str, str]
    review: Review | None = None
    replaces: tuple[str, ...] = ()
    """Rules whose card this one shows in place of: only where one of them would have shown
    (fired, hidden by no other rule), and then hides it (eighteenth round, part C)."""


@dataclass(frozen=True)
class KnowledgeBase:
    name: str
    version: str
    content_hash: str
    header: Mapping[str, Any]
    citations: Mapping[str, Citation]
    valuesets: Mapping[str, ValueSet]
    units: UnitTable
    intervals: Mapping[str, IntervalTable]
    parameters: Mapping[str, Parameter]
    orderables: Mapping[str, Orderable]
    override_system: str
    override_reasons: Mapping[str, str]
    default_override_reasons: tuple[str, ...]
    findings: Mapping[str, Finding]
    groups: Mapping[str, tuple[str, ...]]
    rules: Mapping[str, Rule]
    deployment_result_codes: Mapping[str, Sequence[tuple[str, str, str | None]]] = field(
        default_factory=dict
    )
    """The deployment's result codes this knowledge base was given (`with_local_result_codes`),
    so that a candidate knowledge base can be given the same (console/impact.py)."""
    analyte_units: Mapping[str, UnitTable] = field(default_factory=dict)
    """Value set id -> the units its results are converted from (units.yaml `analytes`), for
    analytes read against fixed thresholds or compared across results (bile acids, CRP,
    platelets, LDH)."""

    _exact_index: dict[tuple[str, str], tuple[tuple[str, Code], ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    _prefix_index: dict[tuple[str, str], tuple[tuple[str, Code], ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    _prefix_systems: frozenset[str] = field(
        init=False, repr=False, compare=False, default_factory=frozenset
    )
    _excluded_index: dict[tuple[str, str], tuple[str, ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    _resulted_by: dict[tuple[str, str], tuple[str, ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    _ordered_by: dict[tuple[str, str], tuple[str, ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        # One lookup per coding instead of one per value set: records are classified once per
        # request against every value set (clinical/classify.py).
        exact: dict[tuple[str, str], list[tuple[str, Code]]] = {}
        prefix: dict[tuple[str, str], list[tuple[str, Code]]] = {}
        excluded: dict[tuple[str, str], list[str]] = {}
        for valueset in self.valuesets.values():
            for code in valueset.codes:
                key = (code.system, normalise_code(code.system, code.code))
                if code.exclude:
                    excluded.setdefault(key, []).append(valueset.id)
                    continue
                (prefix if code.prefix else exact).setdefault(key, []).append((valueset.id, code))
        object.__setattr__(self, "_excluded_index", {k: tuple(v) for k, v in excluded.items()})
        object.__setattr__(self, "_exact_index", {k: tuple(v) for k, v in exact.items()})
        object.__setattr__(self, "_prefix_index", {k: tuple(v) for k, v in prefix.items()})
        object.__setattr__(self, "_prefix_systems", frozenset(k[0] for k in prefix))
        resulted: dict[tuple[str, str], list[str]] = {}
        ordered: dict[tuple[str, str], list[str]] = {}
        for orderable in self.orderables.values():
            for pair in orderable.result_codes | orderable.local_result_codes:
                resulted.setdefault(pair, []).append(orderable.id)
            codes = {*orderable.result_codes, (orderable.system, orderable.code)}
            for pair in codes | orderable.local_codes:
                ordered.setdefault(pair, []).append(orderable.id)
        object.__setattr__(self, "_resulted_by", {k: tuple(v) for k, v in resulted.items()})
        object.__setattr__(self, "_ordered_by", {k: tuple(v) for k, v in ordered.items()})

    @cached_property
    def concept_memo(self) -> BoundedMemo[tuple[bool, bool, bytes], Any]:
        """Classification of whole concepts (clinical/classify.py); one per knowledge base, so a
        rule change starts empty."""
        return BoundedMemo(CONCEPT_MEMO_SIZE)

    @cached_property
    def result_words_memo(self) -> BoundedMemo[str, tuple[str, ...]]:
        """Orderables a result with no known code is by its lower-cased text
        (`orderables_resulted_by`)."""
        return BoundedMemo(CONCEPT_MEMO_SIZE)

    @cached_property
    def text_memo(self) -> BoundedMemo[str, tuple[str, ...]]:
        """Rule texts seen (clinical/engine.py): `(text,)` as rendered when it names only
        parameters, `()` when it names a fact and is rendered for each record."""
        return BoundedMemo(CONCEPT_MEMO_SIZE)

    @cached_property
    def condition_memo(self) -> dict[int, PreparedCondition]:
        """Rule conditions made ready to test (clinical/engine.py), by the condition's id, with
        the condition itself (checked on every lookup: an id can be reused once its object is
        gone, as for a condition made outside this knowledge base)."""
        return {}

    @cached_property
    def _classes(self) -> _lru_cache_wrapper[Mapping[str, Code]]:
        # One cache per knowledge base: a rule change loads a new one, with an empty cache.
        return lru_cache(maxsize=CLASSIFY_CACHE_SIZE)(self._coding_classes)

    def classify(self, concept: Any) -> Mapping[str, Code]:
        """Value set id -> the matching code, for every value set a CodeableConcept is in.
        Read-only: the answer for a single coding is shared by every caller."""
        found: Mapping[str, Code] = _NO_VALUE_SETS
        merged: dict[str, Code] | None = None
        for coding in codings(concept):
            system, code = coding.get("system"), coding.get("code")
            if not isinstance(system, str) or not isinstance(code, str):
                continue
            if len(system) + len(code) <= CLASSIFY_CACHE_MAX_LENGTH:
                classes = self._classes(system, code)
            else:
                classes = self._coding_classes(system, code)
            if any(entry.reads_text for entry in classes.values()):
                # A broad code (E83.39) counts only when the entry's text names the disorder;
                # that depends on the concept, so it is checked after the per-coding cache.
                text = concept_text(concept).lower()
                classes = {vs: e for vs, e in classes.items() if e.accepts(text)}
            if not classes:
                continue
            if not found:
                found = classes
                continue
            if merged is None:
                found = merged = dict(found)
            for vs_id, entry in classes.items():
                merged.setdefault(vs_id, entry)
        return found

    def _coding_classes(self, system: str, code: str) -> Mapping[str, Code]:
        """The value sets of one coding: an exact code, or a code under a listed prefix."""
        found: dict[str, Code] = {}
        normal = normalise_code(system, code)
        for vs_id, entry in self._exact_index.get((system, normal), ()):
            found.setdefault(vs_id, entry)
        if system in self._prefix_systems:
            for end in range(1, len(normal) + 1):
                for vs_id, entry in self._prefix_index.get((system, normal[:end]), ()):
                    found.setdefault(vs_id, entry)
        if found and self._excluded_index:
            # A code left out of a value set (F10.21 under F10.2), or one below it.
            for end in range(1, len(normal) + 1):
                for vs_id in self._excluded_index.get((system, normal[:end]), ()):
                    found.pop(vs_id, None)
        return MappingProxyType(found) if found else _NO_VALUE_SETS

    def param(self, name: str) -> float:
        return self.parameters[name].value

    def active_rules(self) -> list[Rule]:
        return [r for r in self.rules.values() if r.status == "active"]

    def orderables_resulted_by(self, concept: Any) -> list[str]:
        """Orderables for which an Observation with this code counts as a result; for a result
        with no LOINC code and no code in any value set, those its words name (thirteenth round:
        a local "ALK PHOS, BONE SPECIFIC" is a bone-specific ALP already resulted)."""
        found = self._orderables(self._resulted_by, concept)
        if found or any(c.get("system") == LOINC for c in codings(concept)):
            return found
        if self.classify(concept):
            return found
        text = concept_text(concept).lower()
        if not text:
            return found
        named = self.result_words_memo.get(text)
        if named is None:
            named = tuple(
                orderable.id
                for orderable in self.orderables.values()
                if orderable.named_by(text)
                or any(
                    self.valuesets[vs].match_result_name_in(text) is not None
                    for vs in orderable.result_valuesets
                )
            )
            if len(text) <= CONCEPT_MEMO_MAX_KEY:
                # A site's local codes recur on every call: the words are read once per text.
                self.result_words_memo.remember(text, named)
        return list(named)

    def with_local_order_codes(
        self, codes: Mapping[str, Iterable[tuple[str, str]]]
    ) -> KnowledgeBase:
        """This knowledge base with a deployment's own order codes (orderable id -> system and
        code pairs), so that an order the EHR files under one of them counts as open. Version and
        content hash stay those of the files: the codes are configuration, not content."""
        orderables = {
            key: replace(orderable, local_codes=frozenset(codes.get(key, ())))
            for key, orderable in self.orderables.items()
        }
        return replace(self, orderables=orderables)

    def with_local_result_codes(
        self, codes: Mapping[str, Sequence[tuple[str, str, str | None]]]
    ) -> KnowledgeBase:
        """This knowledge base with a deployment's own result codes (a laboratory value set's
        id, else an orderable's -> system, code and display), so that a result the laboratory
        files under one of them ("urn:oid:...|ALKP") is read as that test. Codes in value sets
        are marked `LOCAL_SOURCE`; version and content hash stay those of the files: the codes
        are configuration, not content."""
        valuesets = dict(self.valuesets)
        for vs_id, found in codes.items():
            if vs_id not in valuesets:
                continue
            added = tuple(
                Code(system, code, display or code, LOCAL_SOURCE, verified=False)
                for system, code, display in found
            )
            valuesets[vs_id] = replace(valuesets[vs_id], codes=valuesets[vs_id].codes + added)
        orderables = {}
        for key, orderable in self.orderables.items():
            # A test whose results are a value set's (GGT) is resulted under its local codes
            # too, and a test takes the codes given under its own id (bone-specific ALP, or
            # zinc, whose value set shares the id).
            sources = {*orderable.result_valuesets, key}
            local = {(system, code) for src in sources for system, code, _ in codes.get(src, ())}
            orderables[key] = replace(orderable, local_result_codes=frozenset(local))
        return replace(
            self,
            valuesets=valuesets,
            orderables=orderables,
            deployment_result_codes={k: tuple(v) for k, v in codes.items()},
        )

    def is_lab_valueset(self, vs_id: str) -> bool:
        """A value set of laboratory tests: one that lists a LOINC observation code."""
        valueset = self.valuesets.get(vs_id)
        return valueset is not None and any(c.is_loinc_test for c in valueset.codes)

    def orderables_ordered_by(self, concept: Any) -> list[str]:
        """Orderables an order (ServiceRequest) with this code stands for."""
        return self._orderables(self._ordered_by, concept)

    @staticmethod
    def _orderables(index: Mapping[tuple[str, str], tuple[str, ...]], concept: Any) -> list[str]:
        found: list[str] = []
        for coding in codings(concept):
            system, code = coding.get("system"), coding.get("code")
            if not isinstance(system, str) or not isinstance(code, str):
                continue
            for orderable in index.get((system, code), ()):
                if orderable not in found:
                    found.append(orderable)
        return found
