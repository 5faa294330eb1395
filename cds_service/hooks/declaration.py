"""One declaration per CDS service: it yields the discovery entry, the route and the prefetch.

Modelled on HAPI FHIR's `@CdsService`: nothing about a service is written twice, so discovery,
routing and prefetch resolution cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from cds_service.hooks.definitions import HookDefinition

if TYPE_CHECKING:
    from cds_service.hooks.prefetch import ResolvedData
    from cds_service.hooks.request import HookRequest
    from cds_service.hooks.response import CdsResponse

TOKEN_RE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}

Handler = Callable[["HookRequest", "ResolvedData"], "CdsResponse"]


class DeclarationError(ValueError):
    """A service declaration breaks the CDS Hooks rules; raised at start-up."""


@dataclass(frozen=True)
class PrefetchTemplate:
    key: str
    query: str
    """A FHIR read (`Patient/{{context.patientId}}`) or search (`Condition?patient=...`)."""
    required: bool = False
    """If the data cannot be had from prefetch or fhirServer, answer 412."""
    supplementary: bool = False
    """Its data adds to other keys' and is often not served: when it cannot be had the trace
    says so, but the call is not logged as answered on partial data."""

    @property
    def is_search(self) -> bool:
        return "?" in self.query or "/" not in self.query.split("?")[0]

    @property
    def resource_type(self) -> str:
        return self.query.split("?")[0].split("/")[0]

    def tokens(self) -> list[str]:
        return TOKEN_RE.findall(self.query)

    def render(self, context: Mapping[str, Any]) -> str | None:
        """The query with tokens replaced, or None when a token has no value in this call.

        Values are percent-encoded: ids are schema-checked already, this is defence in depth
        against a value that would add query parameters.
        """
        missing = False

        def substitute(match: re.Match[str]) -> str:
            nonlocal missing
            value = token_value(match.group(1), context)
            if value is None:
                missing = True
                return ""
            return quote(value, safe="")

        rendered = TOKEN_RE.sub(substitute, self.query)
        return None if missing else rendered


def token_value(token: str, context: Mapping[str, Any]) -> str | None:
    if token.startswith("context."):
        value = context.get(token.removeprefix("context."))
        return value if isinstance(value, str) and value else None
    wanted = USER_TOKENS.get(token)
    user = context.get("userId")
    if wanted and isinstance(user, str) and "/" in user:
        kind, _, ident = user.partition("/")
        return ident if kind == wanted and ident else None
    return None


@dataclass(frozen=True)
class ServiceDeclaration:
    id: str
    hook: HookDefinition
    title: str
    description: str
    handler: Handler
    prefetch: tuple[PrefetchTemplate, ...] = ()
    usage_requirements: str | None = None
    extension: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", self.id):
            raise DeclarationError(f"service id {self.id!r} is not URL-safe")
        keys = [t.key for t in self.prefetch]
        if len(keys) != len(set(keys)):
            raise DeclarationError(f"service {self.id}: duplicate prefetch keys")
        for template in self.prefetch:
            for token in template.tokens():
                self._check_token(template, token)

    def _check_token(self, template: PrefetchTemplate, token: str) -> None:
        # CDS Hooks 2.0.1 allows only top-level context fields marked as prefetch tokens and the
        # four user tokens; FHIRPath tokens are a 3.0 ballot feature clients may not support.
        if token.startswith("context."):
            name = token.removeprefix("context.")
            if name in self.hook.prefetch_tokens:
                return
        elif token in USER_TOKENS:
            return
        raise DeclarationError(
            f"service {self.id}, prefetch {template.key!r}: {{{{{token}}}}} is not a "
            f"CDS Hooks 2.0.1 prefetch token of hook {self.hook.id}"
        )

    def discovery_entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "hook": self.hook.id,
            "id": self.id,
            "title": self.title,
            "description": self.description,
        }
        if self.prefetch:
            entry["prefetch"] = {t.key: t.query for t in self.prefetch}
        if self.usage_requirements:
            entry["usageRequirements"] = self.usage_requirements
        if self.extension:
            entry["extension"] = dict(self.extension)
        return entry


class ServiceRegistry:
    """The services this deployment offers, in discovery order."""

    def __init__(self, services: Iterable[ServiceDeclaration]) -> None:
        self._services: dict[str, ServiceDeclaration] = {}
        for service in services:
            if service.id in self._services:
                raise DeclarationError(f"two services share the id {service.id!r}")
            self._services[service.id] = service

    def get(self, service_id: str) -> ServiceDeclaration | None:
        return self._services.get(service_id)

    def __iter__(self) -> Any:
        return iter(self._services.values())

    def discovery(self) -> dict[str, Any]:
        return {"services": [s.discovery_entry() for s in self._services.values()]}
