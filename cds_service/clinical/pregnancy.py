"""Pregnancy status and trimester at the time of the ALP.

Evidence, strongest first: a pregnancy-status Observation (LOINC 82810-3) of the last
`pregnancy_status_max_age_days`; an active pregnancy Condition, or one that exists only in
pregnancy (intrahepatic cholestasis of pregnancy), stated within that look-back (a condition of
early pregnancy, hyperemesis gravidarum, within `early_pregnancy_condition_max_age_days`); a
gestational-age Observation that projects to no more than `gestation_max_weeks` at the ALP, from
`pregnancy_min_age_years`. The trimester
comes from a gestational-age Observation or an ICD-10-CM Z3A "weeks of gestation" code (the code
carries the week count), moved forward to the ALP date; else from a third-trimester code; else
unknown.

A delivery ends the pregnancy it follows: a delivery or puerperium condition or procedure (dated
by onset or when performed; a recorded date alone says only that it had happened by then), a
pregnancy loss or termination (value set pregnancy-loss: it ends the pregnancy but dates no
delivery), or a
gestation projected past `gestation_max_weeks` (it had ended by the day it reached them). Evidence
of pregnancy from that day or before no longer counts; evidence after it is a new pregnancy. A
dated delivery is kept (`delivered`) so that rules can allow placental ALP a short while after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cds_service.clinical.classify import Classified, Entry, recorded_time, value_of
from cds_service.clinical.labs import UNUSABLE_STATUSES, result_quantity
from cds_service.fhir.values import ICD10CM, as_str, codings
from cds_service.knowledge.model import KnowledgeBase

Z3A_WEEKS = re.compile(r"^Z3A\.?(\d{2})$")
PREGNANCY_CONDITION_VALUESETS = (
    "pregnancy",
    "pregnancy-third-trimester",
    "intrahepatic-cholestasis-pregnancy",
    "pregnancy-early-conditions",
)
"""Conditions that exist only in pregnancy, so an active one dated within the look-back (and
after any delivery) makes her pregnant."""
LOOK_BACK = {"pregnancy-early-conditions": "early_pregnancy_condition_max_age_days"}
"""Value sets whose conditions count over a shorter look-back than
`pregnancy_status_max_age_days` (a condition of early pregnancy is months before term)."""
_DAYS = frozenset({"d", "day", "days"})


@dataclass
class Pregnancy:
    status: str = "unknown"
    """pregnant, not pregnant or unknown"""
    trimester: str = "unknown"
    """first, second, third or unknown"""
    weeks: float | None = None
    evidence: list[str] = field(default_factory=list)
    delivered: datetime | None = None
    """When a dated delivery ended the latest pregnancy (not pregnant since)."""
    ended: datetime | None = None
    """The day by which the latest birth had happened (a dated delivery, else the date a
    delivery was recorded; never a postnatal check's date): for warnings, which err towards a
    recent birth."""
    estimated_from: tuple[float, datetime] | None = None
    """When `delivered` is estimated from a term weeks-of-gestation record: its weeks and
    date (39, 3 Nov 2026), not dated by a delivery entry."""
    postnatal: datetime | None = None
    """Nineteenth round (review 19, R19-10): when no delivery is dated, the date of the
    postnatal check or puerperal complication (value set puerperium) that ended the pregnancy:
    the birth was before it, within the puerperium of it."""


def trimester_for(weeks: float) -> str:
    if weeks < 14:
        return "first"
    if weeks < 28:
        return "second"
    return "third"


def _ended(
    kb: KnowledgeBase, classified: Classified, when: datetime
) -> tuple[datetime | None, datetime | None, datetime | None, str | None]:
    """(ended by, delivered on, birth by, key): the latest delivery, postpartum or loss entry in the
    pregnancy look-back. `ended by` is the day by which the pregnancy had ended; `delivered on`
    is the latest delivery an onset or performed date dates; `birth by` the latest delivery
    entry's date, dated or only recorded. A postpartum encounter or complication
    (value set puerperium) ends the pregnancy by its date but never dates the delivery: a
    routine postnatal check is weeks after the birth."""
    max_age = timedelta(days=kb.param("pregnancy_status_max_age_days"))
    latest: tuple[datetime, str] | None = None
    delivered: datetime | None = None
    birth_by: datetime | None = None
    entries: list[tuple[Entry, bool]] = [
        *((e, True) for e in classified.in_valueset("conditions", "delivery")),
        *((e, True) for e in classified.in_valueset("procedures", "delivery")),
        *((e, False) for e in classified.in_valueset("conditions", "puerperium")),
        # Eleventh round (review 10, U2): a miscarriage, ectopic or molar pregnancy or a
        # termination ends the pregnancy by its date but dates no delivery (no placental or
        # postpartum window after a loss, mostly before 20 weeks).
        *((e, False) for e in classified.in_valueset("conditions", "pregnancy-loss")),
        *((e, False) for e in classified.in_valueset("procedures", "pregnancy-loss")),
    ]
    for entry, dates_it in entries:
        if not entry.countable:
            continue
        is_procedure = entry.resource.get("resourceType") == "Procedure"
        if is_procedure and not entry.active:
            continue
        by = entry.time or (None if is_procedure else recorded_time(entry.resource))
        if by is None or not (when - max_age <= by <= when + timedelta(days=1)):
            continue
        if latest is None or by > latest[0]:
            latest = (by, entry.key)
        if dates_it and entry.time is not None and (delivered is None or entry.time > delivered):
            delivered = entry.time
        if dates_it and (birth_by is None or by > birth_by):
            birth_by = by
    if latest is None:
        return None, None, None, None
    return latest[0], delivered, birth_by, latest[1]


def _is_loss(classified: Classified, key: str) -> bool:
    return any(
        e.key == key
        for kind in ("conditions", "procedures")
        for e in classified.in_valueset(kind, "pregnancy-loss")
    )


def _is_postnatal(classified: Classified, key: str) -> bool:
    return any(e.key == key for e in classified.in_valueset("conditions", "puerperium"))


def _estimate_delivery(
    kb: KnowledgeBase,
    result: Pregnancy,
    weeks_at: list[tuple[datetime, float, str]],
    ended: datetime,
    birth_by: datetime,
    when: datetime,
) -> None:
    """Sixteenth round (review 13, item 46): a pregnancy that ended with no dated delivery (a
    postnatal entry, or a term gestation projected past any term), dated only by a
    weeks-of-gestation record at term (Z3A.37 or more), delivered about when that record
    reached the average term: its date plus (term - weeks) weeks, never after the day a
    delivery entry shows her delivered by (`birth_by`; else the end), nor after the ALP.
    Earlier weeks are not used: a delivery can be weeks from them either way."""
    floor = kb.param("delivery_estimate_min_weeks")
    term = kb.param("term_gestation_weeks")
    at_term = [w for w in weeks_at if w[1] >= floor and w[0] <= ended + timedelta(days=1)]
    if not at_term:
        return
    stated, weeks, key = max(at_term, key=lambda w: w[0])
    estimate = min(stated + timedelta(weeks=max(0.0, term - weeks)), birth_by, when)
    result.delivered = estimate
    result.ended = max(estimate, result.ended) if result.ended else estimate
    result.estimated_from = (weeks, stated)
    result.evidence.append(f"{key}: delivered about {estimate.date()} ({weeks:g} weeks then)")


def _superseded(stated: datetime | None, ended: datetime | None) -> bool:
    """Evidence from the day a pregnancy ended or before (or undated) belongs to it."""
    return ended is not None and (stated is None or stated.date() <= ended.date())


def _look_back(kb: KnowledgeBase, entry: Entry) -> timedelta:
    """The shortest look-back of the pregnancy value sets the entry matches."""
    days = [
        kb.param(LOOK_BACK.get(vs, "pregnancy_status_max_age_days"))
        for vs in PREGNANCY_CONDITION_VALUESETS
        if vs in entry.matches
    ]
    return timedelta(days=min(days, default=kb.param("pregnancy_status_max_age_days")))


def assess(
    kb: KnowledgeBase,
    classified: Classified,
    when: datetime,
    sex: str | None,
    age_years: float | None = None,
) -> Pregnancy:
    """`age_years`: the patient's age at the ALP; a gestational-age result makes her pregnant
    only from `pregnancy_min_age_years` (in a baby's record it is her gestation at birth)."""
    result = Pregnancy()
    if sex == "male":
        result.status = "not pregnant"
        return result
    max_age = timedelta(days=kb.param("pregnancy_status_max_age_days"))
    soon = when + timedelta(days=1)
    pregnant_answers = kb.valuesets["pregnancy-status-pregnant"]
    not_pregnant_answers = kb.valuesets["pregnancy-status-not-pregnant"]
    statuses: list[tuple[datetime, str, str]] = []
    for entry in classified.in_valueset("observations", "pregnancy-status"):
        if entry.time is None or not (when - max_age <= entry.time <= soon):
            continue
        # Coded answers have no number, so `entry.active` (numeric results) does not apply.
        if as_str(entry.resource.get("status")) in UNUSABLE_STATUSES:
            continue
        answer = entry.resource.get("valueCodeableConcept")
        if pregnant_answers.match(answer):
            statuses.append((entry.time, "pregnant", entry.key))
        elif not_pregnant_answers.match(answer):
            statuses.append((entry.time, "not pregnant", entry.key))

    weeks_at: list[tuple[datetime, float, str]] = []
    stated_conditions: list[tuple[datetime | None, Entry]] = []
    # A pregnancy-only condition (cholestasis of pregnancy) says she is pregnant as a pregnancy
    # code does, and like one it is dated: one stated before the look-back, or before a
    # delivery, belongs to an earlier pregnancy (an ICP coded in 2023 and never closed is not a
    # pregnancy now).
    conditions = {
        e.key: e
        for vs in PREGNANCY_CONDITION_VALUESETS
        for e in classified.in_valueset("conditions", vs)
    }
    for entry in conditions.values():
        if not entry.countable or not entry.active:
            continue
        # A "weeks of gestation" code states the gestation on the day it was recorded, so here
        # (unlike an event window) the recorded date does date it.
        stated = entry.time or recorded_time(entry.resource)
        if stated is not None and stated < when - _look_back(kb, entry):
            continue  # an old pregnancy left active on the problem list
        stated_conditions.append((stated, entry))
        for coding in codings(entry.resource.get("code")):
            match = Z3A_WEEKS.match(str(coding.get("code", "")))
            # Z3A.00 is "weeks not specified"; a Z3A code with no date states today's gestation.
            if coding.get("system") == ICD10CM and match and match.group(1) != "00":
                weeks_at.append((stated or when, float(match.group(1)), entry.key))
    measured_weeks: set[str] = set()
    for entry in classified.in_valueset("observations", "gestational-age"):
        amount = value_of(entry)
        if amount is None or entry.time is None or not entry.active:
            continue
        if entry.time < when - max_age:
            continue
        quantity = result_quantity(entry.resource) or {}
        unit = str(quantity.get("code") or quantity.get("unit") or "wk").strip().lower()
        weeks_at.append((entry.time, amount / 7 if unit in _DAYS else amount, entry.key))
        measured_weeks.add(entry.key)

    ended, delivered, birth_by, ended_key = _ended(kb, classified, when)
    limit = kb.param("gestation_max_weeks")
    dated = [w for w in weeks_at if w[0] <= soon and not _superseded(w[0], ended)]
    latest_weeks = max(dated, key=lambda w: w[0]) if dated else None
    projected = None
    undatable: str | None = None
    if latest_weeks is not None:
        recorded, weeks, key = latest_weeks
        projected = round(weeks + (when - recorded).days / 7, 1)
        others = [
            e.key
            for stated, e in stated_conditions
            if e.key != key and e.key not in measured_weeks and not _superseded(stated, ended)
        ]
        if projected > limit and key not in measured_weeks and others:
            # Twelfth round, part D (review 12, N04): a Z3A code's date is often the
            # pregnancy's start (an EHR episode's onset), not the day she was that many
            # weeks; arithmetic on it must not end a pregnancy that another active pregnancy
            # problem states now. Nothing recorded ended it, so she is pregnant and the
            # weeks are not known (the trimester can still come from a third-trimester code).
            undatable = key
            result.evidence.append(
                f"{key}: {weeks:g} weeks dated {recorded.date()} would be {projected:g} weeks"
                f" now, against active {', '.join(others)}: weeks not known"
            )
            latest_weeks = projected = None
        elif projected > limit:
            # Past any term: that pregnancy had ended by the day it reached the limit.
            ended, delivered, ended_key = recorded + timedelta(weeks=limit - weeks), None, key
            birth_by = ended
            latest_weeks = projected = None

    current = [s for s in statuses if not _superseded(s[0], ended)]
    if current:
        _, value, key = max(current, key=lambda s: s[0])
        result.status = value
        result.evidence.append(f"{key}: pregnancy status {value}")
    adult_enough = age_years is not None and age_years >= kb.param("pregnancy_min_age_years")
    if (
        result.status == "unknown"
        and adult_enough
        and latest_weeks is not None
        and latest_weeks[2] in measured_weeks
    ):
        # A gestational age measured since any delivery, still short of any term at the ALP
        # (projected past gestation_max_weeks it ended the pregnancy above): she is pregnant.
        result.status = "pregnant"
        result.evidence.append(f"{latest_weeks[2]}: gestational age result")
    coded_third = None
    for stated, entry in stated_conditions:
        if _superseded(stated, ended) or entry.key == undatable:
            continue
        if result.status == "unknown":
            result.status = "pregnant"
        if result.status == "pregnant":
            result.evidence.append(f"{entry.key}: pregnancy condition")
        if "pregnancy-third-trimester" in entry.matches:
            coded_third = entry.key

    if result.status != "pregnant":
        if ended is not None and ended_key is not None:
            result.status = "not pregnant"
            result.delivered = delivered
            result.ended = delivered or birth_by
            result.evidence.append(f"{ended_key}: pregnancy ended by {ended.date()}")
            if delivered is None and not _is_loss(classified, ended_key):
                # Never after a delivery entry's own (recorded) date: a later postnatal check
                # ends the pregnancy by its date but is weeks after the birth (code review 17).
                _estimate_delivery(kb, result, weeks_at, ended, birth_by or ended, when)
            undated = result.delivered is None and birth_by is None
            if undated and _is_postnatal(classified, ended_key):
                result.postnatal = ended
        return result
    if latest_weeks is not None and projected is not None:
        recorded, weeks, key = latest_weeks
        result.weeks = projected
        result.trimester = trimester_for(projected)
        result.evidence.append(f"{key}: {weeks:g} weeks on {recorded.date()}")
    elif coded_third:
        result.trimester = "third"
        result.evidence.append(f"{coded_third}: third trimester")
    return result
