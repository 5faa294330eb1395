"""Protocol errors and the OperationOutcome bodies every error response carries.

CDS Hooks 2.0.1 names only 200 and 412; the 3.0 ballot asks for an OperationOutcome in every
non-2xx body. Bodies never echo the request (it may hold tokens or patient data).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Issue:
    """One OperationOutcome issue: `code` from the FHIR issue-type value set."""

    code: str
    diagnostics: str
    severity: str = "error"
    expression: str | None = None

    def to_json(self) -> dict[str, Any]:
        issue: dict[str, Any] = {
            "severity": self.severity,
            "code": self.code,
            "diagnostics": self.diagnostics,
        }
        if self.expression:
            issue["expression"] = [self.expression]
        return issue


def operation_outcome(issues: Sequence[Issue]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": [i.to_json() for i in issues]}


@dataclass
class CdsError(Exception):
    """Raise to answer with `status` and an OperationOutcome made of `issues`."""

    status: int
    issues: list[Issue] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status}: " + "; ".join(i.diagnostics for i in self.issues)

    @classmethod
    def simple(cls, status: int, code: str, diagnostics: str) -> CdsError:
        return cls(status, [Issue(code, diagnostics)])

    def body(self) -> dict[str, Any]:
        return operation_outcome(self.issues)


def bad_request(diagnostics: str, expression: str | None = None) -> CdsError:
    return CdsError(400, [Issue("invalid", diagnostics, expression=expression)])


def precondition_failed(issues: list[Issue]) -> CdsError:
    return CdsError(412, issues)
