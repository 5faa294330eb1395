"""Which ALP result set a chart-level call (patient-view) answers for.

No EHR sends the results being signed: Epic and Oracle Health call `patient-view` when a result is
filed or the chart opens, with the patient's recent labs in prefetch. This module finds the ALP
that call is about and rebuilds the result set as a result-sign call would have carried it, so the
rules see the same thing either way:

- the ALP: the most recent usable total ALP in the look-back window (withdrawn results and results
  without a value are skipped; between two of the same time, the later `issued` wins);
- the result set: that ALP and every Observation drawn with it: the same `specimen`, or dated
  within `result_time_tolerance_hours` of it. Several ALPs of one draw stay together; the engine
  picks the one it interprets;
- quiet when its follow-up is already under way: a follow-up test (orderables.yaml
  `closes_follow_up`) resulted after it, outside its own draw, or an open order for one.

Plain FHIR dicts in, a `Selection` out; nothing here knows where the data came from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cds_service.clinical.engine import alp_results
from cds_service.clinical.facts import OPEN_ORDER_STATUSES
from cds_service.clinical.labs import UNUSABLE_STATUSES, effective_time, unusable_reason
from cds_service.clinical.record import PatientRecord
from cds_service.fhir.values import as_str, parse_datetime, resource_key
from cds_service.knowledge.model import KnowledgeBase

Resource = Mapping[str, Any]


@dataclass(frozen=True)
class Selection:
    """The result set to evaluate, or None and why not; `to_json` is for the decision trace."""

    results: tuple[Resource, ...] = ()
    """The chosen ALP first, then the Observations drawn with it."""
    reason: str = ""
    window_days: float = 0.0
    notes: tuple[str, ...] = field(default=())

    @property
    def alp(self) -> Resource | None:
        return self.results[0] if self.results else None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"window_days": self.window_days, "reason": self.reason}
        if self.results:
            out["alp"] = resource_key(self.results[0])
            out["result_set"] = [resource_key(r) for r in self.results]
        if self.notes:
            out["notes"] = list(self.notes)
        return out


def _withdrawn(observation: Resource) -> bool:
    return as_str(observation.get("status")) in UNUSABLE_STATUSES


def _specimen(observation: Resource) -> str | None:
    specimen = observation.get("specimen")
    reference = specimen.get("reference") if isinstance(specimen, dict) else None
    return reference if isinstance(reference, str) and reference else None


def _order(pair: tuple[datetime, Resource]) -> tuple[datetime, datetime]:
    issued = parse_datetime(pair[1].get("issued"))
    return (pair[0], issued or pair[0])


def _newest(candidates: Iterable[tuple[datetime, Resource]]) -> tuple[datetime, Resource] | None:
    return max(candidates, key=_order, default=None)


def drawn_with(
    kb: KnowledgeBase, alp: Resource, when: datetime, labs: Iterable[Resource]
) -> tuple[Resource, ...]:
    """`alp` and the usable Observations of its draw: same specimen, or within the tolerance."""
    tolerance = timedelta(hours=kb.param("result_time_tolerance_hours"))
    specimen = _specimen(alp)
    chosen: dict[str, Resource] = {resource_key(alp): alp}
    for obs in labs:
        if obs.get("resourceType") != "Observation" or _withdrawn(obs):
            continue
        key = resource_key(obs)
        if key in chosen:
            continue
        obs_time = effective_time(obs)
        same_specimen = specimen is not None and _specimen(obs) == specimen
        if same_specimen or (obs_time is not None and abs(obs_time - when) <= tolerance):
            chosen[key] = obs
    return tuple(chosen.values())


def select_result_set(
    kb: KnowledgeBase, record: PatientRecord, max_age_days: float | None = None
) -> Selection:
    """The result set a patient-view call answers for, from `record.labs` and `record.orders`.

    `max_age_days` narrows the knowledge base's look-back (`patient_view_lookback_days`), e.g.
    for a reminder shown when the chart opens; it never widens it."""
    lookback = kb.param("patient_view_lookback_days")
    window = lookback if max_age_days is None else min(lookback, max_age_days)
    since = record.now - timedelta(days=lookback)
    # The narrower window is the time since the result was reported (`issued`), when it says:
    # a reminder when the chart opens is for a result nobody has reviewed yet, and a result can
    # be reported weeks after it was drawn.
    reported_since = record.now - timedelta(days=window)
    latest = record.now + timedelta(hours=kb.param("result_time_tolerance_hours"))
    dated = []
    unread = []
    notes: list[str] = []
    for obs in alp_results(kb, record.labs):
        reason = unusable_reason(obs)
        when = effective_time(obs)
        if when is None:
            notes.append(f"{resource_key(obs)} skipped: {reason or 'no date'}")
        elif when > latest:
            # A result cannot be drawn in the future: a mistyped date, never "the latest".
            notes.append(f"{resource_key(obs)} skipped: dated {when.date()}, after today")
        elif when < since or (parse_datetime(obs.get("issued")) or when) < reported_since:
            continue
        elif reason is None:
            dated.append((when, obs))
        elif not _withdrawn(obs) and any(k.startswith("value") for k in obs):
            # A result reported with a value that cannot be read (text, a coded value) is
            # still the newest: an older ALP is not answered for in its place. One with no
            # value at all (a dataAbsentReason, nothing reported) is passed over.
            unread.append((when, obs))
            notes.append(f"{resource_key(obs)} not read: {reason}")
        else:
            notes.append(f"{resource_key(obs)} skipped: {reason}")
    newest = _newest(dated)
    newer = _newest(unread)
    if newer is not None and (newest is None or _order(newer) > _order(newest)):
        return Selection(
            reason=f"the most recent ALP, {resource_key(newer[1])}, cannot be read; "
            "an older one is not answered for in its place",
            window_days=window,
            notes=tuple(notes),
        )
    if newest is None:
        return Selection(
            reason=f"no usable total ALP in the last {window:g} days",
            window_days=window,
            notes=tuple(notes),
        )
    when, alp = newest
    results = drawn_with(kb, alp, when, record.labs)
    in_set = {resource_key(r) for r in results}
    closed = _follow_up_under_way(kb, record, when, in_set)
    if closed:
        return Selection(
            reason=f"follow-up of {resource_key(alp)} already under way: {closed}",
            window_days=window,
            notes=tuple(notes),
        )
    return Selection(
        results=results,
        reason=f"{resource_key(alp)} is the most recent ALP and its follow-up is open",
        window_days=window,
        notes=tuple(notes),
    )


def _follow_up_under_way(
    kb: KnowledgeBase, record: PatientRecord, when: datetime, in_set: set[str]
) -> str | None:
    """What already follows the ALP up (a later follow-up result, an open order), or None."""
    follow_ups = {o.id for o in kb.orderables.values() if o.closes_follow_up}
    for obs in record.labs:
        if obs.get("resourceType") != "Observation" or _withdrawn(obs):
            continue
        key = resource_key(obs)
        obs_time = effective_time(obs)
        # A follow-up test of the ALP's own draw is part of the result set, not its follow-up.
        if key in in_set or obs_time is None or obs_time <= when:
            continue
        if set(kb.orderables_resulted_by(obs.get("code"))) & follow_ups:
            return f"{key} resulted after it"
    for order in record.orders:
        # A "do not perform" order records that the test must NOT be done: no follow-up.
        if order.get("doNotPerform") is True:
            continue
        if as_str(order.get("status")) not in OPEN_ORDER_STATUSES:
            continue
        if set(kb.orderables_ordered_by(order.get("code"))) & follow_ups:
            return f"{resource_key(order)} is on order"
    return None
