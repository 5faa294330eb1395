"""Who is looking: console sign-in.

Two ways in, either or both configured:
- a users file in htpasswd format with bcrypt hashes (`htpasswd -B`): HTTP Basic for scripts, or
  the login form, which sets a signed session cookie (HttpOnly, SameSite=Strict, scoped to
  /console, Secure outside development mode, eight hours) for browsers. The form and sign-out are
  CSRF-protected: the login form by a signed token bound to a pre-login cookie, sign-out by the
  token kept in the session.
- a header carrying the user name, set by the organisation's authenticating proxy; believed only
  when the connection comes from one of the configured proxy addresses. The address is the TCP
  peer (`REMOTE_ADDR`); the app applies no X-Forwarded-For rewriting, so it cannot be spoofed.

The users file is re-read when it changes, so accounts can be added or removed without a
restart; a removed account's session stops working at its next request.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import re
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt
from itsdangerous import BadSignature, URLSafeTimedSerializer

log = logging.getLogger(__name__)
security_log = logging.getLogger("cds_service.security")

SESSION_COOKIE = "alp_console"
LOGIN_COOKIE = "alp_console_login"
SESSION_SECONDS = 8 * 3600
# A script sending HTTP Basic on every request would pay a bcrypt check (~0.25 s) each time;
# a successful check is remembered this long, as a keyed digest, never the password.
VERIFIED_SECONDS = 300
LOGIN_FORM_SECONDS = 3600
BCRYPT_PREFIXES = (b"$2a$", b"$2b$", b"$2y$")
# A user name from a file or a proxy header: printable, no separators that would confuse logs.
USER_NAME = re.compile(r"[^\x00-\x1f\x7f:]{1,256}")


class UsersFileError(ValueError):
    """The users file cannot be used; the message names the line."""


@dataclass(frozen=True)
class Principal:
    user: str
    via: str
    """basic, form or header"""
    csrf: str | None = None
    """The session's CSRF token (form sign-in only)."""


def parse_users(text: str, where: str) -> dict[str, bytes]:
    users: dict[str, bytes] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, hashed = line.partition(":")
        if not sep or not USER_NAME.fullmatch(name):
            raise UsersFileError(f"{where}:{number}: expected user:bcrypt-hash")
        encoded = hashed.strip().encode()
        if not encoded.startswith(BCRYPT_PREFIXES) or len(encoded) != 60:
            # MD5 (apr1), SHA-1 and crypt hashes are too weak to accept; say which line.
            raise UsersFileError(
                f"{where}:{number}: user {name!r} has no bcrypt hash (create it with htpasswd -B)"
            )
        users[name] = encoded
    return users


class UsersFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._users: dict[str, bytes] = {}
        self._verified: dict[str, tuple[bytes, bytes, float]] = {}
        self._pepper = secrets.token_bytes(32)
        self._load(strict=True)
        # Checked for an unknown name too, so a wrong name costs what a wrong password costs.
        cost = next(iter(self._users.values()), b"$2b$12$")[4:6].decode()
        rounds = int(cost) if cost.isdigit() and 4 <= int(cost) <= 31 else 12
        self._dummy = bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(rounds))

    def _load(self, strict: bool) -> None:
        stat = self.path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp == self._stamp:
            return
        try:
            users = parse_users(self.path.read_text("utf-8"), str(self.path))
        except (UsersFileError, UnicodeDecodeError) as exc:
            if strict:
                raise UsersFileError(str(exc)) from None
            # Fail closed: nobody signs in from a broken file until it is fixed.
            log.error("console users file unusable, no sign-in accepted: %s", exc)
            users = {}
        self._stamp, self._users = stamp, users

    def users(self) -> dict[str, bytes]:
        with self._lock:
            try:
                self._load(strict=False)
            except OSError:
                log.error("console users file %s unreadable; no sign-in accepted", self.path)
                self._users, self._stamp = {}, None
            return self._users

    def exists(self, user: str) -> bool:
        return user in self.users()

    def verify(self, user: str, password: str) -> bool:
        hashed = self.users().get(user)
        candidate = password.encode("utf-8")[:72]  # bcrypt reads at most 72 bytes
        if hashed is None:
            bcrypt.checkpw(candidate, self._dummy)
            return False
        digest = hmac.new(self._pepper, candidate, hashlib.sha256).digest()
        with self._lock:
            known = self._verified.get(user)
        fresh = known is not None and known[1] == hashed and known[2] > time.monotonic()
        if fresh and known is not None and hmac.compare_digest(known[0], digest):
            return True
        # Anything else pays the full bcrypt price, so guessing is never cheap.
        try:
            ok = bcrypt.checkpw(candidate, hashed)
        except ValueError:
            return False
        if ok:
            with self._lock:
                if len(self._verified) > 1000:
                    self._verified.clear()
                self._verified[user] = (digest, hashed, time.monotonic() + VERIFIED_SECONDS)
        return ok


class TrustedProxies:
    def __init__(self, networks: Iterable[str]) -> None:
        self.networks = [ipaddress.ip_network(n) for n in networks]

    def allows(self, address: str | None) -> bool:
        if not address:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.networks)


def header_user(value: str | None) -> str | None:
    """The user name a proxy asserted, or None when it is missing or not a plausible name."""
    if value is None:
        return None
    name = value.strip()
    return name if USER_NAME.fullmatch(name) else None


class Sessions:
    """Signed, timed session and login-form tokens."""

    def __init__(self, secret: str) -> None:
        self._session = URLSafeTimedSerializer(secret, salt="alp-cds-console-session")
        self._login = URLSafeTimedSerializer(secret, salt="alp-cds-console-login-form")

    def issue(self, user: str) -> tuple[str, str]:
        """(cookie value, CSRF token) for a new session."""
        csrf = secrets.token_urlsafe(24)
        return self._session.dumps({"u": user, "c": csrf}), csrf

    def read(self, cookie: str | None) -> tuple[str, str] | None:
        if not cookie:
            return None
        try:
            data: Any = self._session.loads(cookie, max_age=SESSION_SECONDS)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("u"), str):
            return None
        csrf = data.get("c")
        return (data["u"], csrf) if isinstance(csrf, str) else None

    def login_form(self) -> tuple[str, str]:
        """(pre-login cookie value, form token): the form token is valid only with that cookie."""
        nonce = secrets.token_urlsafe(24)
        return nonce, self._login.dumps(nonce)

    def login_form_valid(self, cookie: str | None, token: str | None) -> bool:
        if not cookie or not token:
            return False
        try:
            nonce: Any = self._login.loads(token, max_age=LOGIN_FORM_SECONDS)
        except BadSignature:
            return False
        return isinstance(nonce, str) and hmac.compare_digest(nonce, cookie)


def same_token(expected: str | None, given: str | None) -> bool:
    return bool(expected and given) and hmac.compare_digest(str(expected), str(given))
