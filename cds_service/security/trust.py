"""Which CDS clients the service trusts: issuers, their keys, algorithms, tenants, FHIR servers.

A trust file (YAML or JSON, `ALP_CDS_TRUST_FILE`) lists issuers; presets shipped with the
package (`ALP_CDS_TRUST_PRESETS`, e.g. `cds-hooks-sandbox`) add more. Each issuer has either a
pinned JWK Set or allow-listed JWKS URLs (a token's `jku` must be one of them), the asymmetric
algorithms it may sign with, optional tenants, and the `fhirServer` base URLs it may send.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from jwt import PyJWKSet
from jwt.exceptions import PyJWKError, PyJWKSetError

ASYMMETRIC = frozenset(
    {"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
)
DEFAULT_ALGORITHMS = ("ES384", "RS384")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class TrustError(ValueError):
    """The trust configuration is unusable; the message names the file and the issuer."""


def normalise_base(url: str) -> str:
    """Scheme and host lower-cased, no trailing slash: how fhirServer URLs are compared."""
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/")
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}"


@dataclass(frozen=True)
class Issuer:
    iss: str
    algorithms: frozenset[str]
    jwks: PyJWKSet | None = None
    jwks_urls: tuple[str, ...] = ()
    tenants: frozenset[str] = frozenset()
    fhir_servers: frozenset[str] = frozenset()
    source: str = ""

    def allows_fhir_server(self, url: str) -> bool:
        return normalise_base(url) in self.fhir_servers

    def describe(self) -> dict[str, Any]:
        """For `alp-cds config check`: everything but key material."""
        return {
            "iss": self.iss,
            "algorithms": sorted(self.algorithms),
            "keys": f"pinned JWK Set ({len(self.jwks.keys)} keys)" if self.jwks else "by JWKS URL",
            "jwks_urls": list(self.jwks_urls),
            "tenants": sorted(self.tenants) or "any",
            "fhir_servers": sorted(self.fhir_servers),
            "from": self.source,
        }


@dataclass(frozen=True)
class TrustStore:
    issuers: Mapping[str, Issuer] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.issuers)

    def get(self, iss: str) -> Issuer | None:
        return self.issuers.get(iss)


def _load_document(path: Path) -> Any:
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise TrustError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise TrustError(f"{path}: not valid YAML or JSON: {exc}") from None


def _issuer(raw: Any, where: str, base: Path | None) -> Issuer:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("iss"), str) or not raw["iss"]:
        raise TrustError(f"{where}: each issuer needs an 'iss' string")
    iss = raw["iss"]
    where = f"{where} (iss {iss})"
    algorithms = frozenset(raw.get("algorithms") or DEFAULT_ALGORITHMS)
    weak = algorithms - ASYMMETRIC
    if weak:
        raise TrustError(f"{where}: algorithms {sorted(weak)} are not allowed (asymmetric only)")
    jwks = None
    document = raw.get("jwks")
    if raw.get("jwks_file"):
        path = Path(raw["jwks_file"])
        if not path.is_absolute() and base is not None:
            path = base / path
        document = _load_document(path)
    if document is not None:
        try:
            jwks = PyJWKSet.from_dict(document)
        except (PyJWKError, PyJWKSetError, KeyError, TypeError) as exc:
            raise TrustError(f"{where}: unusable JWK Set: {exc}") from None
    urls = tuple(str(u) for u in raw.get("jwks_urls") or ())
    for url in urls:
        parts = urlsplit(url)
        # Plain http only on loopback (a local test key server); keys must not cross a network
        # in the clear.
        if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK):
            raise TrustError(f"{where}: JWKS URL {url!r} must be https")
    if jwks is None and not urls:
        raise TrustError(f"{where}: needs a pinned 'jwks'/'jwks_file' or 'jwks_urls'")
    servers = []
    for url in raw.get("fhir_servers") or ():
        parts = urlsplit(str(url))
        if parts.scheme not in {"https", "http"} or not parts.netloc:
            raise TrustError(f"{where}: fhir_servers entry {url!r} is not an absolute URL")
        servers.append(normalise_base(str(url)))
    return Issuer(
        iss=iss,
        algorithms=algorithms,
        jwks=jwks,
        jwks_urls=urls,
        tenants=frozenset(str(t) for t in raw.get("tenants") or ()),
        fhir_servers=frozenset(servers),
        source=where,
    )


def _issuers(document: Any, where: str, base: Path | None) -> list[Issuer]:
    if not isinstance(document, Mapping) or not isinstance(document.get("issuers"), list):
        raise TrustError(f"{where}: expected a mapping with an 'issuers' list")
    return [
        _issuer(raw, f"{where}: issuers[{i}]", base) for i, raw in enumerate(document["issuers"])
    ]


def preset_names() -> list[str]:
    folder = resources.files("cds_service.security").joinpath("presets")
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


def load_trust(files: Sequence[Path], presets: Sequence[str]) -> TrustStore:
    issuers: dict[str, Issuer] = {}
    found: list[Issuer] = []
    for name in presets:
        if name not in preset_names():
            raise TrustError(f"unknown trust preset {name!r} (known: {', '.join(preset_names())})")
        text = resources.files("cds_service.security").joinpath(f"presets/{name}.yaml").read_text()
        found += _issuers(yaml.safe_load(text), f"preset {name}", None)
    for path in files:
        found += _issuers(_load_document(path), str(path), path.parent)
    for issuer in found:
        if issuer.iss in issuers:
            raise TrustError(f"{issuer.source}: issuer {issuer.iss!r} is configured twice")
        issuers[issuer.iss] = issuer
    return TrustStore(issuers)
