"""Every setting of the service, read from environment variables into one checked object.

A wrong value stops start-up with a message that names the variable, so an operator never has to
guess which of thirty variables was mistyped. `docs/configuration.md` documents each one; a test
checks that the two lists agree.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PREFIX = "ALP_CDS_"
SECRETS = {"audit_pseudonym_key", "console_secret_key"}
DEFAULT_KB_DIR = Path(__file__).resolve().parent.parent / "cards"


class SettingsError(ValueError):
    """A setting has a value the service cannot run with."""


def _parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("expected true or false")


def _int_between(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        value = int(raw.strip())
        if not low <= value <= high:
            raise ValueError(f"expected an integer from {low} to {high}")
        return value

    return parse


def _float_between(low: float, high: float) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        value = float(raw.strip())
        if not low <= value <= high:
            raise ValueError(f"expected a number from {low} to {high}")
        return value

    return parse


def _parse_url(raw: str) -> str:
    value = raw.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError("expected an absolute http(s) URL")
    if parts.query or parts.fragment:
        raise ValueError("the URL must not have a query or fragment")
    return value


def _parse_origins(raw: str) -> tuple[str, ...]:
    items = tuple(item.strip().rstrip("/") for item in raw.split(",") if item.strip())
    if not items:
        raise ValueError("expected '*' or a comma-separated list of origins")
    for item in items:
        if item == "*":
            continue
        parts = urlsplit(item)
        if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path:
            raise ValueError(f"{item!r} is not an origin such as https://ehr.example.org")
    return items


def _parse_hook_id(raw: str) -> str:
    value = raw.strip()
    # Custom hooks use reverse-domain notation (CDS Hooks 2.0.1, "Hook Names").
    if not value or any(ch.isspace() for ch in value) or "/" in value:
        raise ValueError("expected a hook id such as org.example.lab-result-sign")
    return value


def _parse_dir(raw: str) -> Path:
    return Path(raw.strip()).expanduser().resolve()


def _parse_local_codes(raw: str) -> tuple[tuple[str, str, str, str | None], ...]:
    """`ggt=http://hospital.org/orders|LAB123|GGT serum;bone-alp=...` -> (id, system, code,
    display) tuples; the ids (orderables, value sets) are checked against the knowledge base at
    start-up."""
    entries = []
    for item in (part.strip() for part in raw.split(";")):
        if not item:
            continue
        orderable, sep, coding = item.partition("=")
        fields_ = coding.split("|")
        valid = len(fields_) in {2, 3} and all(f.strip() for f in fields_[:2])
        if not sep or not orderable.strip() or not valid:
            raise ValueError(f"expected id=system|code[|display], got {item!r}")
        display = fields_[2].strip() if len(fields_) == 3 else None
        entries.append((orderable.strip(), fields_[0].strip(), fields_[1].strip(), display))
    return tuple(entries)


def _parse_paths(raw: str) -> tuple[Path, ...]:
    paths = tuple(Path(p.strip()).expanduser().resolve() for p in raw.split(",") if p.strip())
    for path in paths:
        if not path.is_file():
            raise ValueError(f"{path} is not a file")
    return paths


def _parse_names(raw: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in raw.split(",") if n.strip())


def _parse_redis_url(raw: str) -> str:
    value = raw.strip()
    if urlsplit(value).scheme not in {"redis", "rediss", "unix"}:
        raise ValueError("expected a redis://, rediss:// or unix:// URL")
    return value


def _parse_database_url(raw: str) -> str:
    value = raw.strip()
    if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
        raise ValueError("expected a sqlite:/// or postgresql+psycopg:// URL")
    return value


def _parse_secret(raw: str) -> str:
    if len(raw) < 16:
        raise ValueError("use at least 16 characters")
    return raw


def _parse_file(raw: str) -> Path:
    path = Path(raw.strip()).expanduser().resolve()
    if not path.is_file():
        raise ValueError(f"{path} is not a file")
    return path


def _parse_header_name(raw: str) -> str:
    value = raw.strip()
    if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", value):
        raise ValueError("expected an HTTP header name such as X-Remote-User")
    return value


def _parse_networks(raw: str) -> tuple[str, ...]:
    """Addresses or networks (`10.0.0.5`, `10.0.0.0/24`, `::1`), kept as normalised text."""
    networks = []
    for item in (part.strip() for part in raw.split(",")):
        if item:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
    return tuple(networks)


def _parse_dirs(raw: str) -> tuple[Path, ...]:
    paths = tuple(Path(p.strip()).expanduser().resolve() for p in raw.split(",") if p.strip())
    for path in paths:
        if not path.is_dir():
            raise ValueError(f"{path} is not a folder")
    return paths


def _parse_forwarded_allow(raw: str) -> tuple[str, ...]:
    items = tuple(item.strip() for item in raw.split(",") if item.strip())
    for item in items:
        if item != "*":
            ipaddress.ip_network(item, strict=False)  # ValueError names the bad address
    return items


def _parse_log_level(raw: str) -> str:
    value = raw.strip().upper()
    if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError("expected DEBUG, INFO, WARNING or ERROR")
    return value


def mask_url_credentials(text: str) -> str:
    """`redis://user:secret@host` -> `redis://user:***@host`: safe to print and log."""
    return re.sub(r"(://[^/\s:@]*:)[^@/\s]+@", r"\1***@", text)


def _setting(env: str, parse: Callable[[str], Any], doc: str) -> Any:
    return field(metadata={"env": PREFIX + env, "parse": parse, "doc": doc})


@dataclass(frozen=True)
class Settings:
    """The checked configuration. Build it with `Settings.from_env()`; tests pass overrides."""

    host: str = _setting("HOST", str.strip, "Address gunicorn or the dev server binds to.")
    port: int = _setting("PORT", _int_between(1, 65535), "TCP port to listen on.")
    public_base_url: str | None = _setting(
        "PUBLIC_BASE_URL",
        _parse_url,
        "Public URL of the service as EHRs call it (scheme, host, optional path prefix). "
        "Used for absolute links in cards and as the JWT audience. Required outside "
        "development mode; in development mode without it, the URL the caller used.",
    )
    forwarded_allow_ips: tuple[str, ...] = _setting(
        "FORWARDED_ALLOW_IPS",
        _parse_forwarded_allow,
        "Peers (addresses or networks, comma-separated; '*' any) whose X-Forwarded-Proto/Host/"
        "Prefix headers are believed when the public URL is taken from the request.",
    )
    workers: int = _setting("WORKERS", _int_between(1, 64), "gunicorn worker processes.")
    threads: int = _setting(
        "THREADS",
        _int_between(1, 256),
        "Threads per gunicorn gthread worker; worker_connections is set to the same value.",
    )
    request_timeout: int = _setting(
        "REQUEST_TIMEOUT", _int_between(5, 600), "gunicorn worker timeout, seconds."
    )
    max_body_bytes: int = _setting(
        "MAX_BODY_BYTES",
        _int_between(1024, 256 * 1024 * 1024),
        "Largest request body accepted; bigger bodies get 413.",
    )
    cors_origins: tuple[str, ...] = _setting(
        "CORS_ORIGINS", _parse_origins, "Origins allowed by CORS: '*' or a comma-separated list."
    )
    result_sign_hook: str = _setting(
        "RESULT_SIGN_HOOK",
        _parse_hook_id,
        "Hook id of the result-signing service (no standard hook exists).",
    )
    fhir_connect_timeout: float = _setting(
        "FHIR_CONNECT_TIMEOUT", _float_between(0.1, 30), "Seconds to connect to fhirServer."
    )
    fhir_read_timeout: float = _setting(
        "FHIR_READ_TIMEOUT",
        _float_between(0.1, 60),
        "Seconds to wait for each read from fhirServer.",
    )
    fhir_deadline: float = _setting(
        "FHIR_DEADLINE",
        _float_between(0.2, 60),
        "Overall seconds for all FHIR fetches of one hook call, in parallel.",
    )
    fhir_max_pages: int = _setting(
        "FHIR_MAX_PAGES", _int_between(1, 100), "Most searchset pages followed per prefetch key."
    )
    fhir_max_response_bytes: int = _setting(
        "FHIR_MAX_RESPONSE_BYTES",
        _int_between(1024, 512 * 1024 * 1024),
        "Largest single FHIR response read; larger ones count as failed.",
    )
    fhir_max_parallel: int = _setting(
        "FHIR_MAX_PARALLEL", _int_between(1, 64), "Most FHIR requests in flight per process."
    )
    kb_dir: Path = _setting("KB_DIR", _parse_dir, "Folder holding the knowledge base (cards/).")
    local_order_codes: tuple[tuple[str, str, str, str | None], ...] = _setting(
        "LOCAL_ORDER_CODES",
        _parse_local_codes,
        "Local order codes added to suggested orders, and read as the test when an open order "
        "carries one: orderable=system|code[|display], separated by ';' (orderable ids from "
        "cards/orderables.yaml).",
    )
    local_result_codes: tuple[tuple[str, str, str, str | None], ...] = _setting(
        "LOCAL_RESULT_CODES",
        _parse_local_codes,
        "Local laboratory result codes read as a test, for results the laboratory files "
        "without LOINC: id=system|code[|display], separated by ';' (a laboratory value set id "
        "from cards/valuesets, e.g. alp-total, ggt, or an orderable id, e.g. bone-alp).",
    )
    trust_files: tuple[Path, ...] = _setting(
        "TRUST_FILE",
        _parse_paths,
        "Trust file(s), comma-separated: issuers, keys, algorithms, tenants, fhirServers "
        "(docs/security.md).",
    )
    trust_presets: tuple[str, ...] = _setting(
        "TRUST_PRESETS",
        _parse_names,
        "Shipped trust presets to add, comma-separated (cds-hooks-sandbox: development only).",
    )
    jwt_leeway: float = _setting(
        "JWT_LEEWAY", _float_between(0, 600), "Clock leeway for exp, nbf and iat, seconds."
    )
    jwt_max_lifetime: float = _setting(
        "JWT_MAX_LIFETIME",
        _float_between(3600, 86400),
        "Longest accepted token lifetime (exp - iat), seconds; at least one hour.",
    )
    redis_url: str | None = _setting(
        "REDIS_URL",
        _parse_redis_url,
        "Redis for state replicas share (the JWT replay cache); in memory when unset.",
    )
    max_json_depth: int = _setting(
        "MAX_JSON_DEPTH", _int_between(8, 512), "Deepest JSON nesting accepted in a request."
    )
    max_bundle_entries: int = _setting(
        "MAX_BUNDLE_ENTRIES",
        _int_between(10, 1_000_000),
        "Most entries accepted in one Bundle (context results or a prefetch key).",
    )
    data_dir: Path = _setting(
        "DATA_DIR", _parse_dir, "Folder for the SQLite audit database and the audit spool."
    )
    database_url: str | None = _setting(
        "DATABASE_URL",
        _parse_database_url,
        "Audit store: postgresql+psycopg://user:password@host/db; SQLite in DATA_DIR when unset.",
    )
    auto_migrate: bool = _setting(
        "AUTO_MIGRATE",
        _parse_bool,
        "Migrate the audit store's schema at start-up (else, outside development mode, an "
        "unmigrated store stops start-up until `alp-cds db upgrade` is run).",
    )
    audit_pseudonym_key: str | None = _setting(
        "AUDIT_PSEUDONYM_KEY",
        _parse_secret,
        "Secret key: patient and user references are stored as a keyed hash (HMAC-SHA256).",
    )
    audit_retention_days: int = _setting(
        "AUDIT_RETENTION_DAYS",
        _int_between(1, 36500),
        "Audit records older than this are removed by `alp-cds audit prune`.",
    )
    audit_fsync_ms: int = _setting(
        "AUDIT_FSYNC_MS",
        _int_between(0, 10_000),
        "Audit spool: a record is written and flushed before the response (a killed process "
        "loses nothing); fsync follows within this many milliseconds, which bounds what a host "
        "crash or power loss can take; 0 = fsync every record before its response.",
    )
    audit_batch_ms: int = _setting(
        "AUDIT_BATCH_MS",
        _int_between(10, 60_000),
        "Audit writer: each worker loads the spool into the store in batches this often "
        "(milliseconds); `alp-cds audit show` and reports load the spool first.",
    )
    epic_chart_open_days: float = _setting(
        "EPIC_CHART_OPEN_DAYS",
        _float_between(0, 3650),
        "alp-patient-view called by an Epic advisory on opening the chart (triggering action "
        "60) reminds only of an ALP resulted within this many days (docs/ehr/epic.md).",
    )
    log_level: str = _setting("LOG_LEVEL", _parse_log_level, "Log level.")
    dev_mode: bool = _setting(
        "DEV_MODE",
        _parse_bool,
        "Development mode: plain-http fhirServer on loopback, loud warnings. Never in production.",
    )
    console_users_file: Path | None = _setting(
        "CONSOLE_USERS_FILE",
        _parse_file,
        "Informatics console accounts: an htpasswd file with bcrypt hashes (htpasswd -B). "
        "The console (/console) is off unless this or CONSOLE_TRUSTED_HEADER is set.",
    )
    console_trusted_header: str | None = _setting(
        "CONSOLE_TRUSTED_HEADER",
        _parse_header_name,
        "Header carrying the console user name set by an authenticating proxy "
        "(e.g. X-Remote-User); believed only from CONSOLE_TRUSTED_PROXIES.",
    )
    console_trusted_proxies: tuple[str, ...] = _setting(
        "CONSOLE_TRUSTED_PROXIES",
        _parse_networks,
        "Addresses or networks (comma-separated) of the proxies allowed to set "
        "CONSOLE_TRUSTED_HEADER.",
    )
    console_secret_key: str | None = _setting(
        "CONSOLE_SECRET_KEY",
        _parse_secret,
        "Signs console session cookies; set it when replicas share sign-ins or sessions "
        "must survive a restart (random per start when unset).",
    )
    console_candidate_dirs: tuple[Path, ...] = _setting(
        "CONSOLE_CANDIDATE_DIRS",
        _parse_dirs,
        "Candidate cards/ folders (comma-separated) the console's impact preview may run.",
    )

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {
            "host": "127.0.0.1",
            "port": 8080,
            "public_base_url": None,
            "forwarded_allow_ips": ("127.0.0.1", "::1"),
            "workers": 2,
            "threads": 8,
            "request_timeout": 30,
            "max_body_bytes": 8 * 1024 * 1024,
            "cors_origins": ("*",),
            "result_sign_hook": "org.alp-cds.lab-result-sign",
            "fhir_connect_timeout": 2.0,
            "fhir_read_timeout": 3.0,
            "fhir_deadline": 4.0,
            "fhir_max_pages": 10,
            "fhir_max_response_bytes": 16 * 1024 * 1024,
            "fhir_max_parallel": 64,
            "kb_dir": DEFAULT_KB_DIR,
            "local_order_codes": (),
            "local_result_codes": (),
            "trust_files": (),
            "trust_presets": (),
            "jwt_leeway": 60.0,
            "jwt_max_lifetime": 3600.0,
            "redis_url": None,
            "max_json_depth": 64,
            "max_bundle_entries": 20_000,
            "data_dir": Path("var").resolve(),
            "database_url": None,
            "auto_migrate": False,
            "audit_pseudonym_key": None,
            "audit_retention_days": 400,
            "audit_fsync_ms": 5,
            "audit_batch_ms": 150,
            "epic_chart_open_days": 14.0,
            "log_level": "INFO",
            "dev_mode": False,
            "console_users_file": None,
            "console_trusted_header": None,
            "console_trusted_proxies": (),
            "console_secret_key": None,
            "console_candidate_dirs": (),
        }

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read every `ALP_CDS_*` variable; explicit overrides win (tests use them)."""
        env = os.environ if environ is None else environ
        values = cls.defaults()
        known = {f.metadata["env"] for f in fields(cls)}
        unknown = sorted(k for k in env if k.startswith(PREFIX) and k not in known)
        if unknown:
            raise SettingsError(f"{unknown[0]}: unknown setting (see docs/configuration.md)")
        for f in fields(cls):
            name = f.metadata["env"]
            if name in env:
                try:
                    values[f.name] = f.metadata["parse"](env[name])
                except ValueError as exc:
                    raise SettingsError(f"{name}: {exc} (got {env[name]!r})") from None
        values.update(overrides)
        settings = cls(**values)
        settings._check()
        return settings

    def _check(self) -> None:
        if self.fhir_deadline < self.fhir_connect_timeout:
            raise SettingsError(
                f"{PREFIX}FHIR_DEADLINE: must be at least {PREFIX}FHIR_CONNECT_TIMEOUT"
            )
        if not self.kb_dir.is_dir():
            raise SettingsError(f"{PREFIX}KB_DIR: {self.kb_dir} is not a folder")
        trusted = bool(self.trust_files or self.trust_presets)
        if trusted and self.workers > 1 and not self.redis_url:
            # Each worker's in-memory jti cache sees only its own requests, so a token
            # replayed to a sibling worker would pass: JWT replay defence needs shared state.
            # Development mode too: once trust is configured, tokens are checked for real.
            raise SettingsError(
                f"{PREFIX}REDIS_URL: required when {PREFIX}TRUST_FILE or _PRESETS is set and "
                f"{PREFIX}WORKERS is more than 1 (tokens' jti must be shared across workers; "
                f"in development, {PREFIX}WORKERS=1 will do)"
            )

        if self.console_trusted_header and not self.console_trusted_proxies:
            raise SettingsError(
                f"{PREFIX}CONSOLE_TRUSTED_PROXIES: required when {PREFIX}CONSOLE_TRUSTED_HEADER "
                "is set (a header from anyone else is anyone's claim)"
            )

    @property
    def console_enabled(self) -> bool:
        return bool(self.console_users_file or self.console_trusted_header)

    @property
    def audit_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'audit.sqlite3'}"

    @property
    def base_url(self) -> str:
        """Where EHRs reach the service; falls back to the bind address for local use (the
        running app takes it from the request instead: security/public_url.py)."""
        return self.public_base_url or f"http://{self.host}:{self.port}"

    def require_public_base_url(self) -> None:
        """Start-up check: outside development mode the public URL must be configured."""
        if not self.public_base_url and not self.dev_mode:
            raise SettingsError(
                f"{PREFIX}PUBLIC_BASE_URL: required outside development mode: the URL EHRs call "
                "the service at (e.g. https://cds.example.org), the JWT audience and the base "
                "of card links"
            )

    def effective(self) -> list[tuple[str, str]]:
        """(variable, value) for every setting, with credentials in URLs masked."""
        rows = []
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                shown = ", ".join(
                    "|".join(str(x) for x in v if x) if isinstance(v, tuple) else str(v)
                    for v in value
                )
            else:
                shown = "" if value is None else str(value)
            if f.name in SECRETS and value:
                shown = "***"
            rows.append((f.metadata["env"], mask_url_credentials(shown) or "(unset)"))
        return rows

    @staticmethod
    def documented() -> list[tuple[str, str, str]]:
        """(variable, default, description) for each setting, in declaration order."""
        defaults = Settings.defaults()
        rows = []
        for f in fields(Settings):
            default = defaults[f.name]
            if isinstance(default, tuple):
                shown = ",".join(str(d) for d in default) or "(none)"
            elif isinstance(default, Path) and f.name == "kb_dir":
                shown = "cards/ beside the package"
            elif isinstance(default, Path):
                shown = "./var"
            elif default is None:
                shown = "(unset)"
            else:
                shown = str(default).lower() if isinstance(default, bool) else str(default)
            rows.append((f.metadata["env"], shown, f.metadata["doc"]))
        return rows
