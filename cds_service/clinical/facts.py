"""Facts the rules test, derived from the record for one ALP result.

Each fact keeps the resources it came from, so the decision trace can show a reviewer exactly
which record entries made a rule fire. `FACTS` is the catalogue of names rules may use; the
knowledge-base loader refuses a rule that names anything else, and /rulebook prints it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from cds_service.clinical import pregnancy
from cds_service.clinical.classify import (
    BY_LOCAL_CODE,
    RECOGNISED_BY_WORDS,
    Classified,
    classify,
    medication_start,
)
from cds_service.clinical.findings import Found, Measurement, day, match_findings, recorded
from cds_service.clinical.labs import (
    UNUSABLE_STATUSES,
    Converter,
    Interval,
    choose_interval,
    effective_time,
    enzyme_converter,
    inside_own_range,
    lab_interval,
    measured,
    measured_ul,
    numeric_value,
    result_quantity,
    unit_of,
    unusable_reason,
)
from cds_service.clinical.record import PatientRecord, Resource
from cds_service.fhir.values import (
    as_list,
    as_str,
    codings,
    finite,
    parse_datetime,
    reference_parts,
    resource_key,
)
from cds_service.knowledge.model import (
    DAYS_PER,
    EdtaSignature,
    Finding,
    IntervalTable,
    KnowledgeBase,
    UnitTable,
)

FACTS: dict[str, str] = {
    "alp.status": "high, low or normal against the interval for this patient; unit-unknown "
    "for a number sent in no unit the knowledge base reads (no other fact is derived)",
    "alp.value": "the ALP value as reported, with its comparator (>1000)",
    "alp.unit": "the unit as reported",
    "alp.shown": "value and unit as the lab sent them (>1000 U/L)",
    "alp.value_ul": "the ALP value in U/L",
    "alp.low": "lower limit of the interval used, in the lab's unit",
    "alp.high": "upper limit of the interval used, in the lab's unit",
    "alp.range": "the interval used and where it came from, in the lab's unit",
    "alp.xuln": "ALP divided by the upper limit",
    "alp.xlln": "ALP divided by the lower limit (null without one): 0.95 is 5% under it",
    "alp.lab_xlln": "ALP divided by the laboratory's own lower limit for this patient, whether or "
    "not the age table replaced its range (null when it sent none): twentieth round, part L",
    "alp.same_draw_lows": "a low zinc or magnesium drawn with the ALP and not counted as a cause, "
    "that draw not clear of EDTA (its potassium not measured and its calcium low; or high with "
    "the calcium low and "
    "no kidney failure recorded, or with the calcium not measured and no recorded cause of a "
    "high potassium: the finding's edta_marker, edta_lowered, edta_unless_both, edta_unless; "
    "EDTA lowers them with the ALP and raises potassium), as a card "
    "says it (zinc 6.5 umol/L); null with none",
    "alp.multiple": "the multiple of the upper limit as a card says it, with the result's "
    "comparator (>9.6 for a '>1000 U/L' screen)",
    "alp.range_source": "where the interval came from",
    "alp.date": "date of the ALP specimen",
    "alp.preliminary": "true when the ALP Observation's status is preliminary (the laboratory "
    "has not released it as final: it may yet be corrected or held for a flag)",
    "alp.earlier_lows": "number of earlier low ALP results in the low look-back window",
    "alp.persistent_low": "an earlier low ALP at least the persistence interval before this one",
    "alp.earlier_low_date": "date of the earliest earlier low ALP",
    "alp.earlier_not_low": "an earlier ALP in the low look-back window, before every earlier "
    "low, was clearly above its lower limit (the lows came later: acquired, unless that value "
    "was raised for another reason)",
    "alp.earlier_not_low_date": "date of the latest such earlier ALP",
    "alp.marked_low": "low and markedly so: adults at or below the marked-low limit (U/L); "
    "under the adult age, any value below the age-specific lower limit",
    "alp.trend": "stable (every ALP in the trend window within the stable fraction of this one, "
    "the latest in the same direction), rising, falling, or first (no earlier ALP in the window; "
    "with Paget disease on the record the window is paget_trend_window_days; with none in the "
    "window, stable when the latest ALP within alp_trend_fallback_days is unchanged, else first)",
    "alp.previous": "the latest earlier ALP in the trend window (or the fallback one), as shown, "
    "with its date",
    "alp.previous_days_ago": "whole days from that earlier ALP to this one (null when the trend "
    "is first): a stable value compared with one half a year old is a periodic review, not a "
    "repeat within weeks (review 22, R22-22)",
    "alp.normal_days_ago": "days since the latest earlier ALP in the low look-back window that "
    "was within its range (null with none): a raised ALP after a normal one weeks ago rose "
    "acutely, which PBC does not",
    "alp.normal_date": "date of that normal ALP (null with none)",
    "alp.first_raised": "raised, and the first raised value of its run: no earlier ALP in the "
    "low look-back window, or the latest earlier one not raised",
    "alp.stable_raised_days": "raised: days back to the earliest of the unbroken run of raised "
    "ALPs before this one in the low look-back window, each within the stable fraction of it "
    "(0 with none); null when not raised",
    "alp.rise_from_previous": "how much higher this ALP is than the latest earlier one from "
    "another draw within alp_change_window_days, as a fraction of that one (0.5: half as high "
    "again); null with none",
    "alp.previous_change_shown": "that earlier ALP as a card says it (58 U/L on 15 Jul 2026)",
    "alp.before_antiresorptive": "ALP before the earliest recorded start of a bisphosphonate or "
    "denosumab: low (any result then below its limit), normal (the latest then above the clearly "
    "normal multiple of its lower limit), borderline (in range, not clearly), or null (no start "
    "recorded, or no ALP before it)",
    "alp.before_antiresorptive_shown": "that ALP as a card says it (82 U/L on 3 Mar 2021; for a "
    "low one, the latest low)",
    "antiresorptive.started": "the earliest recorded start of a bisphosphonate or denosumab "
    "course (3 Mar 2021)",
    "antiresorptive.years": "whole years from that earliest start to the ALP (9 for a course "
    "begun in 2017 and an ALP in 2026); null with no start recorded (twenty-first round, part I, "
    "R35-16: thigh or groin pain on a long course asks for femur imaging on the first-low card)",
    "antiresorptive.not_yet_given": "true when that earliest start falls on the ALP's day or "
    "later (prescribed with this result; no earlier course or dose is recorded), or when every "
    "course is an open order written within antiresorptive_order_pending_days with nothing "
    "recorded as taken or given; false otherwise; null with no start recorded",
    "patient.age_years": "age in whole years at the time of the ALP",
    "patient.age": "age as a card says it (months under 2 years)",
    "patient.age_days": "age in days at the time of the ALP",
    "patient.child": "under the adult age (multiples of age-specific limits only)",
    "patient.growing": "a child whose ALP limit for age and sex is not yet the adult one: growth "
    "can raise the ALP (the bone-source card's rickets screen and growth lines)",
    "patient.alp_adult_row": "the ALP table's row for this age and sex has the adult upper limit "
    "(a girl of 17 on the Mayo table): growth no longer raises her ALP; null without an age",
    "patient.sex": "administrative sex (male, female, or unknown)",
    "pregnancy.status": "pregnant, not pregnant, or unknown",
    "pregnancy.trimester": "first, second, third, or unknown",
    "pregnancy.weeks": "gestational age in weeks at the ALP, if known",
    "pregnancy.gestation": "gestational age as a card says it (20+2 weeks)",
    "pregnancy.delivered": "date of the dated delivery that ended the latest pregnancy (or "
    "'about' a date estimated from a term weeks-of-gestation record)",
    "pregnancy.days_since_delivery": "whole days from that delivery to the ALP",
    "pregnancy.days_since_postnatal": "with no delivery dated or recorded, whole days to the ALP "
    "from the postnatal check or puerperal complication that ended the pregnancy (review 19, "
    "R19-10); null otherwise",
    "pregnancy.days_since_end": "whole days to the ALP from the dated delivery, else from the "
    "date a delivery was recorded (for warnings: errs towards recent; a postnatal check "
    "never dates it)",
    "specimen.fasting": "fasting, non-fasting, or unknown (Specimen.collection.fastingStatus)",
    "ggt.status": "high, normal, borderline (within the borderline fraction of its upper limit), "
    "unknown (no age-appropriate range), or absent",
    "ggt.value": "the GGT or 5'-nucleotidase value used, as shown",
    "ggt.xuln": "GGT divided by its upper limit",
    "ggt.date": "date of the GGT used",
    "ggt.older": "the GGT used is older than the GGT window, taken because the ALP is stable",
    "alt.status": "ALT high, normal, unknown or absent (co-resulted or in the liver-panel window)",
    "alt.xuln": "ALT divided by its upper limit (co-resulted or within the liver-panel window)",
    "results.by_words": "set only when a result was recognised by its words, no code of it "
    "being in any value set (an ALP or GGT under a local code): which, and the words",
    "results.by_local_code": "set only when a result was recognised by a local code the "
    "deployment configured (ALP_CDS_LOCAL_RESULT_CODES): which, and the code",
    "shock_liver.by_pattern": "set only with shock recorded in the last shock_liver_window_days "
    "and ALT or AST at shock_liver_min_xuln or more: yes (read as shock liver) or no (ALT/LDH "
    "at shock_liver_alt_ldh_max or more), with the numbers",
    "ast.status": "AST high, normal, unknown or absent (co-resulted or in the liver-panel window)",
    "ast.xuln": "AST divided by its upper limit (co-resulted or within the liver-panel window)",
    "ast.value_ul": "that AST in U/L (the HELLP criteria are stated in U/L); absent when its unit "
    "could not be read",
    "ast.shown": "that AST as a card says it (280 U/L)",
    "liver.injury": "ALT or AST above its range",
    "liver.r_ratio": "R ratio: (ALT/ULN) / (ALP/ULN)",
    "liver.pattern": "cholestatic, mixed, hepatocellular, or unknown (from the R ratio)",
    "bilirubin.status": "total bilirubin high, normal, unknown, or absent",
    "bilirubin.value_mgdl": "total bilirubin in mg/dL",
    "bilirubin.shown": "that total bilirubin as the lab sent it, in its unit (42 umol/L); cards "
    "name it so (review 21, R21-08)",
    "bilirubin.xuln": "total bilirubin divided by its upper limit (the DILI thresholds, "
    "Aithal 2011, are multiples of it)",
    "bilirubin.trend": "new (raised, and the total bilirubin before it, from another draw in "
    "bilirubin_earlier_window_days, within its range), rising (both raised, this one at least "
    "bilirubin_rising_min_fraction higher), falling (raised before, the one before at least "
    "bilirubin_rising_min_fraction higher than this one), not rising, jaundiced (raised to at "
    "least jaundice_min_bilirubin_mg_dl with none before it in the window), first (raised less, "
    "none before it), or not raised (normal, absent or not judged)",
    "bilirubin.earlier": "that bilirubin before it as a card says it (0.9 mg/dL on 15 Aug 2026); "
    "null with none",
    "bilirubin.earlier_days": "days from that bilirubin before it to this one; null with none",
    "bilirubin.fraction": "conjugated (a raised total whose direct bilirubin, same draw, is above "
    "its range and at least conjugated_bilirubin_min_fraction of it), unconjugated (the direct "
    "within its range or under that fraction), unknown (no direct bilirubin of that draw), or "
    "not raised",
    "bilirubin.direct": "that direct bilirubin as a card says it (0.3 mg/dL, 9% of the total); "
    "null with none",
    "wilson.alp_bilirubin_ratio": "ALP (U/L) divided by co-resulted total bilirubin (mg/dL)",
    "wilson.ast_alt_ratio": "co-resulted AST divided by co-resulted ALT",
    "inr.value": "INR (co-resulted or in the liver-panel window), as a card shows it",
    "inr.level": "INR as a number, for comparisons (co-resulted or in the liver-panel window)",
    "inr.raised": "INR at or above the acute-liver-failure threshold",
    "inr.status": "that INR high, normal, low or unknown against its range (twenty-second round, "
    "part B, R39-02: an INR in range is named, not asked for)",
    "inr.with_alp": "that INR was drawn with the ALP (co-resulted, or the same draw)",
    "transaminases.trend": "falling (every raised ALT or AST at least the falling fraction below "
    "its result before, from another draw in the liver-panel window), rising (one above it), "
    "unchanged, first (a raised one with no result before it), or not raised",
    "platelets.lowest": "the lowest platelet count (10*9/L) co-resulted or in the liver-panel "
    "window; null when none could be read",
    "platelets.shown": "that count as a card says it (92 10*3/uL, 18 Nov 2026)",
    "platelets.with_alp": "a platelet count that could be read was drawn with the ALP "
    "(co-resulted, or within the result-time tolerance)",
    "ldh.highest": "the highest LDH (U/L) co-resulted or in the liver-panel window; null when "
    "none could be read",
    "ldh.shown": "that LDH as a card says it (720 U/L, 19 Nov 2026)",
    "creatinine.highest_umol_l": "the highest creatinine (umol/L) co-resulted or in the "
    "liver-panel window; null when none could be read",
    "glucose.lowest_mmol_l": "the lowest glucose (mmol/L; mg/dL converted) co-resulted or in the "
    "liver-panel window; null when none could be read",
    "glucose.shown": "that glucose as a card says it (2.6 mmol/L, 2 Dec 2026)",
    "glucose.lowest_value": "that glucose as a number in mmol/L, one decimal (2.6)",
    "swansea.shown": "the Swansea values past their limits, as the acute fatty liver summary "
    "names them (glucose 2.6, INR 1.8, creatinine 180); null when none is",
    "liver.pattern_pregnancy": "the liver pattern with placental ALP set aside: from "
    "placental_alp_pattern_min_weeks of pregnancy (or a coded third trimester) and in the first "
    "postpartum week, the R ratio on the ALT multiple alone (the ALP taken as placental); "
    "pregnant with a normal GGT and a raised ALT, hepatocellular (twenty-second round, part C); "
    "otherwise liver.pattern",
    "creatinine.status": "that creatinine high, normal, low or unknown against its range "
    "(twenty-first round, part G: a raised creatinine beside an acute liver injury is severity)",
    "creatinine.value_umol_l": "that latest creatinine in umol/L, whole, as a summary names it "
    "(250; twenty-second round, part C)",
    "creatinine.shown": "the latest creatinine co-resulted or in the liver-panel window as a "
    "card says it (2.0 mg/dL, 20 Nov 2026)",
    "fibrinogen.lowest": "the lowest fibrinogen (g/L; mg/dL converted) co-resulted or in the "
    "liver-panel window; null when none could be read",
    "fibrinogen.shown": "that fibrinogen as a card says it (0.8 g/L, 19 Nov 2026)",
    "pth.status": "PTH high, normal, low, unknown or absent (bone-lab window)",
    "pth.xuln": "PTH divided by its lab's upper limit (None without a range)",
    "pth.shown": "the PTH as the lab sent it, with its day",
    "vitamin_d.status": "25-OH vitamin D deficient (below the deficiency limit), low, normal, "
    "unknown or absent (bone-lab window)",
    "vitamin_d.nmol_l": "that 25-OH vitamin D in nmol/L (ng/mL converted); null when its unit is "
    "not known or it is absent",
    "vitamin_d.shown": "the latest 25-OH vitamin D in the bone-lab window as a card says it "
    "(78 nmol/L, 20 Oct 2026)",
    "vitamin_d.value_shown": "that 25-OH vitamin D as the lab sent it, without its day (20 nmol/L; "
    "twenty-second round, part F: the antiresorptive calcium line); null when absent",
    "phosphate.status": "phosphate high, normal, low, unknown or absent (bone-lab window)",
    "phosphate.mmol_l": "that phosphate in mmol/L (mg/dL converted); null when absent or not a "
    "number",
    "phosphate.shown": "the phosphate as the lab sent it, with its day (1.3 mmol/L, 1 Dec 2026)",
    "bile_acids.status": "serum bile acids high, normal, unknown or absent (bone-lab window)",
    "bile_acids.peak_umol_l": "the highest serum bile acids in umol/L resulted with the ALP or "
    "in the bile-acid window before it (ICP is diagnosed and graded by the peak against fixed "
    "thresholds, not the lab's range); results in another molar unit units.yaml lists "
    "(mmol/L, uM) are converted, any other is not read",
    "bile_acids.peak": "that peak as a card says it (120 umol/L, 18 Nov 2026); one converted "
    "is shown in umol/L with what was sent (45 umol/L (0.045 mmol/l), 18 Nov 2026)",
    "bile_acids.peak_value": "that peak's value alone, as bile_acids.peak shows it (120 umol/L): "
    "for a summary, which has no room for the date",
    "bile_acids.unread": "the latest serum bile acids in the bile-acid window in a unit not read "
    "(or not a number), as reported (110 umol/dL, 19 Nov 2026); null when there is none",
    "potassium.status": "co-resulted potassium high, normal, low, unknown, or absent",
    "potassium.mmol_l": "that potassium in mmol/L (mEq/L is the same); null when absent or not "
    "a number (twenty-first round, part B: gross EDTA contamination, R32-26)",
    "potassium.shown": "that potassium as a card says it (8.9 mmol/L); null when absent",
    "potassium.haemolysed": "true when that potassium's sample is flagged haemolysed by the "
    "laboratory (its interpretation or a note; twenty-first round, part L, R37-41)",
    "calcium.status": "co-resulted calcium high, normal, low, unknown, or absent",
    "calcium.shown": "that calcium as a card says it (2.08 mmol/L); null when absent",
    "calcium.preliminary": "true when that calcium's Observation status is preliminary (a card "
    "whose finding line is the calcium's, card.finding_of: calcium, says so; review 22, R22-45)",
    "calcium.mg_dl": "that calcium in mg/dL (mmol/L converted), albumin-adjusted when an albumin "
    "was taken with it (calcium.adjusted), else as reported; null when absent or not a number",
    "calcium.adjusted": "that calcium adjusted for an albumin taken within "
    "calcium_albumin_window_hours of it (Payne), as a card says it (3.17 mmol/L); null with no "
    "such albumin. calcium.status then judges the adjusted value against the calcium's range",
    "calcium.albumin": "that albumin as a card says it (24 g/L); null with none",
    "calcium.lab_adjusted": "the laboratory's own albumin-adjusted calcium resulted with the ALP, "
    "as a card says it (2.95 mmol/L); null with none. When sent it is calcium.adjusted, and "
    "calcium.status and calcium.mg_dl judge it (review 15, P09)",
    "calcium.judged": "the calcium that calcium.status judged, as a card says it: the total with "
    "its adjustment ('2.50 mmol/L (adjusted for albumin 27 g/L: 2.76 mmol/L)', '2.62 mmol/L "
    "(adjusted by the laboratory: 2.95 mmol/L)') or the total alone; null when absent",
    "calcium.date": "date of that calcium (it may be the day before the ALP); null when absent",
    "calcium_ionised.date": "date of the ionised calcium; null when absent",
    "calcium_ionised.status": "co-resulted ionised calcium high, normal, low, unknown (no lab "
    "range), or absent",
    "calcium_ionised.mmol_l": "that ionised calcium in mmol/L (mg/dL converted); null when absent "
    "or its unit is not read",
    "calcium_ionised.shown": "that ionised calcium as a card says it (1.65 mmol/L); null when "
    "absent",
    "calcium.earlier": "the calcium before it from another draw in the bone-lab window, as a "
    "card says it (2.40 mmol/L on 10 Aug 2026); null with none",
    "findings.present": "findings (findings.yaml) found in the record",
    "findings.explaining": "the findings present that can explain this ALP's height (a finding "
    "with explains_below_xuln only below that multiple)",
    "orders.open": "orderables with an open ServiceRequest",
    "results.recent": "orderables resulted within their look-back window before the ALP",
    "record.unavailable": "kinds of record that could not be had (conditions, medications, "
    "labs, orders, procedures): a text that says 'none' of them must not be shown",
}

FACT_NEEDS: dict[str, tuple[str, ...]] = {
    "alp.earlier_lows": ("labs",),
    "alp.persistent_low": ("labs",),
    "alp.earlier_not_low": ("labs",),
    "alp.trend": ("labs",),
    "alp.previous_days_ago": ("labs",),
    "alp.normal_days_ago": ("labs",),
    "alp.first_raised": ("labs",),
    "alp.stable_raised_days": ("labs",),
    "alp.rise_from_previous": ("labs",),
    "bilirubin.trend": ("labs",),
    "bilirubin.earlier_days": ("labs",),
    "bilirubin.fraction": ("labs",),
    "alp.before_antiresorptive": ("labs", "medications"),
    "antiresorptive.not_yet_given": ("medications",),
    "antiresorptive.years": ("medications",),
    "ggt.status": ("labs",),
    "results.recent": ("labs",),
    "findings.present": ("conditions", "medications", "procedures"),
    "findings.explaining": ("conditions", "medications", "procedures"),
    "orders.open": ("orders",),
}
"""Record kinds a fact is derived from beyond the results being signed: when one could not be
had, a check on the fact says "not known" rather than "none"."""


@dataclass(slots=True)
class Fact:
    value: Any
    evidence: tuple[str, ...] = ()
    note: str | None = None


@dataclass
class Facts:
    values: dict[str, Fact] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    """Supporting data for card text that rules do not test (e.g. which order is open)."""
    missing: frozenset[str] = frozenset()
    """Record kinds that could not be had (conditions, medications, labs, orders, procedures)."""
    checked: dict[str, Any] = field(default_factory=dict, init=False, compare=False, repr=False)
    """Conditions already checked against these facts under `checked_for`, by the condition's
    wording and test (clinical/engine.py): many rules share a test ("ALP is above the upper
    reference limit" opens sixteen of them). Emptied whenever a fact is set, and when another
    knowledge base checks them (the impact replay runs two over the same facts)."""
    checked_for: object = field(default=None, init=False, compare=False, repr=False)

    def unknown_because(self, name: str) -> tuple[str, ...]:
        """The missing record kinds a fact depends on (empty when it is fully known)."""
        if not self.missing:  # the usual call: every record kind was had (one check per leaf)
            return ()
        return tuple(k for k in FACT_NEEDS.get(name, ()) if k in self.missing)

    def set(
        self, name: str, value: Any, evidence: Iterable[str] = (), note: str | None = None
    ) -> None:
        self.values[name] = Fact(value, tuple(evidence), note)
        if self.checked:
            self.checked.clear()

    def get(self, name: str) -> Any:
        fact = self.values.get(name)
        return fact.value if fact else None

    REPLAYED = ("alp_reference", "alp_ul", "alp_uln", "alp_unit_per_ul", "findings", "mentions",
                "mention_keys", "open_orders", "recent_results", "pregnancy")  # fmt: skip

    def context(self) -> dict[str, Any]:
        """What card text needs beyond the fact values, JSON-safe, so that a stored evaluation
        can be replayed against another knowledge base (`alp-cds kb impact`)."""
        out: dict[str, Any] = {
            k: _json_safe(self.details[k]) for k in self.REPLAYED if k in self.details
        }
        when = self.details.get("alp_when")
        if isinstance(when, datetime):
            out["alp_when"] = when.isoformat()
        if self.missing:
            out["missing"] = sorted(self.missing)
        return out

    @classmethod
    def from_trace(cls, facts: Mapping[str, Any], context: Mapping[str, Any]) -> Facts:
        """Rebuild facts from a stored evaluation (its facts as the trace keeps them, and
        `context()`)."""
        rebuilt = cls(missing=frozenset(context.get("missing", ())))
        for name, entry in facts.items():
            if isinstance(entry, Mapping):
                rebuilt.set(name, entry.get("value"), entry.get("from", ()), entry.get("note"))
        rebuilt.details.update({k: v for k, v in context.items() if k in cls.REPLAYED})
        for key in ("open_orders", "recent_results"):
            rebuilt.details[key] = {
                k: tuple(v) if isinstance(v, list) else v
                for k, v in dict(rebuilt.details.get(key) or {}).items()
            }
        when = parse_datetime(context.get("alp_when"))
        if when is not None:
            rebuilt.details["alp_when"] = when
        return rebuilt


def _json_safe(value: Any) -> Any:
    """Tuples as lists, so a stored context reads back equal to the one written."""
    if isinstance(value, Mapping):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


@dataclass(frozen=True)
class Skipped:
    """An ALP result that was not interpreted, and why (audited, no card)."""

    observation: str
    reason: str


@dataclass(frozen=True)
class Reading:
    """One analyte result judged against its interval."""

    key: str
    value: float
    """In the analyte's unit (U/L for enzymes, the table's unit otherwise)."""
    status: str
    high: float | None
    when: datetime | None
    together: bool = False
    """Co-resulted with the ALP (same result set or the same draw)."""
    shown: str = ""
    """The value and unit as the lab sent them."""
    lab_low: float | None = None
    """The lab's own lower limit, when its range was used."""
    low: float | None = None
    """The lower limit used (the lab's or the table's)."""


def patient_sex(patient: Resource | None) -> str | None:
    gender = as_str(patient.get("gender")) if patient else None
    return gender if gender in {"male", "female"} else None


def age_days_at(patient: Resource | None, when: datetime) -> float | None:
    born = parse_datetime(patient.get("birthDate")) if patient else None
    if born is None:
        return None
    return (when - born).total_seconds() / 86400


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def _whole_months(born: datetime, when: datetime) -> int:
    """Completed calendar months: born 1 Feb, 10 months on 1 Dec (not 304 days / 30.4)."""
    months = (when.year - born.year) * 12 + when.month - born.month
    return months - 1 if when.day < born.day else months


def age_text(age_days: float, patient: Resource | None = None, when: datetime | None = None) -> str:
    """The age as a clinician says it: days in the first month, weeks to 13 weeks, completed
    calendar months to 2 years (from the birth date when it is known), then years."""
    if age_days < 31:
        return _plural(int(age_days), "day")
    if age_days < 13 * 7:
        return _plural(int(age_days // 7), "week")
    born = parse_datetime(patient.get("birthDate")) if patient else None
    if age_days < 2 * DAYS_PER["a"]:
        months = _whole_months(born, when) if born and when else int(age_days // DAYS_PER["mo"])
        return _plural(months, "month")
    return f"{int(age_days // DAYS_PER['a'])} years"


def _within(
    when: datetime | None, anchor: datetime, days_before: float, hours_after: float
) -> bool:
    if when is None:
        return False
    return anchor - timedelta(days=days_before) <= when <= anchor + timedelta(hours=hours_after)


def _status(value: float, interval: Interval) -> str:
    if interval.high is not None and value > interval.high:
        return "high"
    if interval.low is not None and value < interval.low:
        return "low"
    return "normal"


def _fmt(value: float, decimals: int | None = None) -> str:
    if decimals is not None:
        return f"{value:.{decimals}f}"
    return f"{value:.1f}".rstrip("0").rstrip(".") if value % 1 else f"{value:.0f}"


def _decimals(*values: Any) -> int:
    """The precision the lab used: the most decimals among a value and its range bounds (a
    parsed number keeps no trailing zeros, so 0.70 with a range of 0.58-1.74 shows as 0.70)."""
    most = 0
    for value in values:
        # finite() also refuses integers too large for a float (a hostile range bound).
        number = finite(value) if not isinstance(value, bool) else None
        if number is not None:
            text = repr(number)
            if "e" not in text and "." in text:
                most = max(most, len(text.split(".")[1].rstrip("0")))
    return min(most, 3)


CREATININE_UMOL_PER_MG_DL = 88.4
"""Creatinine is kept in mg/dL (cards/units.yaml, whose note gives this factor: molar mass
113.1 g/mol); the Swansea criteria and the summaries say it in umol/L."""


HAEMOLYSED_SAMPLE = "haemolysed-sample"
"""The value set of the words that flag a result's sample haemolysed, and their negations."""


def _flagged_haemolysed(kb: KnowledgeBase, obs: Resource) -> bool:
    """Twenty-first round, part L (review 37, R37-41): the laboratory flagged this result's
    sample as haemolysed, in the Observation's interpretation (text, or a coding's display) or a
    note, and did not negate it ("not haemolysed", "no haemolysis"): the words are the value set
    `haemolysed-sample` (twenty-second round, part D). Text only: no haemolysis index code is
    read (none verified)."""
    words = kb.valuesets.get(HAEMOLYSED_SAMPLE)
    if words is None:
        return False
    texts: list[str] = []
    for concept in obs.get("interpretation") or []:
        if isinstance(concept, Mapping):
            texts.append(as_str(concept.get("text")) or "")
            for coding in concept.get("coding") or []:
                if isinstance(coding, Mapping):
                    texts.append(as_str(coding.get("display")) or "")
    for note in obs.get("note") or []:
        if isinstance(note, Mapping):
            texts.append(as_str(note.get("text")) or "")
    return any(words.marks(text) for text in texts)


def _shown(obs: Resource) -> str:
    quantity = result_quantity(obs)
    if quantity is None:
        return "?"
    if "valueQuantity" not in obs:
        return str(obs["valueString"]).strip()  # read from text: shown as the lab wrote it
    value = finite(quantity.get("value"))
    number = _fmt(value, _decimals(value, *_bounds(obs))) if value is not None else "?"
    comparator = as_str(quantity.get("comparator")) or ""
    unit = as_str(quantity.get("unit")) or as_str(quantity.get("code")) or ""
    return f"{comparator}{number} {unit}".strip()


class EarlierAlp(NamedTuple):
    resource: Resource
    key: str
    time: datetime
    value_ul: float
    interval: Interval | None
    """The interval that applied when it was drawn (None: none could be chosen)."""


class _Context:
    """What every derivation for one ALP needs."""

    def __init__(
        self, kb: KnowledgeBase, record: PatientRecord, classified: Classified, when: datetime
    ) -> None:
        self.kb = kb
        self.record = record
        self.classified = classified
        self.when = when
        self.sex = patient_sex(record.patient)
        self.age_days = age_days_at(record.patient, when)
        self.paediatric = kb.param("paediatric_age_limit_years")
        self.adult_age = kb.param("adult_age_years")
        self.child = self.age_days is not None and self.age_days < self.adult_age * DAYS_PER["a"]
        self.tolerance = kb.param("result_time_tolerance_hours")
        self.enzyme = enzyme_converter(kb.units)
        self.co_resulted = classified.co_resulted
        self._edta_ruled_out: dict[EdtaSignature, bool] = {}

    def edta_ruled_out(self, edta: EdtaSignature | None) -> bool:
        """The ALP's own draw does not show EDTA contamination (a finding source's EDTA
        signature), so a zinc or magnesium drawn with the ALP is read as the patient's, not as
        the tube's. K2/K3-EDTA raises potassium as it lowers calcium, magnesium, zinc and ALP;
        gross contamination shows as marked unexpected hyperkalaemia with hypocalcaemia (Cornes
        2008, 2010). Ruled out when the marker (potassium) was measured in that draw and is not
        high (fourteenth round, part H); or, sixteenth round, part A (review 15, P17), when it
        is high but the lowered analyte (calcium) was measured there and is not low, or the
        record explains the high marker. Eighteenth round, part D (review 17 and 18, N01): a
        drug that raises potassium (`unless`) explains the potassium, not a low calcium, so it
        clears a high marker only when the lowered analyte is not low (or not measured); kidney
        failure (`unless_both`) explains both and clears it whatever the calcium. Review 22
        (R22-31): without the marker measured, only a low lowered analyte (calcium) in the draw
        keeps EDTA suspected; with neither there is no signature to suspect."""
        if edta is None:
            return False
        if edta not in self._edta_ruled_out:
            self._edta_ruled_out[edta] = self._edta_absent(edta)
        return self._edta_ruled_out[edta]

    def _edta_absent(self, edta: EdtaSignature) -> bool:
        marker = self.drawn_with_alp(edta.raised)
        if marker is None:
            # Review 22 (R22-31): no potassium in the draw. Only a low calcium there (EDTA
            # chelates it) points to the tube; with none, or a calcium not low, nothing in
            # the draw does, and a low magnesium or zinc is the patient's (hypomagnesaemia in
            # anorexia nervosa is expected and dangerous, not to be set aside).
            lowered = self.drawn_with_alp(edta.lowered) if edta.lowered is not None else None
            if lowered is None or lowered.status != "low":
                return True
            # Review 26 (R26-18): a recorded cause of the loss (coeliac disease, malnutrition,
            # alcohol) explains the low analyte, and true hypomagnesaemia lowers calcium too.
            return self._recorded(edta.unless_no_marker)
        if marker.status in ("normal", "low"):
            return True
        if marker.status != "high":
            return False
        if self._recorded(edta.unless_both):
            return True  # kidney failure: a high potassium and a low calcium are the patient's
        lowered = self.drawn_with_alp(edta.lowered) if edta.lowered is not None else None
        if lowered is not None and lowered.status in ("normal", "high"):
            return True
        if lowered is not None and lowered.status == "low":
            if edta.gross_at_least is not None and marker.value >= self.kb.param(
                edta.gross_at_least
            ):
                # Twenty-first round, part B (review 32, R32-26): potassium 8.9 with calcium
                # 1.20 on tacrolimus. Gross contamination (marked unexpected hyperkalaemia with
                # hypocalcaemia: Cornes 2008, 2010) is likelier than any drug and magnesium
                # loss together; only kidney failure (above) clears it.
                return False
            # A drug raises potassium; it does not lower calcium. Twentieth round, part L
            # (review 31, R31-47): unless a recorded cause of the low analyte's loss is there
            # too (tacrolimus and omeprazole): the drug explains the potassium, the loss the
            # magnesium, and a low magnesium lowers calcium (it blocks PTH).
            return self._recorded(edta.unless) and self._recorded(edta.unless_no_marker)
        return self._recorded(edta.unless)

    def _recorded(self, finding: str | None) -> bool:
        return finding is not None and recorded(self.kb, self.classified, self.when, finding)

    def drawn_with_alp(self, valueset: str) -> Reading | None:
        """The analyte's result from the ALP's own draw (its result set, or within
        `same_draw_hours`), judged by its range; None when that draw has none. Code review 17,
        F2: chosen from that draw first, so a repeat later the same day (still "together")
        does not hide it."""
        found = self.reading([valueset], valueset, 0, co_resulted_only=True, draw=self.when)
        if found is None or not self.same_draw(found.key, found.when):
            return None
        return found

    def converter(self, table_id: str) -> Converter:
        table = self.kb.intervals.get(table_id)
        if table is None:
            # No table (INR, PTH, phosphate, CRP...): the value as reported, judged only by the
            # lab's own range, which is in the same unit (a result without a unit too).
            return lambda value, code, text: value
        if table.unit == "U/L":
            return self.enzyme
        units = self.kb.analyte_units.get(table_id)
        if units is not None and units.unit == table.unit:
            # units.yaml lists the analyte's units (25-OH vitamin D in ng/mL or nmol/L); a result
            # without a unit stays as reported (judged by its lab's range, as before).
            listed = units

            def convert(value: float, code: Any, text: Any) -> float | None:
                if code is None and text is None:
                    return value
                return listed.convert(value, code, text)

            return convert
        return table.convert

    def _near(self, key: str, obs_time: datetime | None, hours: float) -> bool:
        return key in self.co_resulted or (
            obs_time is not None and abs(obs_time - self.when) <= timedelta(hours=hours)
        )

    def same_draw(self, key: str, obs_time: datetime | None) -> bool:
        """Drawn with the ALP: in its result set, or within `same_draw_hours` of it (tighter
        than `together`, which also takes the day's other results as the ALP's context)."""
        return self._near(key, obs_time, self.kb.param("same_draw_hours"))

    def together(self, key: str, obs_time: datetime | None) -> bool:
        return self._near(key, obs_time, self.tolerance)

    def earlier_alps(self, current: str, since: datetime | None = None) -> Iterator[EarlierAlp]:
        """Every usable total ALP before this one (from `since`), not drawn with it, with the
        interval that applied to the patient when it was drawn (a child's age then)."""
        for entry in self.classified.in_valueset("observations", "alp-total"):
            key, obs_time = entry.key, entry.time
            if key == current or self.together(key, obs_time) or not entry.active:
                continue
            if obs_time is None or obs_time >= self.when or (since and obs_time < since):
                continue
            value = measured_ul(entry.resource, self.kb.units, alp_floor(self.kb))
            if value is None:
                continue
            age = age_days_at(self.record.patient, obs_time)
            interval, _ = choose_interval(
                entry.resource,
                self.enzyme,
                self.kb.intervals.get("alp"),
                self.sex,
                age,
                self.paediatric,
                self.adult_age,
                self.kb.param("child_range_above_adult_margin"),
            )
            yield EarlierAlp(entry.resource, key, obs_time, value.value_ul, interval)

    def reading(
        self,
        valueset_ids: Iterable[str],
        table_id: str,
        days: float,
        co_resulted_only: bool = False,
        age_appropriate: bool = False,
        separate_draw: bool = False,
        edta: EdtaSignature | None = None,
        draw: datetime | None = None,
    ) -> Reading | None:
        """The freshest usable result of an analyte: co-resulted first, then the latest in the
        window before the ALP. `age_appropriate`: for a child, a lab range without an age is not
        trusted (an adult GGT range would call a newborn's normal GGT high). `separate_draw`:
        only results not drawn with the ALP, unless `edta` rules EDTA out in its draw. `draw`:
        a result from the draw taken at that time (the ALP's: its result set too) before any
        other, fresher or not (code review 17, F2: a value read beside the ALP, or beside a
        total bilirubin, is the one from that draw, not a repeat later the same day)."""
        convert = self.converter(table_id)
        gap = timedelta(hours=self.kb.param("same_draw_hours"))
        candidates = []
        for entry in self.classified.observations_in(valueset_ids):
            if not entry.active:
                continue
            obs, key, obs_time = entry.resource, entry.key, entry.time
            together = self.together(key, obs_time)
            if (co_resulted_only and not together) or (
                separate_draw and self.same_draw(key, obs_time) and not self.edta_ruled_out(edta)
            ):
                continue
            if together or _within(obs_time, self.when, days, self.tolerance):
                in_draw = draw is not None and (
                    (draw == self.when and key in self.co_resulted)
                    or (obs_time is not None and abs(obs_time - draw) <= gap)
                )
                candidates.append((in_draw, together, obs_time or self.when, obs))
        if not candidates:
            return None
        candidates.sort(key=lambda c: c[:3], reverse=True)
        _, together, when, obs = candidates[0]
        value = measured(obs, convert)
        key = resource_key(obs)
        shown = _shown(obs)
        if value is None:
            return Reading(key, float("nan"), "unknown", None, when, together, shown)
        table = self.kb.intervals.get(table_id)
        limit = self.adult_age if age_appropriate else 0
        interval, _ = choose_interval(
            obs, convert, table, self.sex, self.age_days, limit, self.adult_age
        )
        if interval is None or (interval.high is None and interval.low is None):
            return Reading(key, value, "unknown", None, when, together, shown)
        status = _status(value, interval)
        lab_low = interval.low if interval.from_lab else None
        return Reading(
            key, value, status, interval.high, when, together, shown, lab_low, interval.low
        )

    def in_unit(self, valueset_id: str) -> Converter:
        """Into the unit an analyte's fixed thresholds use (units.yaml `analytes`: bile acids
        umol/L, platelets 10*9/L), to compare results in different units; it gives None for a
        unit not listed, or none (never assumed). Else the analyte's own converter."""
        units = self.kb.analyte_units.get(valueset_id)
        if units is not None:
            return units.convert
        return self.converter(valueset_id)

    def all_readings(self, valueset_id: str, days: float) -> list[Reading]:
        """Every usable result of an analyte co-resulted or in the `days` before the ALP, in the
        unit its thresholds use (`in_unit`); a unit not converted is left out. Their status is
        not judged ("unknown"): rules read them against fixed thresholds."""
        convert = self.in_unit(valueset_id)
        found = []
        for entry in self.classified.observations_in([valueset_id]):
            together = self.together(entry.key, entry.time)
            if not entry.active or not (
                together or _within(entry.time, self.when, days, self.tolerance)
            ):
                continue
            value = measured(entry.resource, convert)
            if value is not None:
                when = entry.time or self.when
                shown = _shown(entry.resource)
                found.append(Reading(entry.key, value, "unknown", None, when, together, shown))
        return found

    def judge(self, valueset_id: str, key: str) -> str:
        """The status of one result (by its key) against its interval, as `reading` judges
        one: the table when the knowledge base keeps one, else the laboratory's own range in the
        result's own unit; "unknown" without a number or a range (twenty-first round, part L,
        R37-66: `all_readings` leaves status unjudged)."""
        convert = self.converter(valueset_id)
        for entry in self.classified.observations_in([valueset_id]):
            if entry.key != key:
                continue
            value = measured(entry.resource, convert)
            if value is None:
                return "unknown"
            interval, _ = choose_interval(
                entry.resource,
                convert,
                self.kb.intervals.get(valueset_id),
                self.sex,
                self.age_days,
                0,
                self.adult_age,
            )
            if interval is None or (interval.high is None and interval.low is None):
                return "unknown"
            return _status(value, interval)
        return "unknown"

    def earlier(
        self, valueset_ids: Iterable[str], convert: Converter, latest: Reading, days: float
    ) -> Reading | None:
        """The result of the same analyte before `latest`: the latest usable one from another
        draw (more than `same_draw_hours` earlier) at most `days` before it, converted by
        `convert` (None when it cannot be). Its status is not judged ("unknown")."""
        if latest.when is None:
            return None
        gap = timedelta(hours=self.kb.param("same_draw_hours"))
        since = latest.when - timedelta(days=days)
        best: tuple[datetime, Resource] | None = None
        for entry in self.classified.observations_in(valueset_ids):
            obs_time = entry.time
            if not entry.active or entry.key == latest.key or obs_time is None:
                continue
            if since <= obs_time < latest.when - gap and (best is None or obs_time > best[0]):
                best = (obs_time, entry.resource)
        if best is None:
            return None
        value = measured(best[1], convert)
        if value is None:
            return None
        return Reading(
            resource_key(best[1]), value, "unknown", None, best[0], shown=_shown(best[1])
        )

    def measure(
        self,
        valueset_id: str,
        days: float,
        separate_draw: bool,
        trend_days: float | None = None,
        edta: EdtaSignature | None = None,
    ) -> Measurement | None:
        """A finding's lab source (findings.py): the analyte's latest result, judged by its
        lab's range (no interval table is kept for these analytes); `separate_draw`: from
        another draw than the ALP's only; `trend_days`: with the result before it, up to that
        many days earlier, for a trend."""
        found = self.reading(
            [valueset_id], valueset_id, days, separate_draw=separate_draw, edta=edta
        )
        if found is None:
            return None
        shown = f"{found.shown}, {day(found.when)}" if found.when else found.shown
        entry = next(
            (e for e in self.classified.observations_in([valueset_id]) if e.key == found.key),
            None,
        )
        timed = entry is not None and entry.timed
        if trend_days is None:
            return Measurement(found.key, found.status, shown, when=found.when, timed=timed)
        # Compared in one unit (CRP in mg/dL and mg/L): a result that cannot be converted is
        # not compared, so it is never "falling".
        convert = self.in_unit(valueset_id)
        value = measured(entry.resource, convert) if entry is not None else None
        before = None
        if value is not None:
            before = self.earlier([valueset_id], convert, found, trend_days)
        if before is None:
            return Measurement(found.key, found.status, shown, value, when=found.when, timed=timed)
        was = f"{before.shown}, {day(before.when)}" if before.when else before.shown
        return Measurement(
            found.key, found.status, shown, value, before.value, was, found.when, timed
        )


def alp_floor(kb: KnowledgeBase) -> float | None:
    """The lowest lower limit of the ALP table (U/L): a "<N" sent with no unit and N below it
    is a low ALP in U/L (`measured_ul`)."""
    table = kb.intervals.get("alp")
    return table.lowest_low if table is not None else None


def _unit_unread(
    kb: KnowledgeBase, record: PatientRecord, key: str, alp: Resource, when: datetime
) -> Facts | Skipped:
    """Facts for an ALP sent as a number in no unit the knowledge base knows (status
    `unit-unknown`; `derive` has already refused a result with no number), or Skipped for a
    negative number, a data error in any unit. The unit is read as `measured_ul` read it
    (`unit_of`: a code outside UCUM is no unit), so the card names what was refused.
    Eighteenth round, part D (N14, N08): Skipped too, with no card, for a number inside its
    laboratory's own range in the same unit and not flagged otherwise: the lab calls it
    normal, and "not interpreted" on a normal result only costs the clinician time."""
    quantity = result_quantity(alp) or {}
    unit = unit_of(alp)
    number = numeric_value(alp)
    if number is None or number < 0:
        return Skipped(key, "the result is not a plausible ALP measurement in any unit")
    if inside_own_range(
        alp,
        patient_sex(record.patient),
        age_days_at(record.patient, when),
        kb.param("paediatric_age_limit_years"),
        kb.param("adult_age_years"),
    ):
        return Skipped(
            key,
            "no unit the knowledge base reads, but within the laboratory's own range in the "
            "same unit and not flagged: normal by the laboratory",
        )
    facts = Facts(missing=record.missing)
    note = (
        f"unit {unit!r} is not a catalytic-activity unit the knowledge base knows"
        if unit
        else "no unit, on the result or its range"
    )
    comparator = as_str(quantity.get("comparator")) or ""
    shown = f"{comparator}{_fmt(number, _decimals(number))}"
    facts.set("alp.status", "unit-unknown", [key], note)
    facts.set("alp.value", shown, [key])
    facts.set("alp.unit", unit, [key])
    facts.set("alp.shown", f"{shown} {unit}".strip(), [key])
    facts.set("alp.date", day(when), [key])
    facts.details["alp_reference"] = key
    facts.details["alp_when"] = when
    return facts


def derive(
    kb: KnowledgeBase, record: PatientRecord, alp: Resource, classified: Classified | None = None
) -> Facts | Skipped:
    """All facts for one ALP Observation, or why it cannot be interpreted. `classified` is the
    record's one-pass index; pass it when evaluating several ALPs of one record."""
    key = resource_key(alp)
    reason = unusable_reason(alp)
    if reason:
        return Skipped(key, reason)
    value = measured_ul(alp, kb.units, alp_floor(kb))
    if value is None:
        # A number whose unit cannot be read is not judged, but it is not left silent either:
        # the clinician would read silence as "nothing needed" (review 16, P26). Only the
        # unit card reads these facts.
        return _unit_unread(kb, record, key, alp, effective_time(alp) or record.now)
    if not 0 <= value.value_ul <= kb.param("alp_plausible_max_ul"):
        # A data error (a sign slip, an overflow, a mistyped value) is audited, never carded.
        return Skipped(key, f"{value.value_ul:.3g} U/L is not a plausible ALP measurement")
    when = effective_time(alp) or record.now
    ctx = _Context(kb, record, classified or classify(kb, record), when)
    interval, note = choose_interval(
        alp,
        ctx.enzyme,
        kb.intervals.get("alp"),
        ctx.sex,
        ctx.age_days,
        ctx.paediatric,
        ctx.adult_age,
        kb.param("child_range_above_adult_margin"),
    )
    if interval is None or interval.high is None or interval.high <= 0:
        # A zero or negative upper limit is a lab's data error; dividing by it would
        # either crash or produce nonsense multiples of the limit.
        return Skipped(key, note or "no usable reference interval applies to this patient")

    facts = Facts(missing=record.missing)
    facts.set("record.unavailable", sorted(record.missing))
    patient_ref = [resource_key(record.patient)] if record.patient else []
    range_ref = [key] if interval.from_lab else patient_ref
    # Limits are shown in the lab's unit and precision: 0.70 ukat/L (lower limit 0.67).
    per_ul = value.value / value.value_ul if value.value_ul else 1.0
    # The value as the lab sent it; the limits with the precision of the lab's own range (or
    # of the value, for a knowledge-base interval converted to the lab's unit).
    places = _decimals(value.value)
    bounds = _bounds(alp) if interval.from_lab else []
    limit_places = _decimals(*bounds) if bounds else places
    low = _fmt(interval.low * per_ul, limit_places) if interval.low is not None else None
    high = _fmt(interval.high * per_ul, limit_places)
    status = _status(value.value_ul, interval)
    facts.set("alp.status", status, [key], note)
    facts.set("alp.value", f"{value.comparator or ''}{_fmt(value.value, places)}", [key])
    facts.set("alp.unit", value.unit, [key])
    facts.set("alp.shown", f"{value.comparator or ''}{_fmt(value.value, places)} {value.unit}")
    facts.set("alp.value_ul", round(value.value_ul, 2), [key])
    facts.set("alp.low", low or "?", range_ref)
    facts.set("alp.high", high, range_ref)
    span = f"{low}-{high}" if low is not None else f"up to {high}"
    facts.set("alp.range", f"{span} {value.unit} ({interval.source})", range_ref)
    facts.set("alp.xuln", round(value.value_ul / interval.high, 3), [key])
    xlln = round(value.value_ul / interval.low, 3) if interval.low else None
    facts.set("alp.xlln", xlln, [key])
    # Twentieth round, part L (review 31, R31-35): the laboratory's own lower limit, read even
    # where a child's age table replaced a range without an age, so the child warning can ask
    # that the ALP be far under both.
    adult_days = ctx.adult_age * DAYS_PER["a"]
    own, _ = lab_interval(alp, ctx.enzyme, ctx.sex, ctx.age_days, adult_days)
    own_xlln = round(value.value_ul / own.low, 3) if own is not None and own.low else None
    facts.set("alp.lab_xlln", own_xlln, [key])
    bound = (value.comparator or "").replace("=", "")
    facts.set("alp.multiple", f"{bound}{value.value_ul / interval.high:.1f}", [key])
    facts.set("alp.range_source", interval.source, range_ref)
    facts.set("alp.date", day(when), [key])
    facts.set("alp.preliminary", as_str(alp.get("status")) == "preliminary", [key])
    age = int(ctx.age_days // DAYS_PER["a"]) if ctx.age_days is not None else None
    facts.set("patient.age_years", age, patient_ref)
    facts.set(
        "patient.age",
        age_text(ctx.age_days, ctx.record.patient, ctx.when) if ctx.age_days is not None else None,
    )
    facts.set("patient.age_days", round(ctx.age_days, 1) if ctx.age_days is not None else None)
    facts.set("patient.child", ctx.child, patient_ref)
    adult_row = _alp_adult_row(kb, ctx.age_days, ctx.sex)
    facts.set("patient.alp_adult_row", adult_row, patient_ref)
    facts.set("patient.growing", ctx.child and adult_row is not True, patient_ref)
    facts.set("patient.sex", ctx.sex or "unknown", patient_ref)
    marked = status == "low" and (ctx.child or value.value_ul <= kb.param("low_marked_adult_ul"))
    facts.set("alp.marked_low", marked, [key])
    facts.details["alp_reference"] = key
    facts.details["alp_when"] = when
    facts.details["alp_ul"] = value.value_ul
    facts.details["alp_uln"] = interval.high
    facts.details["alp_unit_per_ul"] = per_ul

    # Twelfth round, part D (review 12, N11): a result read by its words rather than a code
    # is said so in the trace, for the integrating team to map the local code; one read by a
    # local code the deployment configured is said so too (thirteenth round).
    for name, mark in (
        ("results.by_words", RECOGNISED_BY_WORDS),
        ("results.by_local_code", BY_LOCAL_CODE),
    ):
        recognised = [
            (entry.key, how)
            for entry in ctx.classified.entries.get("observations", [])
            for how in entry.matches.values()
            if mark in how
        ]
        if recognised:
            facts.set(name, [f"{k}: {how}" for k, how in recognised], [k for k, _ in recognised])
    _earlier_alps(ctx, facts, key, status, value.value_ul)
    _before_antiresorptive(ctx, facts, key)
    _pregnancy(ctx, facts)
    _fasting(ctx, facts, alp)
    _ggt(ctx, facts)
    _liver_panel(ctx, facts)
    _hellp_labs(ctx, facts)
    _bone_labs(ctx, facts)
    _bile_acids_peak(ctx, facts)
    _electrolytes(ctx, facts)
    found = match_findings(kb, ctx.classified, when, ctx.measure, facts.details.get("rise_since"))
    _shock_liver_by_pattern(ctx, facts, found)
    _same_draw_lows(ctx, facts, found)
    facts.set(
        "findings.present",
        sorted(found),
        [ln.split(":")[0] for f in found.values() for ln in f.evidence],
    )
    xuln = facts.get("alp.xuln")
    explaining = [
        f
        for f in sorted(found)
        if (limit := kb.findings[f].explains_below_xuln) is None
        or (isinstance(xuln, float) and xuln < kb.param(limit))
    ]
    facts.set("findings.explaining", explaining)
    facts.details["findings"] = {k: f.evidence for k, f in found.items()}
    facts.details["mentions"] = {k: f.mentions for k, f in found.items()}
    facts.details["mention_keys"] = {k: f.named for k, f in found.items()}
    _open_orders(ctx, facts)
    _recent_results(ctx, facts, key)
    return facts


SHOCK = "recent-shock"
"""Finding read only to infer shock liver; never kept as a finding of its own."""
SHOCK_LIVER = "ischaemic-hepatitis"


def _shock_liver_by_pattern(ctx: _Context, facts: Facts, found: dict[str, Found]) -> None:
    """Twelfth round, part D (review 12, 06): shock recorded days before a massive
    aminotransferase rise is shock liver until shown otherwise (Henrion 2012), written in
    words or not. The problem list rarely says "shock liver" at day two; without this the
    injury got a viral and autoimmune work-up. An LDH, when measured, must agree (ALT/LDH under
    1.5: Cassidy 1994); a high ratio reads as viral or drug injury, so the inference is not
    made. The shock finding itself is dropped: septic shock is already sepsis, and shock alone
    explains no ALP."""
    shock = found.pop(SHOCK, None)
    if shock is None or SHOCK_LIVER in found:
        return
    kb = ctx.kb
    multiples = [x for x in (facts.get("alt.xuln"), facts.get("ast.xuln")) if isinstance(x, float)]
    peak = max(multiples, default=None)
    since = _shock_time(ctx, shock)
    falling = ""
    window = kb.param("shock_liver_window_days")
    if since is not None and (ctx.when.date() - since.date()).days > window:
        # Thirteenth round, part D (review 13, 10): aminotransferases peak 1-3 days after the
        # insult and fall to normal within 7-10 (Henrion 2012). A shock older than
        # shock_liver_window_days counts only with the ALT already past a peak of its own: an
        # ALT drawn since the shock, higher than today's, is the peak the window is read to.
        earlier = _alt_peak_since(ctx, facts, since)
        current = facts.get("alt.xuln")
        if earlier is None or not isinstance(current, float) or earlier <= current:
            return
        peak = earlier
        falling = f", falling to {current:.0f}x"
    if peak is None or peak < kb.param("shock_liver_min_xuln"):
        return
    alt_ul = facts.details.get("alt_ul")
    ldh = facts.get("ldh.highest")
    ratio_line = "no LDH measured"
    if isinstance(ldh, float) and ldh > 0 and isinstance(alt_ul, float):
        ratio = alt_ul / ldh
        if ratio >= kb.param("shock_liver_alt_ldh_max"):
            facts.set(
                "shock_liver.by_pattern",
                f"no: shock recorded, aminotransferases {peak:.0f}x, but ALT/LDH {ratio:.2f}",
                shock.named,
            )
            return
        ratio_line = f"ALT/LDH {ratio:.2f}"
    inferred = Found()
    inferred.evidence = [
        *shock.evidence,
        # Keyed by the shock entry, as every evidence line is keyed by a record entry.
        f"{shock.named[0] if shock.named else 'record'}: shock liver inferred, aminotransferase"
        f" {peak:.0f}x its upper limit after recorded shock{falling} ({ratio_line})",
    ]
    inferred.mentions = [
        f"{m}, then aminotransferases {peak:.0f}x{falling}" for m in shock.mentions
    ]
    inferred.named = list(shock.named)
    inferred.ended_only = False
    found[SHOCK_LIVER] = inferred
    facts.set(
        "shock_liver.by_pattern",
        f"yes: aminotransferases {peak:.0f}x after recorded shock{falling} ({ratio_line})",
        shock.named,
    )


def _shock_time(ctx: _Context, shock: Found) -> datetime | None:
    """When the latest recorded shock began (its onset, or its recorded date)."""
    times = [
        entry.time or entry.recorded
        for entry in ctx.classified.in_valueset("conditions", "circulatory-shock")
        if entry.key in shock.named
    ]
    return max((t for t in times if t is not None), default=None)


def _alt_peak_since(ctx: _Context, facts: Facts, since: datetime | None) -> float | None:
    """The highest ALT drawn on or after the shock's day and before this ALP's draw, as a
    multiple of today's ALT upper limit (None without both)."""
    alt_ul, alt_x = facts.details.get("alt_ul"), facts.get("alt.xuln")
    if since is None or not isinstance(alt_ul, float) or not isinstance(alt_x, float) or not alt_x:
        return None
    high = alt_ul / alt_x
    days = ctx.kb.param("shock_liver_falling_days")
    values = [
        r.value
        for r in ctx.all_readings("alt", days)
        if not r.together and r.when is not None and r.when.date() >= since.date()
    ]
    return max(values) / high if values and high > 0 else None


def _bounds(obs: Resource) -> list[Any]:
    return [
        (rr.get(k) or {}).get("value")
        for rr in as_list(obs.get("referenceRange"))
        if isinstance(rr, Mapping)
        for k in ("low", "high")
        if isinstance(rr.get(k), Mapping)
    ]


def _earlier_alps(ctx: _Context, facts: Facts, current: str, status: str, value_ul: float) -> None:
    """Earlier ALPs: low ones (each judged against the interval that applied on its own date)
    for persistence, and those in the trend window for stability."""
    lookback = ctx.kb.param("low_lookback_days")
    persistence = timedelta(days=ctx.kb.param("low_persistence_min_days"))
    trend_days = ctx.kb.param("alp_trend_window_days")
    if any(e.countable for e in ctx.classified.in_valueset("conditions", "bone-paget")):
        # Paget disease is followed by an ALP every 6-24 months: its relapse is read against
        # the last of them, not as a first value.
        trend_days = max(trend_days, ctx.kb.param("paget_trend_window_days"))
    trend_since = ctx.when - timedelta(days=trend_days)
    # Review 22 (R22-43, R22-21): with no ALP in the trend window, the latest one back to
    # alp_trend_fallback_days (yearly bloods, drawn a little late) makes the ALP stable when it
    # is unchanged (an unchanged mild rise or a treated PBC reviewed once a year), not "first".
    fallback_since = ctx.when - timedelta(
        days=max(trend_days, ctx.kb.param("alp_trend_fallback_days"))
    )
    fallback: tuple[datetime, str, float, str, str] | None = None
    stable = ctx.kb.param("alp_stable_fraction")
    # Clearly above the low range (Tornero: none above 45 U/L against a lower limit of 35).
    clear = ctx.kb.param("low_earlier_normal_min_fraction")
    lows: list[tuple[datetime, str]] = []
    not_low: list[tuple[datetime, str]] = []
    statuses: list[tuple[datetime, str, str]] = []  # (time, status, key)
    values: dict[str, float] = {}  # key -> U/L, for how long a raised ALP has held steady
    limits: dict[str, float] = {}  # key -> the upper limit that applied to it (U/L)
    change_since = ctx.when - timedelta(days=ctx.kb.param("alp_change_window_days"))
    change_base: tuple[datetime, float, str, str] | None = None  # the change is measured on it
    window: list[tuple[datetime, str, float, str, str]] = []
    low_since = ctx.when - timedelta(days=lookback)
    # The change is measured over a longer window than the low and first-raised history reads
    # (eleventh round: an ALP 400 days back is as good a baseline as one 300 days back).
    for obs, key, obs_time, earlier_ul, interval in ctx.earlier_alps(
        current, min(low_since, change_since)
    ):
        if obs_time >= change_since and (change_base is None or obs_time > change_base[0]):
            change_base = (obs_time, earlier_ul, key, _shown(obs))
        if obs_time < low_since:
            continue
        earlier_status = _status(earlier_ul, interval) if interval else "unknown"
        statuses.append((obs_time, earlier_status, key))
        values[key] = earlier_ul
        if interval and interval.high:
            limits[key] = interval.high
        if earlier_status == "low":
            lows.append((obs_time, key))
        elif interval and interval.low is not None and earlier_ul > interval.low * clear:
            not_low.append((obs_time, key))
        if obs_time >= trend_since:
            window.append((obs_time, key, earlier_ul, earlier_status, _shown(obs)))
        elif obs_time >= fallback_since and (fallback is None or obs_time > fallback[0]):
            fallback = (obs_time, key, earlier_ul, earlier_status, _shown(obs))
    if status == "high":
        # When this rise began: the first of the unbroken run of raised results before this one
        # (a drug started after it did not cause it).
        rise_since = ctx.when
        # Twentieth round, part C (review 29, R29-36): for a drug's timing, an earlier ALP
        # raised by no more than rise_start_max_xuln, with this one past the stable fraction
        # above it, was not yet the rise (1.06x in October, 2.7x on day 5 of co-amoxiclav).
        drug_rise_since: datetime | None = None
        marginal = ctx.kb.param("rise_start_max_xuln")
        for obs_time, earlier_status, key in sorted(statuses, reverse=True):
            if earlier_status != "high":
                break
            if (
                drug_rise_since is None
                and key in limits
                and values[key] <= limits[key] * marginal
                and value_ul > values[key] * (1 + stable)
            ):
                drug_rise_since = rise_since
            rise_since = obs_time
        facts.details["rise_since"] = drug_rise_since or rise_since
        # The first raised value of its run: no earlier ALP in the window, or the latest
        # earlier one not raised (a mild first rise is repeated before it is worked up).
        last = max(statuses, default=None)
        facts.set("alp.first_raised", rise_since == ctx.when, [last[2]] if last else [])
        # Eighteenth round, part G (review 19, R19-62): how long the ALP has been raised and
        # steady, the unbroken run of raised results before this one each within the stable
        # fraction of it (a mild rise unchanged for a year is not a disease in evolution).
        steady_since, steady = ctx.when, []
        for obs_time, earlier_status, key in sorted(statuses, reverse=True):
            if earlier_status != "high" or abs(value_ul - values[key]) > stable * value_ul:
                break
            steady_since = obs_time
            steady.append(key)
        facts.set("alp.stable_raised_days", (ctx.when - steady_since).days, steady)
    else:
        facts.set("alp.first_raised", False)
        facts.set("alp.stable_raised_days", None)
    if change_base is not None and change_base[1] > 0:
        base_time, base_ul, base_key, base_shown = change_base
        facts.set("alp.rise_from_previous", round(value_ul / base_ul - 1, 3), [base_key])
        facts.set("alp.previous_change_shown", f"{base_shown} on {day(base_time)}")
    else:
        facts.set("alp.rise_from_previous", None)
        facts.set("alp.previous_change_shown", None)
    # Eighteenth round, part E (review 19, R19-29): the latest earlier normal ALP, so a rise from
    # it within weeks is read as acute (AMA for PBC waits).
    normals = [(t, k) for t, s, k in statuses if s == "normal"]
    if normals:
        normal_time, normal_key = max(normals)
        ago = round((ctx.when - normal_time).total_seconds() / 86400, 1)
        facts.set("alp.normal_days_ago", ago, [normal_key])
        facts.set("alp.normal_date", day(normal_time), [normal_key])
    else:
        facts.set("alp.normal_days_ago", None)
        facts.set("alp.normal_date", None)
    lows.sort()
    persistent = [k for t, k in lows if t <= ctx.when - persistence]
    facts.set("alp.earlier_lows", len(lows), [k for _, k in lows])
    facts.set("alp.persistent_low", bool(persistent), persistent)
    facts.set("alp.earlier_low_date", day(lows[0][0]) if lows else None)
    not_low.sort()
    # Only a normal value before every low counts (normal, then lows): a low before it makes
    # the normal one the outlier (a fracture, pregnancy), not the lows.
    before_lows = [n for n in not_low if not lows or n[0] < lows[0][0]]
    facts.set("alp.earlier_not_low", bool(before_lows), [k for _, k in before_lows[-1:]])
    facts.set("alp.earlier_not_low_date", day(before_lows[-1][0]) if before_lows else None)
    if (
        not window
        and fallback is not None
        and fallback[3] == status
        and abs(value_ul - fallback[2]) <= stable * value_ul
    ):
        # Only to call it stable: a value that has changed since stays "first" (its first-value
        # card, as before), never quieter, nor a rise read against a year-old baseline.
        window = [fallback]
    if not window:
        facts.set("alp.trend", "first")
        facts.set("alp.previous_days_ago", None)
        return
    window.sort()
    latest = window[-1]
    facts.set("alp.previous", f"{latest[4]} on {day(latest[0])}", [latest[1]])
    facts.set("alp.previous_days_ago", (ctx.when - latest[0]).days, [latest[1]])
    within = all(abs(value_ul - v) <= stable * value_ul for _, _, v, _, _ in window)
    if within and latest[3] == status:
        trend = "stable"
        facts.details["stable_since"] = window[0][0]
    else:
        trend = "rising" if value_ul > latest[2] else "falling"
    facts.set("alp.trend", trend, [k for _, k, _, _, _ in window])


ANTIRESORPTIVE = "antiresorptive"
"""The finding whose medication value sets are the antiresorptives (bisphosphonates, denosumab)."""


def _only_pending_orders(ctx: _Context, finding: Finding) -> bool:
    """Every recorded antiresorptive course is an open order (MedicationRequest, active)
    written within antiresorptive_order_pending_days before the ALP, and none is recorded as
    taken or given (a statement, an administration, a dose filed as a procedure, or a completed
    order): the first dose is still to come."""
    window = timedelta(days=ctx.kb.param("antiresorptive_order_pending_days"))
    entries = {
        entry.key: entry
        for source in finding.sources
        if source.kind == "medications"
        for entry in ctx.classified.in_valueset("medications", source.valueset)
    }
    if not entries:
        return False
    for entry in entries.values():
        resource = entry.resource
        if resource.get("resourceType") != "MedicationRequest" or not entry.active:
            return False
        authored = medication_start(resource)
        if authored is None or not ctx.when - window <= authored <= ctx.when:
            return False
    return True


def _before_antiresorptive(ctx: _Context, facts: Facts, current: str) -> None:
    """The ALP from before a bisphosphonate or denosumab was started: already low then is the
    hypophosphatasia signal (the drug is not its cause); clearly normal then, a mild low on the
    drug is the drug's expected effect (it lowers bone turnover). The start is the earliest
    recorded start of any course that was taken (active or ended), whatever its end; an ALP on
    that day counts as before it (the baseline drawn when it was prescribed)."""
    finding = ctx.kb.findings.get(ANTIRESORPTIVE)
    if finding is None:
        return
    starts = [
        (started, entry.key)
        for source in finding.sources
        if source.kind == "medications"
        for entry in ctx.classified.in_valueset("medications", source.valueset)
        if (entry.active or entry.ended)
        and (started := medication_start(entry.resource)) is not None
    ]
    if not starts:
        return
    start, start_key = min(starts)
    facts.set("antiresorptive.started", day(start), [start_key])
    facts.set("antiresorptive.years", max(0, (ctx.when - start).days) // 365, [start_key])
    # Review 19, R19-30: a course first prescribed with this result has had no dose, so the
    # moment to hold it for a hypophosphatasia work-up is now; the rebound that makes stopping
    # denosumab dangerous follows doses already given. Review 25, R25-03: an order written days
    # before the result, with nothing recorded as taken or given, has had no dose either.
    not_yet_given = start.date() >= ctx.when.date() or _only_pending_orders(ctx, finding)
    facts.set("antiresorptive.not_yet_given", not_yet_given, [start_key])
    clear = ctx.kb.param("low_earlier_normal_min_fraction")
    before: list[tuple[datetime, str, str, str]] = []  # (time, key, status, shown)
    for obs, key, obs_time, earlier_ul, interval in ctx.earlier_alps(current):
        if obs_time.date() > start.date() or interval is None or interval.low is None:
            continue
        if earlier_ul < interval.low:
            status = "low"
        elif earlier_ul > interval.low * clear:
            status = "normal"
        else:
            status = "borderline"
        before.append((obs_time, key, status, f"{_shown(obs)} on {day(obs_time)}"))
    if not before:
        return
    before.sort()
    lows = [b for b in before if b[2] == "low"]
    chosen = lows[-1] if lows else before[-1]
    facts.set("alp.before_antiresorptive", chosen[2], [chosen[1], start_key])
    facts.set("alp.before_antiresorptive_shown", chosen[3], [chosen[1]])


def _pregnancy(ctx: _Context, facts: Facts) -> None:
    age_years = ctx.age_days / DAYS_PER["a"] if ctx.age_days is not None else None
    found = pregnancy.assess(ctx.kb, ctx.classified, ctx.when, ctx.sex, age_years)
    keys = [line.split(":")[0] for line in found.evidence]
    facts.set("pregnancy.status", found.status, keys)
    facts.set("pregnancy.trimester", found.trimester, keys)
    facts.set("pregnancy.weeks", found.weeks, keys)
    if found.weeks is not None:
        whole, days = divmod(round(found.weeks * 7), 7)
        facts.set("pregnancy.gestation", f"{whole}+{days} weeks", keys)
    if found.delivered is not None:
        shown = day(found.delivered)
        if found.estimated_from:
            # Sixteenth round (review 13, item 46): estimated from a term weeks code.
            weeks, stated = found.estimated_from
            shown = f"about {shown} (from {weeks:g} weeks on {day(stated)})"
        facts.set("pregnancy.delivered", shown, keys)
        since = max(0, (ctx.when - found.delivered).days)
        facts.set("pregnancy.days_since_delivery", since, keys)
    if found.ended is not None:
        facts.set("pregnancy.days_since_end", max(0, (ctx.when - found.ended).days), keys)
    if found.postnatal is not None:
        facts.set("pregnancy.days_since_postnatal", max(0, (ctx.when - found.postnatal).days), keys)
    facts.details["pregnancy"] = found.evidence


FASTING = {"F": "fasting", "NF": "non-fasting", "NG": "unknown"}


def _fasting(ctx: _Context, facts: Facts, alp: Resource) -> None:
    link = alp.get("specimen")
    kind, ident = reference_parts(link) if isinstance(link, Mapping) else (None, None)
    specimen = None
    if ident and isinstance(link, Mapping) and str(link.get("reference", "")).startswith("#"):
        specimen = next(
            (
                c
                for c in as_list(alp.get("contained"))
                if isinstance(c, Mapping) and c.get("id") == ident
            ),
            None,
        )
    elif ident:
        specimen = ctx.record.find(kind or "Specimen", ident)
    status = "unknown"
    evidence = []
    collection = specimen.get("collection") if isinstance(specimen, Mapping) else None
    if isinstance(collection, Mapping):
        for coding in codings(collection.get("fastingStatusCodeableConcept")):
            status = FASTING.get(str(coding.get("code")), status)
        duration = collection.get("fastingStatusDuration")
        amount = finite(duration.get("value")) if isinstance(duration, Mapping) else None
        if amount is not None and isinstance(duration, Mapping):
            unit = str(duration.get("code") or duration.get("unit") or "h")
            hours = amount * {"min": 1 / 60, "h": 1, "d": 24}.get(unit, 1)
            status = "fasting" if hours >= 8 else "non-fasting"
        evidence = [resource_key(specimen)] if specimen else []
    facts.set("specimen.fasting", status, evidence)


def _ggt(ctx: _Context, facts: Facts) -> None:
    window = ctx.kb.param("ggt_lookback_days")
    ggt = ctx.reading(["ggt"], "ggt", window, age_appropriate=True)
    if ggt is None:
        ggt = ctx.reading(["five-nucleotidase"], "five-nucleotidase", window, age_appropriate=True)
    older = False
    stable_since = facts.details.get("stable_since")
    if ggt is None and stable_since is not None:
        # An older GGT still tells the source while the ALP has not changed since it was drawn.
        days = ctx.kb.param("ggt_stable_lookback_days")
        candidate = ctx.reading(["ggt", "five-nucleotidase"], "ggt", days, age_appropriate=True)
        slack = timedelta(hours=ctx.tolerance)
        if candidate and candidate.when and candidate.when >= stable_since - slack:
            ggt, older = candidate, True
    if ggt is None:
        facts.set("ggt.status", "absent")
        return
    facts.set("ggt.value", ggt.shown, [ggt.key])
    facts.set("ggt.date", day(ggt.when) if ggt.when else None, [ggt.key])
    facts.set("ggt.older", older, [ggt.key])
    status = ggt.status
    if ggt.high and ggt.value == ggt.value:
        xuln = ggt.value / ggt.high
        facts.set("ggt.xuln", round(xuln, 3), [ggt.key])
        # Rounded so that 0.9 and 1.1 times the limit fall inside a 10% band despite binary floats.
        if round(abs(xuln - 1), 6) <= ctx.kb.param("ggt_borderline_fraction"):
            status = "borderline"
    facts.set("ggt.status", status, [ggt.key])


def _liver_panel(ctx: _Context, facts: Facts) -> None:
    days = ctx.kb.param("liver_panel_window_days")
    alt = ctx.reading(["alt"], "alt", days, age_appropriate=True)
    ast = ctx.reading(["ast"], "ast", days, age_appropriate=True)
    # Code review 17, F2: the total bilirubin of the ALP's own draw first (the Wilson ratio and
    # the direct fraction pair values drawn together), then the freshest.
    bili = ctx.reading(["bilirubin-total"], "bilirubin-total", days, draw=ctx.when)
    inr = ctx.reading(["inr"], "inr", days)
    alp_ul = facts.details["alp_ul"]
    facts.set("alt.status", alt.status if alt else "absent", [alt.key] if alt else [])
    facts.set("ast.status", ast.status if ast else "absent", [ast.key] if ast else [])
    injured = [r.key for r in (alt, ast) if r and r.status == "high"]
    facts.set("liver.injury", bool(injured), injured)
    pattern = "unknown"
    if alt and alt.high and alt.value == alt.value and alp_ul > 0:
        alt_x = alt.value / alt.high
        facts.details["alt_ul"] = alt.value
        facts.set("alt.xuln", round(alt_x, 3), [alt.key])
        r_ratio = alt_x / (alp_ul / facts.details["alp_uln"])
        facts.set("liver.r_ratio", round(r_ratio, 3), [alt.key, facts.details["alp_reference"]])
        if r_ratio <= ctx.kb.param("r_ratio_cholestatic_max"):
            pattern = "cholestatic"
        elif r_ratio >= ctx.kb.param("r_ratio_hepatocellular_min"):
            pattern = "hepatocellular"
        else:
            pattern = "mixed"
    facts.set("liver.pattern", pattern, [alt.key] if alt else [])
    _pregnancy_pattern(ctx, facts, pattern, alt.key if alt else None)
    # Twelfth round: Tokyo 2018 counts AST above 1.5x its limit as cholestasis (B-2) too.
    if ast and ast.high and ast.value == ast.value:
        facts.set("ast.xuln", round(ast.value / ast.high, 3), [ast.key])
    # Twentieth round, part C (R29-35): Tennessee and Mississippi state AST in U/L.
    if ast and ast.value == ast.value:
        facts.set("ast.value_ul", round(ast.value, 1), [ast.key])
        facts.set("ast.shown", ast.shown, [ast.key])
    if bili is None:
        facts.set("bilirubin.status", "absent")
    else:
        facts.set("bilirubin.status", bili.status, [bili.key])
        if bili.value == bili.value:
            facts.set("bilirubin.value_mgdl", round(bili.value, 2), [bili.key])
            facts.set("bilirubin.shown", bili.shown, [bili.key])
        if bili.high and bili.value == bili.value:
            facts.set("bilirubin.xuln", round(bili.value / bili.high, 3), [bili.key])
    _bilirubin_trend(ctx, facts, bili)
    _bilirubin_fraction(ctx, facts, bili, days)
    # The Wilson ratios were derived on values drawn together (Korman 2008): co-resulted only.
    if bili and bili.together and bili.value == bili.value and bili.value > 0:
        facts.set("wilson.alp_bilirubin_ratio", round(alp_ul / bili.value, 3), [bili.key])
    if (
        alt and ast and alt.together and ast.together
        and alt.value and alt.value == alt.value and ast.value == ast.value
    ):  # fmt: skip
        facts.set("wilson.ast_alt_ratio", round(ast.value / alt.value, 3), [ast.key, alt.key])
    if inr and inr.value == inr.value:
        facts.set("inr.value", _fmt(inr.value, 1), [inr.key])
        facts.set("inr.level", inr.value, [inr.key])
        facts.set("inr.raised", inr.value >= ctx.kb.param("alf_inr_min"), [inr.key])
        facts.set("inr.status", inr.status, [inr.key])
        facts.set("inr.with_alp", inr.together, [inr.key])
    _transaminase_trend(ctx, facts, alt, ast, days)


def _pregnancy_pattern(ctx: _Context, facts: Facts, pattern: str, alt_key: str | None) -> None:
    """Twenty-first round, part H (review 34, R34-41, unsafe): after placental ALP has risen
    (from placental_alp_pattern_min_weeks, or a coded third trimester) and in the first week after
    delivery, an R ratio on the total ALP calls a hepatocellular injury (acute fatty liver, HELLP,
    hepatitis) cholestatic. The ALT alone is then set against its upper limit (R = ALT
    multiple); the GGT, read by the lines beside it, tells the liver's cholestasis."""
    weeks = facts.get("pregnancy.weeks")
    late = facts.get("pregnancy.status") == "pregnant" and (
        (
            isinstance(weeks, float | int)
            and weeks >= ctx.kb.param("placental_alp_pattern_min_weeks")
        )
        or (weeks is None and facts.get("pregnancy.trimester") == "third")
    )
    since_end = facts.get("pregnancy.days_since_end")
    postpartum = isinstance(since_end, int) and since_end <= ctx.kb.param(
        "postpartum_first_week_days"
    )
    alt_x = facts.get("alt.xuln")
    if not (late or postpartum) or not isinstance(alt_x, float) or alt_key is None:
        facts.set("liver.pattern_pregnancy", pattern, [alt_key] if alt_key else [])
        return
    # The ALP is taken as placental (its liver share at the limit): R is the ALT multiple. A GGT
    # ratio was tried and called an ALT of 13x with a GGT of 6x cholestatic (R31-43's bloods);
    # the lines read the GGT themselves for the liver's cholestasis.
    r_ratio = alt_x
    # Twenty-first round, part K (review 36, R36-49): a GGT at or above the ALT multiple says the
    # liver's own cholestasis (gallstones with GGT 7.5x and ALT 6.5x is a duct stone, not a
    # hepatitis): R is then the ALT multiple over the GGT's. R31-43 (ALT 13x, GGT 6x) stays
    # hepatocellular.
    ggt_x = facts.get("ggt.xuln")
    if isinstance(ggt_x, float | int) and ggt_x > 1 and ggt_x >= alt_x:
        r_ratio = alt_x / ggt_x
    # Twenty-second round, part C (review 38, R38-02): in pregnancy a GGT measured and normal
    # with the ALT raised leaves the liver no cholestasis of its own: the ALP is the placenta's,
    # and an ALT of 2.25x with a GGT of 30 was called mixed and sent for a duct-stone
    # ultrasound. The pattern is hepatocellular; cholestasis of pregnancy (a normal GGT is its
    # usual picture) is told by the bile acids, which the card then asks for first.
    if (
        facts.get("pregnancy.status") == "pregnant"
        and facts.get("ggt.status") == "normal"
        and alt_x > 1
    ):
        ggt_keys = facts.values["ggt.status"].evidence
        facts.set("liver.pattern_pregnancy", "hepatocellular", [alt_key, *ggt_keys])
        return
    if r_ratio <= ctx.kb.param("r_ratio_cholestatic_max"):
        placental = "cholestatic"
    elif r_ratio >= ctx.kb.param("r_ratio_hepatocellular_min"):
        placental = "hepatocellular"
    else:
        placental = "mixed"
    facts.set("liver.pattern_pregnancy", placental, [alt_key])


def _bilirubin_trend(ctx: _Context, facts: Facts, bili: Reading | None) -> None:
    """Fourteenth round, part F (review 14, N19, N44, N18): a bilirubin raised now against the
    one before it (another draw, at most bilirubin_earlier_window_days earlier). A new or rising
    bilirubin is a complication (a stricture, a blocked stent, rejection, decompensation) that
    no stable or explained ALP may silence; ALP lags bilirubin in acute obstruction."""
    facts.set("bilirubin.earlier", None, [])
    facts.set("bilirubin.earlier_days", None, [])
    if bili is None or bili.status != "high" or not math.isfinite(bili.value):
        facts.set("bilirubin.trend", "not raised", [bili.key] if bili else [])
        return
    days = ctx.kb.param("bilirubin_earlier_window_days")
    convert = ctx.converter("bilirubin-total")
    before = ctx.earlier(["bilirubin-total"], convert, bili, days)
    if before is None or before.when is None:
        # Fifteenth round (review 15, P28 and P05): a first bilirubin, or one whose predecessor
        # is past the window, at the level of visible jaundice is a new jaundice as far as the
        # record can tell: no quiet rule may take it for the known disease.
        value = facts.get("bilirubin.value_mgdl")
        if isinstance(value, float) and value >= ctx.kb.param("jaundice_min_bilirubin_mg_dl"):
            facts.set("bilirubin.earlier", f"none in the last {days:g} days", [])
            facts.set("bilirubin.trend", "jaundiced", [bili.key])
        else:
            facts.set("bilirubin.trend", "first", [bili.key])
        return
    keys = [bili.key, before.key]
    facts.set("bilirubin.earlier", f"{before.shown} on {day(before.when)}", [before.key])
    if bili.when is not None:
        gap = (bili.when - before.when).total_seconds() / 86400
        facts.set("bilirubin.earlier_days", round(gap, 2), [before.key])
    # The earlier result is judged against the interval that applied to it (its lab's range,
    # else the table's); without one, against this result's upper limit.
    entry = ctx.classified.observation("bilirubin-total", before.key)
    high = bili.high
    if entry is not None:
        interval, _ = choose_interval(
            entry.resource,
            convert,
            ctx.kb.intervals.get("bilirubin-total"),
            ctx.sex,
            age_days_at(ctx.record.patient, before.when),
            0,
            ctx.adult_age,
        )
        if interval is not None and interval.high is not None:
            high = interval.high
    if high is not None and before.value <= high:
        trend = "new"
    elif bili.value >= (1 + ctx.kb.param("bilirubin_rising_min_fraction")) * before.value:
        trend = "rising"
    elif before.value >= (1 + ctx.kb.param("bilirubin_rising_min_fraction")) * bili.value:
        # Sixteenth round (review 15, N17): the same change past day-to-day variation, the
        # other way: after a drainage, a bilirubin falling is the drainage working.
        trend = "falling"
    else:
        trend = "not rising"
    facts.set("bilirubin.trend", trend, keys)


def _bilirubin_fraction(ctx: _Context, facts: Facts, bili: Reading | None, days: float) -> None:
    """Sixteenth round (review 13, item 49): a raised total bilirubin read with the direct
    bilirubin of its own draw. A normal direct bilirubin, or one under a fifth of the total, is
    an unconjugated rise (Gilbert syndrome, haemolysis), not obstruction; a conjugated one is
    cholestasis or liver disease whatever Gilbert syndrome or haemolysis the record holds."""
    facts.set("bilirubin.direct", None, [])
    if bili is None or bili.status != "high" or not math.isfinite(bili.value) or bili.value <= 0:
        facts.set("bilirubin.fraction", "not raised", [bili.key] if bili else [])
        return
    # Code review 17, F2: the direct bilirubin of the total's own draw, not the freshest.
    direct = ctx.reading(["bilirubin-direct"], "bilirubin-direct", days, draw=bili.when)
    gap = timedelta(hours=ctx.kb.param("same_draw_hours"))
    if (
        direct is None
        or not math.isfinite(direct.value)
        or direct.when is None
        or bili.when is None
        or abs(direct.when - bili.when) > gap
    ):
        facts.set("bilirubin.fraction", "unknown", [bili.key])
        return
    share = direct.value / bili.value
    keys = [bili.key, direct.key]
    facts.set("bilirubin.direct", f"{direct.shown}, {share:.0%} of the total", [direct.key])
    low_share = share < ctx.kb.param("conjugated_bilirubin_min_fraction")
    conjugated = direct.status == "high" and not low_share
    # Without a range for the direct bilirubin (a lab's none, under a year old) the share alone.
    if direct.status == "unknown":
        conjugated = not low_share
    facts.set("bilirubin.fraction", "conjugated" if conjugated else "unconjugated", keys)


def _transaminase_trend(
    ctx: _Context, facts: Facts, alt: Reading | None, ast: Reading | None, days: float
) -> None:
    """Whether the raised ALT or AST is settling: each against its own result before it (from
    another draw, at most `days` earlier). After delivery a falling ALT is resolving cholestasis
    of pregnancy or pre-eclampsia, where a rising one can be HELLP."""
    fraction = ctx.kb.param("transaminase_falling_min_fraction")
    trends: list[str] = []
    keys: list[str] = []
    for reading, valueset in ((alt, "alt"), (ast, "ast")):
        if reading is None or reading.status != "high":
            continue
        keys.append(reading.key)
        before = ctx.earlier([valueset], ctx.converter(valueset), reading, days)
        if before is None:
            trends.append("first")
            continue
        keys.append(before.key)
        if reading.value <= (1 - fraction) * before.value:
            trends.append("falling")
        elif reading.value > before.value:
            trends.append("rising")
        else:
            trends.append("unchanged")
    # Each raised one must be falling for the whole to be: a rise, or one not comparable, wins.
    order = ("rising", "first", "unchanged", "falling")
    trend = next((t for t in order if t in trends), "not raised")
    facts.set("transaminases.trend", trend, keys)


def _set_shown(facts: Facts, name: str, reading: Reading) -> None:
    """`<name>.shown`: the reading as a card names it, with its day when the record has one."""
    when = f", {day(reading.when)}" if reading.when else ""
    facts.set(f"{name}.shown", f"{reading.shown}{when}", [reading.key])


def _swansea_shown(ctx: _Context, facts: Facts) -> None:
    """Twenty-first round, part K (review 36, finding 12): the Swansea values past their limits
    (glucose, INR, creatinine), named as the acute fatty liver summary says them."""
    shown: list[str] = []
    keys: list[str] = []
    glucose = facts.get("glucose.lowest_mmol_l")
    if isinstance(glucose, float | int) and glucose < ctx.kb.param("aflp_glucose_below_mmol_l"):
        shown.append(f"glucose {_fmt(glucose, 1)}")
        keys += facts.values["glucose.lowest_mmol_l"].evidence
    inr = facts.get("inr.level")
    if isinstance(inr, float | int) and inr > ctx.kb.param("aflp_inr_above"):
        shown.append(f"INR {_fmt(inr, 1)}")
        keys += facts.values["inr.level"].evidence
    creatinine = facts.get("creatinine.highest_umol_l")
    if isinstance(creatinine, float | int) and creatinine > ctx.kb.param(
        "aflp_creatinine_above_umol_l"
    ):
        shown.append(f"creatinine {creatinine:.0f}")
        keys += facts.values["creatinine.highest_umol_l"].evidence
    facts.set("swansea.shown", ", ".join(shown) if shown else None, keys)


def _hellp_labs(ctx: _Context, facts: Facts) -> None:
    """Platelets and LDH for the HELLP criteria (Tennessee, Mississippi): the lowest count and
    the highest LDH in the liver-panel window, each in the unit the criteria use."""
    days = ctx.kb.param("liver_panel_window_days")
    platelets = ctx.all_readings("platelets", days)
    lowest = min(platelets, key=lambda r: r.value, default=None)
    with_alp = [r.key for r in platelets if r.together]
    facts.set("platelets.with_alp", bool(with_alp), with_alp)
    if lowest is not None:
        facts.set("platelets.lowest", round(lowest.value, 1), [lowest.key])
        _set_shown(facts, "platelets", lowest)
    ldh = max(ctx.all_readings("ldh", days), key=lambda r: r.value, default=None)
    if ldh is not None:
        facts.set("ldh.highest", round(ldh.value, 1), [ldh.key])
        _set_shown(facts, "ldh", ldh)
    # Twelfth round: a creatinine already resulted is named by its value, not asked for again.
    creatinine = max(
        ctx.all_readings("creatinine", days), key=lambda r: r.when or ctx.when, default=None
    )
    if creatinine is not None:
        _set_shown(facts, "creatinine", creatinine)
        # Part L (review 37, R37-66): judged against its range (all_readings does not judge).
        status = ctx.judge("creatinine", creatinine.key)
        facts.set("creatinine.status", status, [creatinine.key])
        # Twenty-second round, part C (review 38, R38-31): a summary names it in umol/L.
        if math.isfinite(creatinine.value):
            umol = f"{creatinine.value * CREATININE_UMOL_PER_MG_DL:.0f}"
            facts.set("creatinine.value_umol_l", umol, [creatinine.key])
    # Twenty-first round, part H (review 34, R34-41): the Swansea criteria of acute fatty liver
    # of pregnancy read the highest creatinine (umol/L; units.yaml keeps mg/dL) and the lowest
    # glucose.
    highest = max(ctx.all_readings("creatinine", days), key=lambda r: r.value, default=None)
    if highest is not None:
        facts.set(
            "creatinine.highest_umol_l",
            round(highest.value * CREATININE_UMOL_PER_MG_DL, 1),
            [highest.key],
        )
    glucose = min(ctx.all_readings("glucose", days), key=lambda r: r.value, default=None)
    if glucose is not None:
        facts.set("glucose.lowest_mmol_l", round(glucose.value, 2), [glucose.key])
        _set_shown(facts, "glucose", glucose)
        facts.set("glucose.lowest_value", _fmt(glucose.value, 1), [glucose.key])
    _swansea_shown(ctx, facts)
    # Twelfth round: a consumed fibrinogen tells sepsis-associated DIC from a thrombotic
    # microangiopathy (clotting normal in TTP and HUS), read beside the INR.
    fibrinogen = min(ctx.all_readings("fibrinogen", days), key=lambda r: r.value, default=None)
    if fibrinogen is not None:
        facts.set("fibrinogen.lowest", round(fibrinogen.value, 2), [fibrinogen.key])
        _set_shown(facts, "fibrinogen", fibrinogen)


def _alp_adult_row(kb: KnowledgeBase, age_days: float | None, sex: str | None) -> bool | None:
    """Nineteenth round, part H (review 24, R24-25): whether the ALP table's upper limit for this
    age and sex is already the adult one (the open-ended rows'), so that growth cannot explain a
    raised ALP: a girl of 17 has the adult limit, a boy of 17 does not (Mayo's table)."""
    table = kb.intervals.get("alp")
    if table is None or age_days is None:
        return None
    starts = [r.age_from.days for r in table.rows if r.age_to is None and r.age_from]
    if not starts:
        return None
    row = table.lookup(age_days, sex)
    adult = table.lookup(max(max(starts), age_days), sex)
    if row is None or adult is None:
        return None
    return row[1] <= adult[1]


def _bone_labs(ctx: _Context, facts: Facts) -> None:
    days = ctx.kb.param("bone_labs_lookback_days")
    for name, valueset in (
        ("pth", "pth"),
        ("phosphate", "phosphate"),
        ("bile_acids", "bile-acids"),
    ):
        found = ctx.reading([valueset], valueset, days)
        status, note = (found.status if found else "absent"), None
        table = ctx.kb.intervals.get(valueset)
        if found and found.lab_low is not None and table and ctx.child and status != "low":
            # An adult range sent for a child hides a low phosphate: the age row's lower limit.
            row = table.lookup(ctx.age_days or 0, ctx.sex)
            adult = table.lookup(ctx.adult_age * DAYS_PER["a"], ctx.sex)
            margin = 1 + ctx.kb.param("child_adult_range_margin")
            if row and adult and found.lab_low <= adult[0] * margin and found.value < row[0]:
                status = "low"
                note = f"below {row[0]:g} {table.unit} (age {row[2]}); an adult range was sent"
        facts.set(f"{name}.status", status, [found.key] if found else [], note)
        if name == "pth":
            # Its multiple of the lab's upper limit: KDIGO's targets on dialysis are multiples
            # of the assay's limit, whatever the unit (review 16, P07).
            xuln = found.value / found.high if found and found.high else None
            facts.set("pth.xuln", round(xuln, 2) if xuln else None, [found.key] if found else [])
            if found:
                _set_shown(facts, "pth", found)
        if name == "phosphate":
            # Eighteenth round, part G (review 19, R19-63): a card names the phosphate it has
            # rather than asking for it, and the preterm bone rule judges it against a fixed
            # molar threshold (Backstrom 2000: under 1.8 mmol/L), whatever the lab's range.
            facts.set(
                "phosphate.mmol_l", _phosphate_mmol_l(table, found), [found.key] if found else []
            )
            if found:
                _set_shown(facts, "phosphate", found)
        if found:
            facts.details[f"{name}_shown"] = (
                f"{found.shown} on {day(found.when)}" if found.when else found.shown
            )
    vitd = ctx.reading(["vitamin-d"], "vitamin-d", days)
    if vitd is None:
        facts.set("vitamin_d.status", "absent")
        facts.set("vitamin_d.nmol_l", None)
        facts.set("vitamin_d.value_shown", None)
        return
    status = vitd.status
    # The value is in nmol/L (its interval table's unit, converted through units.yaml), or NaN
    # when its unit is not one listed there; one sent without a unit ("34", shown with no unit)
    # is never judged deficient by the fixed limit (ng/mL and nmol/L differ 2.5-fold).
    with_unit = " " in vitd.shown
    nmol = vitd.value if with_unit else float("nan")
    if nmol == nmol and nmol < ctx.kb.param("vitamin_d_deficiency_nmol_l"):
        status = "deficient"
    facts.set("vitamin_d.status", status, [vitd.key])
    facts.set("vitamin_d.nmol_l", nmol if nmol == nmol else None, [vitd.key])
    facts.details["vitamin_d_shown"] = vitd.shown
    facts.set("vitamin_d.value_shown", vitd.shown, [vitd.key])
    facts.set("vitamin_d.shown", f"{vitd.shown}, {day(vitd.when)}" if vitd.when else vitd.shown)


def _phosphate_mmol_l(table: IntervalTable | None, found: Reading | None) -> float | None:
    """The phosphate in mmol/L: the reading is in its table's unit (mg/dL), converted back by
    the table's own mmol/L factor; None when absent, not a number, or no factor is kept."""
    if found is None or found.value != found.value or table is None:
        return None
    factor = table.conversions.get(UnitTable.fold("mmol/L"))
    if table.unit == "mmol/L":
        factor = 1.0
    return round(found.value / factor, 2) if factor else None


def _bile_acids_peak(ctx: _Context, facts: Facts) -> None:
    """RCOG 2022 diagnoses intrahepatic cholestasis of pregnancy at a peak random total bile
    acid of 19 umol/L and calls it severe from 100: the highest result in the window, in umol/L,
    for rules to judge against those fixed thresholds (a lab's own upper limit, often 10 or 14,
    would call ICP too soon). A result in another unit is not converted, so it is not read: the
    latest such result in the window is kept as it was reported, for a card to name (it could be
    cholestasis of pregnancy, so never reassured as placental). The units read, and their
    factors, are the knowledge base's (units.yaml `analytes`: umol/L, uM, mmol/L...)."""
    days = ctx.kb.param("bile_acids_peak_days")
    units = ctx.kb.analyte_units["bile-acids"]
    peak: tuple[float, str, datetime | None, str] | None = None
    unread: list[tuple[datetime | None, str, str]] = []
    for entry in ctx.classified.observations_in(["bile-acids"]):
        obs, key, obs_time = entry.resource, entry.key, entry.time
        # A result sent as text (">100") is not "active" (no number), yet it may be the one
        # that matters: only a withdrawn or absent result is passed over.
        if as_str(obs.get("status")) in UNUSABLE_STATUSES or obs.get("dataAbsentReason"):
            continue
        if not (ctx.together(key, obs_time) or _within(obs_time, ctx.when, days, ctx.tolerance)):
            continue
        # A result sent as text (">100 umol/L") reads as its number: at least 100, graded as
        # 100; with no unit it is in umol/L (the table's unit).
        reported = numeric_value(obs)
        value = measured(obs, units.convert) if reported is not None else None
        text_only = "valueQuantity" not in obs and not unit_of(obs)
        if value is None and reported is not None and text_only:
            value = units.convert(reported, None, units.unit)
        if value is None:
            raw = _shown(obs) if reported is not None else as_str(obs.get("valueString"))
            if raw:
                unread.append((obs_time, key, raw))
            continue
        if peak is None or value > peak[0]:
            sent = _shown(obs)
            if value != reported:
                # Converted (0.045 mmol/l): the card's thresholds are in umol/L, so it shows
                # the value in umol/L and, beside it, what the lab sent (tenth round, W2).
                bound = as_str((result_quantity(obs) or {}).get("comparator")) or ""
                sent = f"{bound}{value:g} {units.unit} ({sent.strip()})"
            peak = (value, key, obs_time, sent)
    if unread:
        when, unread_key, raw = max(unread, key=lambda u: u[0].timestamp() if u[0] else -1e12)
        facts.set("bile_acids.unread", f"{raw}, {day(when)}" if when else raw, [unread_key])
    if peak is None:
        return
    value, key, obs_time, shown = peak
    facts.set("bile_acids.peak_umol_l", value, [key])
    facts.set("bile_acids.peak", f"{shown}, {day(obs_time)}" if obs_time else shown, [key])
    facts.set("bile_acids.peak_value", shown.strip(), [key])


def _electrolytes(ctx: _Context, facts: Facts) -> None:
    for name, valueset in (("potassium", "potassium"), ("calcium", "calcium")):
        # Code review 17, F2: the potassium is read only as EDTA's marker in the ALP's own
        # sample (alp-low-sample-artefact), so that draw's comes first; the calcium, which the
        # calcium warnings read too, stays the freshest of the day.
        draw = ctx.when if name == "potassium" else None
        found = ctx.reading([valueset], valueset, 0, co_resulted_only=True, draw=draw)
        facts.set(
            f"{name}.status", found.status if found else "absent", [found.key] if found else []
        )
        if name == "potassium":
            number = found.value if found and math.isfinite(found.value) else None
            facts.set("potassium.mmol_l", number, _keys(found))
            facts.set("potassium.shown", found.shown if found else None, _keys(found))
            entry = ctx.classified.observation("potassium", found.key) if found else None
            flagged = entry is not None and _flagged_haemolysed(ctx.kb, entry.resource)
            facts.set("potassium.haemolysed", flagged, _keys(found))
        if name == "calcium":
            facts.set("calcium.shown", found.shown if found else None, [found.key] if found else [])
            facts.set("calcium.judged", found.shown if found else None, _keys(found))
            entry = ctx.classified.observation("calcium", found.key) if found else None
            status = as_str(entry.resource.get("status")) if entry is not None else None
            facts.set("calcium.preliminary", status == "preliminary", _keys(found))
            _calcium_level(ctx, facts, found)


def _calcium_level(ctx: _Context, facts: Facts, found: Reading | None) -> None:
    """Thirteenth round (review 13): the co-resulted calcium as a number (mg/dL, the interval
    table's unit; mmol/L converted) for the fixed severity threshold, and the calcium before it
    for the card to name. Fourteenth round, part G (review 14, N03, N02, N05): with an albumin
    taken with it, the albumin-adjusted calcium is the one judged (its status and its number)."""
    for name in (
        "calcium.mg_dl",
        "calcium.earlier",
        "calcium.adjusted",
        "calcium.albumin",
        "calcium.lab_adjusted",
    ):
        facts.set(name, None, [])
    _ionised_calcium(ctx, facts)
    facts.set("calcium.date", day(found.when) if found and found.when else None, _keys(found))
    if _lab_adjusted(ctx, facts, found):
        return
    if found is None or not math.isfinite(found.value):
        return
    facts.set("calcium.mg_dl", round(found.value, 2), [found.key])
    days = ctx.kb.param("bone_labs_lookback_days")
    before = ctx.earlier(["calcium"], ctx.converter("calcium"), found, days)
    if before is not None and before.when is not None:
        facts.set("calcium.earlier", f"{before.shown} on {day(before.when)}", [before.key])
    albumin = _albumin_with(ctx, found)
    entry = ctx.classified.observation("calcium", found.key)
    reported = numeric_value(entry.resource) if entry is not None else None
    unit = unit_of(entry.resource) if entry is not None else ""
    if albumin is None or not reported or not unit:
        return  # a calcium without a unit is judged as sent (its lab's range), not adjusted
    albumin_g_l, albumin_key, albumin_shown = albumin
    kb = ctx.kb
    shift_mmol = kb.param("calcium_albumin_factor_mmol_per_g") * (
        kb.param("calcium_reference_albumin_g_l") - albumin_g_l
    )
    mmol_per_mg_dl = 1 / CALCIUM_MG_DL_PER_MMOL_L
    adjusted = found.value + shift_mmol * CALCIUM_MG_DL_PER_MMOL_L
    # Shown in the unit the lab sent the calcium in, to its precision.
    per_reported = found.value / reported
    in_mmol = abs(per_reported - CALCIUM_MG_DL_PER_MMOL_L) < 0.05
    shown_value = adjusted * mmol_per_mg_dl if in_mmol else adjusted / per_reported
    text = f"{shown_value:.2f} mmol/L" if in_mmol else f"{shown_value:.1f} {unit}"
    keys = [found.key, albumin_key]
    facts.set("calcium.mg_dl", round(adjusted, 2), keys)
    facts.set("calcium.adjusted", text.strip(), keys)
    facts.set("calcium.albumin", albumin_shown, [albumin_key])
    judged = f"{found.shown} (adjusted for albumin {albumin_shown}: {text.strip()})"
    facts.set("calcium.judged", judged, keys)
    if found.high is not None and adjusted > found.high:
        status = "high"
    elif found.low is not None and adjusted < found.low:
        status = "low"
    elif found.high is None and found.low is None:
        status = found.status
    else:
        status = "normal"
    facts.set("calcium.status", status, keys)


def _lab_adjusted(ctx: _Context, facts: Facts, total: Reading | None) -> bool:
    """Sixteenth round, part A (review 15, P09): the laboratory's own albumin-adjusted calcium
    resulted with the ALP is the adjusted calcium: judged against its own range (else the
    calcium table's) and the severe threshold, in preference to one computed here from the
    total and an albumin (the lab knows its albumin method and its formula). The card names the
    total beside it, or the adjusted value alone when no total was sent. False when none."""
    lab = ctx.reading(["calcium-adjusted"], "calcium", 0, co_resulted_only=True)
    if lab is None or not math.isfinite(lab.value):
        return False
    keys = [lab.key, *_keys(total)]
    facts.set("calcium.lab_adjusted", lab.shown, [lab.key])
    facts.set("calcium.adjusted", lab.shown, [lab.key])
    facts.set("calcium.mg_dl", round(lab.value, 2), [lab.key])
    facts.set("calcium.status", lab.status, keys)
    albumin = _albumin_with(ctx, lab)
    if albumin is not None:
        facts.set("calcium.albumin", albumin[2], [albumin[1]])
    reference = lab
    valuesets = ["calcium-adjusted"]
    if total is not None:
        judged = f"{total.shown} (adjusted by the laboratory: {lab.shown})"
        reference, valuesets = total, ["calcium"]
    else:
        # Only the adjusted calcium was sent: it is the calcium the cards name and date.
        judged = f"{lab.shown} (adjusted for albumin by the laboratory)"
        facts.set("calcium.shown", lab.shown, [lab.key])
        facts.set("calcium.date", day(lab.when) if lab.when else None, [lab.key])
    facts.set("calcium.judged", judged, keys)
    days = ctx.kb.param("bone_labs_lookback_days")
    before = ctx.earlier(valuesets, ctx.converter("calcium"), reference, days)
    if before is not None and before.when is not None:
        facts.set("calcium.earlier", f"{before.shown} on {day(before.when)}", [before.key])
    return True


CALCIUM_MG_DL_PER_MMOL_L = 4.008
"""Calcium 40.08 g/mol (intervals/calcium.yaml converts mmol/L with the same factor)."""


def _albumin_with(ctx: _Context, calcium: Reading) -> tuple[float, str, str] | None:
    """The albumin (g/L) taken nearest the calcium, within calcium_albumin_window_hours of it;
    one in a unit not read adjusts nothing."""
    if calcium.when is None:
        return None
    window = timedelta(hours=ctx.kb.param("calcium_albumin_window_hours"))
    convert = ctx.in_unit("albumin")
    best: tuple[timedelta, float, str, str] | None = None
    for entry in ctx.classified.observations_in(["albumin"]):
        if not entry.active or entry.time is None:
            continue
        gap = abs(entry.time - calcium.when)
        if gap > window or (best is not None and gap >= best[0]):
            continue
        value = measured(entry.resource, convert)
        if value is None or not 0 < value < 100:
            continue
        best = (gap, value, entry.key, _shown(entry.resource))
    return best[1:] if best is not None else None


def _ionised_calcium(ctx: _Context, facts: Facts) -> None:
    """Fourteenth round, part G (review 14, N41): an ionised calcium resulted with the ALP
    (often the only calcium of a blood gas), judged by its lab's range and, in mmol/L, against
    the severe ionised threshold."""
    found = ctx.reading(["calcium-ionised"], "calcium-ionised", 0, co_resulted_only=True)
    facts.set("calcium_ionised.status", found.status if found else "absent", _keys(found))
    facts.set("calcium_ionised.shown", found.shown if found else None, _keys(found))
    facts.set("calcium_ionised.mmol_l", None, [])
    when = day(found.when) if found and found.when else None
    facts.set("calcium_ionised.date", when, _keys(found))
    if found is None:
        return
    entry = ctx.classified.observation("calcium-ionised", found.key)
    value = measured(entry.resource, ctx.in_unit("calcium-ionised")) if entry else None
    if value is not None:
        facts.set("calcium_ionised.mmol_l", round(value, 3), [found.key])


def _keys(found: Reading | None) -> list[str]:
    return [found.key] if found else []


SAME_DRAW_LOWS = (("zinc", "zinc-low-measured"), ("magnesium", "magnesium-low-measured"))
"""Analytes whose low result drawn with the ALP counts only when that draw shows no EDTA."""


def _edta_signature(kb: KnowledgeBase, finding: str) -> EdtaSignature | None:
    """What EDTA would show in the ALP's draw, for the finding's lab source (its `edta_marker`,
    `edta_lowered` and `edta_unless` in findings.yaml)."""
    return next((s.edta for s in kb.findings[finding].sources if s.kind == "labs"), None)


def _same_draw_lows(ctx: _Context, facts: Facts, found: Mapping[str, object]) -> None:
    """Thirteenth round, part E (review 13, 31 and 04): a low zinc or magnesium drawn with the
    ALP and not counted (the draw's potassium does not rule out EDTA: fourteenth round, part
    H) is named, so the card can say why it was not used."""
    shown: list[str] = []
    keys: list[str] = []
    for valueset, finding in SAME_DRAW_LOWS:
        if ctx.edta_ruled_out(_edta_signature(ctx.kb, finding)):
            continue
        reading = ctx.drawn_with_alp(valueset)
        if finding in found or reading is None or reading.status != "low":
            continue
        shown.append(f"{valueset} {reading.shown}")
        keys.append(reading.key)
    facts.set("alp.same_draw_lows", " and ".join(shown) or None, keys)


OPEN_ORDER_STATUSES = {"draft", "active", "on-hold"}


def _open_orders(ctx: _Context, facts: Facts) -> None:
    found: dict[str, str] = {}
    for order in ctx.record.orders:
        if order.get("resourceType") != "ServiceRequest":
            continue
        status = as_str(order.get("status"))
        if status not in OPEN_ORDER_STATUSES or order.get("doNotPerform") is True:
            continue
        authored = parse_datetime(order.get("authoredOn"))
        for orderable in ctx.kb.orderables_ordered_by(order.get("code")):
            # An order older than the test's look-back was never collected: it no longer
            # stands for the test (an open GGT order from July silenced every card). A test
            # with no look-back (a repeat ALP, often booked weeks ahead) keeps its order.
            days = ctx.kb.orderables[orderable].lookback_days
            if days and authored is not None and authored < ctx.when - timedelta(days=days):
                continue
            found.setdefault(orderable, resource_key(order))
    facts.set("orders.open", sorted(found), found.values())
    facts.details["open_orders"] = found


def _recent_results(ctx: _Context, facts: Facts, alp_key: str) -> None:
    found: dict[str, tuple[str, str]] = {}
    for entry in ctx.classified.entries["observations"]:
        obs, key, obs_time = entry.resource, entry.key, entry.time
        # A result without a number (e.g. a narrative isoenzyme report) still counts
        # as done; only a result that never happened or was withdrawn does not.
        if key == alp_key or as_str(obs.get("status")) in UNUSABLE_STATUSES:
            continue
        for orderable_id in ctx.kb.orderables_resulted_by(obs.get("code")):
            lookback = ctx.kb.orderables[orderable_id].lookback_days
            if lookback and _within(obs_time, ctx.when, lookback, ctx.tolerance):
                date = day(obs_time) if obs_time else "unknown date"
                found.setdefault(orderable_id, (key, date))
    facts.set("results.recent", sorted(found), [v[0] for v in found.values()])
    facts.details["recent_results"] = found
