"""Match the record's conditions, medications and procedures to the knowledge base's findings.

A finding (findings.yaml) names value sets to look for in one kind of record entry, optionally
within a time window before the ALP. Conditions count while clinically active and not refuted
(resolved ones too where the finding says so, e.g. a recent fracture). Medications match by
RxNorm ingredient or product code, then, failing a code, by ingredient name in the text; the
evidence says which, so a reviewer can see a name-based match.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cds_service.clinical.classify import Classified, Entry
from cds_service.knowledge.model import FindingSource, KnowledgeBase


def _counts(entry: Entry, source: FindingSource, since: datetime | None, until: datetime) -> bool:
    if source.kind == "conditions" and not entry.countable:
        return False
    if not entry.active and not (source.kind == "conditions" and source.include_inactive):
        return False
    if since is None:
        return True
    return entry.time is not None and since <= entry.time <= until


def match_findings(
    kb: KnowledgeBase, classified: Classified, when: datetime
) -> dict[str, list[str]]:
    """Finding id -> evidence lines (`Type/id: code display`), for findings present."""
    tolerance = timedelta(hours=kb.param("result_time_tolerance_hours"))
    present: dict[str, list[str]] = {}
    for finding in kb.findings.values():
        lines: list[str] = []
        for source in finding.sources:
            since = (
                when - timedelta(days=kb.param(source.within_days)) if source.within_days else None
            )
            for entry in classified.in_valueset(source.kind, source.valueset):
                if _counts(entry, source, since, when + tolerance):
                    line = f"{entry.key}: {entry.matches[source.valueset]}"
                    if line not in lines:
                        lines.append(line)
        if lines:
            present[finding.id] = lines
    return present
