"""gunicorn's gthread worker, with the requests gunicorn refuses itself answered as the app
answers errors: a JSON OperationOutcome with the CORS header, never gunicorn's HTML page.

gunicorn refuses a request before the app sees it when it cannot parse it: a header line over
`limit_request_field_size` or too many headers (431), a request line over `limit_request_line`
(414), a malformed request (400), an unknown transfer coding (501). `Worker.handle_error` logs
the refusal, picks the status and writes an HTML page (`util.write_error`); a browser client
such as the CDS Hooks sandbox cannot read that page, since it has no CORS header.

`handle_error` here lets gunicorn do the logging and pick the status, as it always does, but
hands it a stand-in for the client socket: what gunicorn would have written stays there, its
status line is read back, and the client gets JSON instead. The diagnostics are fixed texts per
status, never gunicorn's message: that one can quote the request line or a header, which may
hold a token or a patient id (ARCHITECTURE section 4: errors never echo the request).
"""

from __future__ import annotations

from typing import Any

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker

from cds_service import strict_json
from cds_service.hooks.errors import Issue, operation_outcome
from cds_service.security.cors import allowed_origin

# FHIR issue types for the statuses gunicorn answers (gunicorn/workers/base.py handle_error).
ISSUE_CODES = {
    400: "invalid",
    403: "forbidden",
    414: "too-long",
    417: "not-supported",
    431: "too-long",
    501: "not-supported",
}


class _CapturedPage:
    """Stands in for the client socket while gunicorn writes its error page. gunicorn writes it
    with util.write_nonblock, which asks the socket for its timeout, and then sendall()s it."""

    def __init__(self) -> None:
        self.data = bytearray()

    def gettimeout(self) -> float:
        return 0.0  # "non-blocking already": write_nonblock goes straight to sendall

    def setblocking(self, flag: bool) -> None:
        pass

    def sendall(self, data: bytes) -> None:
        self.data += data

    def status(self) -> tuple[int, str] | None:
        """From the status line, e.g. `HTTP/1.1 431 Request Header Fields Too Large`."""
        line = bytes(self.data).split(b"\r\n", 1)[0].decode("latin-1")
        version, _, rest = line.partition(" ")
        code, _, reason = rest.partition(" ")
        if version.startswith("HTTP/") and code.isdigit() and len(code) == 3 and reason:
            return int(code), reason
        return None


def diagnostics(status: int, reason: str, cfg: Any) -> Issue:
    """What to tell the client, in words that hold for any request refused this way."""
    if status == 431:
        text = (
            f"request header fields too large (at most {cfg.limit_request_fields} fields, "
            f"each line at most {cfg.limit_request_field_size} bytes)"
        )
    elif status == 414:
        text = f"request line too long (at most {cfg.limit_request_line} bytes)"
    elif status == 400:
        text = "malformed HTTP request"
    else:
        text = reason.lower()
    code = ISSUE_CODES.get(status, "exception" if status >= 500 else "invalid")
    return Issue(code, text)


def error_response(status: int, reason: str, issue: Issue, allow_origin: str | None) -> bytes:
    """The whole HTTP/1.1 response: an OperationOutcome, the connection closed (the request
    could not be parsed, so nothing after it on the connection can be either)."""
    body = strict_json.dumps(operation_outcome([issue]))
    head = [
        f"HTTP/1.1 {status} {reason}",
        "Connection: close",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    if allow_origin is not None:
        head.append(f"Access-Control-Allow-Origin: {allow_origin}")
        if allow_origin != "*":
            head.append("Vary: Origin")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def _origin(req: Any) -> str | None:
    """The Origin header, if gunicorn got as far as parsing the headers (usually not)."""
    for name, value in getattr(req, "headers", None) or ():
        if name == "ORIGIN":
            return str(value) if value.isascii() and value.isprintable() else None
    return None


_UNQUOTED: dict[type[BaseException], type[BaseException]] = {}


def unquoted(exc: BaseException) -> BaseException:
    """The same exception (same class, for gunicorn's choice of status, same attributes) whose
    text is only its class name."""
    kind = type(exc)
    quiet = _UNQUOTED.get(kind)
    if quiet is None:
        quiet = type(kind.__name__, (kind,), {"__str__": lambda _self: kind.__name__})
        _UNQUOTED[kind] = quiet
    clone = kind.__new__(quiet)
    clone.__dict__.update(exc.__dict__)
    clone.args = exc.args
    return clone


# How long one read of a request (its headers or body) may wait for the client. gthread's
# worker threads read with blocking sockets and no timeout, so a client that sends the headers
# and part of a body, then nothing, held a thread until it closed the connection: a few such
# connections took every thread of every worker (QA 12 #5). With this, a stalled request is
# dropped after this many seconds of silence (its body read fails: a 400, or the connection is
# closed). It bounds each wait, not the whole body: a client trickling a byte every few seconds
# is stopped only by a buffering proxy in front (docs/operations.md).
READ_TIMEOUT_SECONDS = 10.0


class JsonErrorWorker(ThreadWorker):  # type: ignore[misc]
    read_timeout = READ_TIMEOUT_SECONDS

    def handle(self, conn: Any) -> Any:
        """gthread's handle, with every read of the request bounded by `read_timeout`.

        gthread sets the client socket blocking (no timeout) and then calls `conn.init()`
        before each request is parsed (a no-op after the first); the timeout is set right after
        that call, so it covers the request line, the headers and the body. `init` is wrapped
        per connection rather than copied: the rest of gunicorn's handling stays its own."""
        if not getattr(conn, "_read_timeout_set", False):
            init = conn.init
            timeout = self.read_timeout

            def init_with_timeout() -> None:
                init()
                if not getattr(conn, "is_http2", False):
                    conn.sock.settimeout(timeout)

            conn.init = init_with_timeout
            conn._read_timeout_set = True
        return super().handle(conn)

    def cors_origins(self) -> tuple[str, ...]:
        """The app's CORS setting (ALP_CDS_CORS_ORIGINS); none for an app that is not ours."""
        state = getattr(getattr(self, "wsgi", None), "extensions", {}).get("alp_cds")
        origins: tuple[str, ...] = state.settings.cors_origins if state is not None else ()
        return origins

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        page = _CapturedPage()
        # gunicorn logs and chooses the status; its log line for a refused request quotes the
        # exception, which can hold the request line or a header (a bearer token): it gets
        # the exception's kind only.
        super().handle_error(req, page, addr, unquoted(exc))
        status, reason = page.status() or (500, "Internal Server Error")
        origins = self.cors_origins()
        # Without the request's headers its Origin is unknown: "*" still fits any origin.
        allow = "*" if "*" in origins else allowed_origin(_origin(req), origins)
        response = error_response(status, reason, diagnostics(status, reason, self.cfg), allow)
        try:
            util.write_nonblock(client, response)
        except Exception:  # the client is gone, or would block: as gunicorn does, give up
            self.log.debug("Failed to send error message.")
