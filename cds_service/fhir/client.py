"""A small FHIR R4 read/search client for the EHR's `fhirServer`.

One exception class per way a fetch can fail, so callers can say exactly what was unavailable.
The bearer token is attached only to URLs under the configured base (a `next` link pointing
elsewhere is refused, not followed), redirects are not followed, cookies are never kept, and every
response is read against a byte limit and the caller's deadline, so a slow or hostile server can
only cost its share of the deadline.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import requests
from urllib3.exceptions import LocationParseError

from cds_service import strict_json
from cds_service.fhir.values import as_list
from cds_service.fhir.watchdog import WatchedAdapter, watched

FHIR_JSON = "application/fhir+json"


class FhirError(Exception):
    """A FHIR request failed; `str()` is safe to log and to show (no token, no body)."""

    status: int | None = None


class FhirTimeout(FhirError):
    """No complete answer before the read timeout or the overall deadline."""


class FhirUnreachable(FhirError):
    """The connection could not be made (refused, DNS, TLS)."""


class FhirHttpError(FhirError):
    def __init__(self, status: int, url: str) -> None:
        super().__init__(f"HTTP {status} from {url}")
        self.status = status


class FhirUnauthorized(FhirHttpError):
    """401: the access token was missing, expired or refused."""


class FhirForbidden(FhirHttpError):
    """403: the token's scopes do not cover this read."""


class FhirNotFound(FhirHttpError):
    """404 or 410."""


class FhirServerError(FhirHttpError):
    """5xx, 429 or another status the client cannot use."""


class FhirInvalidResponse(FhirError):
    """The answer was not a FHIR JSON resource, or was larger than allowed."""


class FhirPolicyError(FhirError):
    """A URL the client refuses to call (outside fhirServer, wrong scheme)."""


_STATUS_ERRORS: dict[int, type[FhirHttpError]] = {
    401: FhirUnauthorized,
    403: FhirForbidden,
    404: FhirNotFound,
    410: FhirNotFound,
}


def new_session(pool_size: int) -> requests.Session:
    """A shared session: pooled connections, no cookies, no proxy or netrc from the environment."""
    session = requests.Session()
    session.trust_env = False
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    adapter = WatchedAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@dataclass(frozen=True)
class Limits:
    connect_timeout: float
    read_timeout: float
    max_response_bytes: int
    max_pages: int


class FhirClient:
    """Reads from one FHIR base URL on behalf of one hook call."""

    def __init__(
        self,
        base_url: str,
        access_token: str | None,
        session: requests.Session,
        limits: Limits,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self._token = access_token
        self._session = session
        self._limits = limits
        base = urlsplit(self.base_url)
        self._origin = (base.scheme, base.netloc.lower())
        self._base_path = base.path

    def __repr__(self) -> str:  # never show the token
        return f"FhirClient({self.base_url!r})"

    def url_for(self, url: str) -> str:
        """An absolute URL for a query relative to the base (or an absolute URL, unchanged).

        A query may itself contain "://" (`code=http://loinc.org|6768-6`), so only a scheme and
        host at the start make a URL absolute.
        """
        try:
            parts = urlsplit(url)
        except ValueError:
            return url  # _check_url refuses it
        if parts.scheme in {"http", "https"} and parts.netloc:
            return url
        return urljoin(self.base_url, url.lstrip("/"))

    def _check_url(self, url: str) -> None:
        try:
            parts = urlsplit(url)
        except ValueError:
            raise FhirPolicyError("refused to call a URL that does not parse") from None
        if (parts.scheme, parts.netloc.lower()) != self._origin or not parts.path.startswith(
            self._base_path
        ):
            host = parts.netloc.rpartition("@")[2]
            raise FhirPolicyError(f"refused to call {parts.scheme}://{host}: not fhirServer")
        # `fhir/../admin` starts with the base path but a server or proxy that normalises
        # dot segments would serve something outside it, with our bearer token.
        if any(unquote(segment) in {".", ".."} for segment in parts.path.split("/")):
            raise FhirPolicyError("refused to call a URL with dot segments in its path")

    def get(self, url: str, deadline: float) -> dict[str, Any]:
        """GET one URL (absolute, under the base) and return the decoded JSON object."""
        self._check_url(url)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FhirTimeout(f"deadline passed before GET {self._display(url)}")
        headers = {"Accept": FHIR_JSON}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        timeout = (
            min(self._limits.connect_timeout, remaining),
            min(self._limits.read_timeout, remaining),
        )
        with watched(remaining) as watch:
            try:
                response = self._session.get(
                    url, headers=headers, timeout=timeout, stream=True, allow_redirects=False
                )
            except requests.Timeout:
                raise FhirTimeout(f"timed out: GET {self._display(url)}") from None
            except (requests.RequestException, LocationParseError, ValueError) as exc:
                if watch.expired:
                    raise FhirTimeout(f"deadline passed: GET {self._display(url)}") from None
                # ValueError and urllib3's LocationParseError: a host that is not a valid name.
                reason = type(exc).__name__
                raise FhirUnreachable(f"{reason}: GET {self._display(url)}") from None
            with response:
                if response.status_code != 200:
                    error = _STATUS_ERRORS.get(response.status_code, FhirServerError)
                    raise error(response.status_code, self._display(url))
                try:
                    body = self._read(response, deadline, url)
                except FhirUnreachable:
                    if watch.expired:
                        raise FhirTimeout(f"deadline passed reading {self._display(url)}") from None
                    raise
                if watch.expired:  # cut mid-body: what was read is not the whole answer
                    raise FhirTimeout(f"deadline passed reading {self._display(url)}")
        try:
            # The audit record keeps resource ids and texts: a string it could not store
            # makes the response unusable, like one that is not JSON.
            decoded = strict_json.loads_text(body)
        except strict_json.UnfitText:
            raise FhirInvalidResponse(
                f"a string with a NUL or a lone surrogate: GET {self._display(url)}"
            ) from None
        except (ValueError, RecursionError):
            raise FhirInvalidResponse(f"not JSON: GET {self._display(url)}") from None
        if not isinstance(decoded, dict) or not isinstance(decoded.get("resourceType"), str):
            raise FhirInvalidResponse(f"not a FHIR resource: GET {self._display(url)}")
        return decoded

    def _read(self, response: requests.Response, deadline: float, url: str) -> bytes:
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self._limits.max_response_bytes:
            raise FhirInvalidResponse(f"response too large: GET {self._display(url)}")
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(chunk_size=65536):
                size += len(chunk)
                if size > self._limits.max_response_bytes:
                    raise FhirInvalidResponse(f"response too large: GET {self._display(url)}")
                if time.monotonic() > deadline:
                    raise FhirTimeout(f"deadline passed while reading {self._display(url)}")
                chunks.append(chunk)
        except requests.Timeout:
            raise FhirTimeout(f"timed out reading {self._display(url)}") from None
        except requests.RequestException as exc:
            raise FhirUnreachable(f"{type(exc).__name__} reading {self._display(url)}") from None
        return b"".join(chunks)

    def pages(
        self, first: Mapping[str, Any], deadline: float, pages_before: int = 0
    ) -> Iterator[Mapping[str, Any]]:
        """Yield a searchset Bundle and the pages its `next` links lead to, up to the limit
        (counting `pages_before` pages of the same search already had, e.g. with the prefetch)."""
        page: Mapping[str, Any] = first
        count = pages_before + 1
        yield page
        while True:
            next_url = next_link(page)
            if next_url is None:
                return
            if count >= self._limits.max_pages:
                raise FhirInvalidResponse(
                    f"more than {self._limits.max_pages} pages; stopped following next links"
                )
            page = self.get(self.url_for(next_url), deadline)
            if page.get("resourceType") != "Bundle":
                raise FhirInvalidResponse("a next link did not return a Bundle")
            count += 1
            yield page

    def _display(self, url: str) -> str:
        """The URL without credentials or query string: patient ids and passwords stay out of
        logs and error text."""
        try:
            parts = urlsplit(url)
        except ValueError:
            return "(an unparsable URL)"
        host = parts.netloc.rpartition("@")[2]
        return f"{parts.scheme}://{host}{parts.path}"


def next_link(bundle: Mapping[str, Any]) -> str | None:
    for link in as_list(bundle.get("link")):
        if isinstance(link, Mapping) and link.get("relation") == "next":
            url = link.get("url")
            if isinstance(url, str) and url:
                return url
    return None
