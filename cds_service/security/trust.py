"""Which CDS clients the service trusts: issuers, their keys, algorithms, tenants, FHIR servers.

A trust file (YAML or JSON, `ALP_CDS_TRUST_FILE`) lists issuers; presets shipped with the
package (`ALP_CDS_TRUST_PRESETS`, e.g. `cds-hooks-sandbox`) add more. Each issuer has either a
pinned JWK Set or allow-listed JWKS URLs (a token's `jku` must be one of them), the asymmetric
algorithms it may sign with, optional tenants, and the `fhirServer` base URLs it may send.

A trust file may name an issuer a preset defines to extend it: its `fhir_servers` and `tenants`
are added to the preset's, and its keys and algorithms come from the preset (repeating them
unchanged is allowed; changing them is an error, since a preset's keys are its whole point).
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
    return Issuer(
        iss=iss,
        algorithms=algorithms,
        jwks=jwks,
        jwks_urls=urls,
        tenants=_tenants(raw),
        fhir_servers=_fhir_servers(raw, where),
        source=where,
    )


def _fhir_servers(raw: Mapping[str, Any], where: str) -> frozenset[str]:
    servers = []
    for url in raw.get("fhir_servers") or ():
        parts = urlsplit(str(url))
        if parts.scheme not in {"https", "http"} or not parts.netloc:
            raise TrustError(f"{where}: fhir_servers entry {url!r} is not an absolute URL")
        servers.append(normalise_base(str(url)))
    return frozenset(servers)


def _tenants(raw: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(str(t) for t in raw.get("tenants") or ())


# What an entry extending a preset's issuer may not change (it may repeat them as they are).
_PRESET_OWNED = ("algorithms", "jwks", "jwks_file", "jwks_urls")


def _extend(
    preset: Issuer, preset_raw: Mapping[str, Any], raw: Any, where: str, base: Path | None
) -> Issuer:
    """`preset` with the fhir_servers and tenants of a trust file entry for the same iss."""
    where = f"{where} (iss {preset.iss})"
    for name in _PRESET_OWNED:
        if name not in raw:
            continue
        given = raw[name]
        if name == "jwks_file":
            path = Path(given)
            given = _load_document(path if path.is_absolute() or base is None else base / path)
            expected = preset_raw.get("jwks")
        elif name == "algorithms":
            given, expected = set(given or ()), set(preset_raw.get(name) or DEFAULT_ALGORITHMS)
        else:
            expected = preset_raw.get(name)
        if given != expected:
            raise TrustError(
                f"{where}: this issuer comes from {preset.source.split(':')[0]}; a trust file "
                f"may add fhir_servers and tenants to it but not change its {name}"
            )
    return Issuer(
        iss=preset.iss,
        algorithms=preset.algorithms,
        jwks=preset.jwks,
        jwks_urls=preset.jwks_urls,
        tenants=preset.tenants | _tenants(raw),
        fhir_servers=preset.fhir_servers | _fhir_servers(raw, where),
        source=f"{preset.source} + {where}",
    )


def _entries(document: Any, where: str) -> list[Any]:
    if not isinstance(document, Mapping) or not isinstance(document.get("issuers"), list):
        raise TrustError(f"{where}: expected a mapping with an 'issuers' list")
    return list(document["issuers"])


def _issuers(document: Any, where: str, base: Path | None) -> list[Issuer]:
    return [
        _issuer(raw, f"{where}: issuers[{i}]", base)
        for i, raw in enumerate(_entries(document, where))
    ]


def preset_names() -> list[str]:
    folder = resources.files("cds_service.security").joinpath("presets")
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


def load_trust(files: Sequence[Path], presets: Sequence[str]) -> TrustStore:
    issuers: dict[str, Issuer] = {}
    from_preset: dict[str, Mapping[str, Any]] = {}
    """iss -> the preset's raw entry, for issuers a trust file may extend."""
    for name in presets:
        if name not in preset_names():
            raise TrustError(f"unknown trust preset {name!r} (known: {', '.join(preset_names())})")
        text = resources.files("cds_service.security").joinpath(f"presets/{name}.yaml").read_text()
        document = yaml.safe_load(text)
        for raw, issuer in zip(
            _entries(document, f"preset {name}"),
            _issuers(document, f"preset {name}", None),
            strict=True,
        ):
            if issuer.iss in issuers:
                raise TrustError(f"{issuer.source}: issuer {issuer.iss!r} is configured twice")
            issuers[issuer.iss] = issuer
            from_preset[issuer.iss] = raw
    for path in files:
        document = _load_document(path)
        for i, raw in enumerate(_entries(document, str(path))):
            where = f"{path}: issuers[{i}]"
            iss = raw.get("iss") if isinstance(raw, Mapping) else None
            if isinstance(iss, str) and iss in from_preset:
                issuers[iss] = _extend(issuers[iss], from_preset[iss], raw, where, path.parent)
                continue
            issuer = _issuer(raw, where, path.parent)
            if issuer.iss in issuers:
                raise TrustError(f"{issuer.source}: issuer {issuer.iss!r} is configured twice")
            issuers[issuer.iss] = issuer
    return TrustStore(issuers)
