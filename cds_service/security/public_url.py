"""The service's public base URL: for absolute card links and as the JWT audience.

With `ALP_CDS_PUBLIC_BASE_URL` set (required outside development mode) that URL is used,
whatever the request says: the JWT `aud` must then be checked against a value the caller cannot
choose, or a token minted for another service would pass here by sending that service's Host.

In development mode without it, the URL is the one the caller used (scheme and Host), so card
links open from wherever the EHR or the sandbox runs, not at the bind address (`0.0.0.0:8080`
opens nowhere). `X-Forwarded-Proto`, `-Host` and `-Prefix` are honoured only when the peer
that sent them is one of `ALP_CDS_FORWARDED_ALLOW_IPS` (a local proxy or tunnel); from anyone
else they are ignored, since anyone can send them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from flask import Request, has_request_context, request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(items: Iterable[str]) -> tuple[Network, ...]:
    """`127.0.0.1`, `10.0.0.0/8`, `::1`, or `*` (any peer) -> networks; ValueError if not."""
    networks: list[Network] = []
    for item in items:
        text = item.strip()
        if text == "*":
            networks += [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]
        elif text:
            networks.append(ipaddress.ip_network(text, strict=False))
    return tuple(networks)


def _last(value: str | None) -> str | None:
    """A forwarded header's value as our proxy set it: the last of a comma-separated list (a
    proxy appends to what the client sent, or replaces it)."""
    if not value:
        return None
    last = value.split(",")[-1].strip()
    return last or None


class PublicUrl:
    def __init__(
        self, configured: str | None, fallback: str, forwarded_allow: tuple[Network, ...] = ()
    ) -> None:
        self.configured = configured.rstrip("/") if configured else None
        self.fallback = fallback.rstrip("/")
        self.forwarded_allow = forwarded_allow

    def _trusted_peer(self, req: Request) -> bool:
        try:
            peer = ipaddress.ip_address((req.remote_addr or "").split("%")[0])
        except ValueError:
            return False
        return any(peer in network for network in self.forwarded_allow)

    def for_request(self, req: Request) -> str:
        if self.configured:
            return self.configured
        scheme, host, prefix = req.scheme, req.host, req.script_root
        if self._trusted_peer(req):
            forwarded_scheme = _last(req.headers.get("X-Forwarded-Proto"))
            if forwarded_scheme and forwarded_scheme.lower() in {"http", "https"}:
                scheme = forwarded_scheme.lower()
            host = _last(req.headers.get("X-Forwarded-Host")) or host
            prefix = _last(req.headers.get("X-Forwarded-Prefix")) or prefix
        candidate = f"{scheme}://{host}{'/' + prefix.strip('/') if prefix.strip('/') else ''}"
        # A Host header is caller data: use it only if it makes a plain http(s) URL.
        parts = urlsplit(candidate)
        try:
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError:
            return self.fallback
        if not parts.hostname or parts.query or parts.fragment or "@" in parts.netloc:
            return self.fallback
        if any(not "!" <= ch <= "~" for ch in candidate):
            return self.fallback
        return candidate

    def current(self) -> str:
        """For code that runs inside a request without holding it (card rendering); the
        configured or bind address outside one (warm-up, `alp-cds evaluate`)."""
        if self.configured:
            return self.configured
        return self.for_request(request) if has_request_context() else self.fallback
