"""Misbehaving loopback FHIR servers for the fault-injection tests.

Two kinds, both bound to loopback only and both recording what they were sent:

- `WsgiFhirServer`: a threaded werkzeug server around a `Request -> Response` function, for
  faults that are well-formed HTTP (500, 429, HTML, redirects, endless or wrong answers).
- `RawFhirServer`: a plain socket server whose `behaviour(conn)` writes whatever bytes it likes,
  for faults below HTTP (hangs, slow drips, resets, short bodies) and for answers whose memory
  cost is measured (werkzeug's dev server allocates a 10 MB buffer per request, which
  tracemalloc would count).

Every loop here is bounded (by a count, a size or a timeout) and `stop()` wakes whatever a
behaviour is waiting on, shuts every connection down and joins every thread it started.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

LOOPBACK = "127.0.0.1"
JOIN_TIMEOUT = 5.0
HEAD_LIMIT = 64 * 1024
"""Largest request head a raw server reads before giving up on a connection."""
MAX_LIFETIME = 120.0
"""Hard cap on how long a raw server accepts connections, whatever a test forgets to do."""


@dataclass(frozen=True)
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)


@dataclass
class RequestLog:
    """Thread-safe list of what a server was sent."""

    _items: list[Seen] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, seen: Seen) -> None:
        with self._lock:
            self._items.append(seen)

    def all(self) -> list[Seen]:
        with self._lock:
            return list(self._items)

    def paths(self) -> list[str]:
        return [s.path for s in self.all()]


def second_loopback_host() -> str:
    """Another loopback address (127.0.0.2) where the system allows binding it, else 127.0.0.1.

    A server there is "another host" for the service: a different origin from the fhirServer.
    """
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        probe.bind(("127.0.0.2", 0))
    except OSError:
        return LOOPBACK
    finally:
        probe.close()
    return "127.0.0.2"


def _check_loopback(host: str) -> None:
    if not host.startswith("127."):
        raise ValueError(f"fault-injection servers bind to loopback only, not {host!r}")


class WsgiFhirServer:
    """A threaded werkzeug server: `handler(request, server)` answers each request."""

    def __init__(
        self,
        handler: Callable[[Request, WsgiFhirServer], Response],
        host: str = LOOPBACK,
    ) -> None:
        _check_loopback(host)
        self.handler = handler
        self.log = RequestLog()

        @Request.application
        def app(request: Request) -> Response:
            self.log.add(
                Seen(
                    request.method,
                    request.path,
                    request.query_string.decode("latin-1"),
                    dict(request.headers.items()),
                )
            )
            return self.handler(request, self)

        self._server: BaseWSGIServer = make_server(host, 0, app, threaded=True)
        self.host = host
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"faulty-wsgi-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def url(self, path: str = "/fhir") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(JOIN_TIMEOUT)


@dataclass
class RawConnection:
    """What a raw behaviour gets: the socket, the request head, and the server's stop event."""

    sock: socket.socket
    seen: Seen
    stopped: threading.Event
    accepted_at: float
    ended_at: float | None = None
    """When the behaviour finished (by itself, or because the client went away)."""
    client_went_away: bool = False

    def send(self, data: bytes) -> bool:
        """Send all of `data`; False when the client has gone (reset or closed)."""
        try:
            self.sock.sendall(data)
        except OSError:
            self.client_went_away = True
            return False
        return True

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True if the server is being stopped."""
        return self.stopped.wait(seconds)

    def reset(self) -> None:
        """Close with SO_LINGER 0: the client gets a TCP RST, not a clean FIN."""
        with contextlib.suppress(OSError):
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    @property
    def held(self) -> float | None:
        """Seconds from accept until the behaviour ended, or None while it runs."""
        return None if self.ended_at is None else self.ended_at - self.accepted_at


def _read_head(sock: socket.socket, timeout: float = 5.0) -> Seen | None:
    """Read one request head (up to HEAD_LIMIT bytes); None if the client sent none."""
    sock.settimeout(timeout)
    buffer = b""
    try:
        while b"\r\n\r\n" not in buffer and len(buffer) < HEAD_LIMIT:
            chunk = sock.recv(4096)
            if not chunk:
                return None
            buffer += chunk
    except OSError:
        return None
    finally:
        sock.settimeout(None)
    head = buffer.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    request_line, *header_lines = head.split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3:
        return None
    target = urlsplit(parts[1])
    headers = {}
    for line in header_lines:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip()] = value.strip()
    return Seen(parts[0], target.path, target.query, headers)


class RawFhirServer:
    """A socket server: each connection's request head is read and logged, then
    `behaviour(conn)` writes (or withholds) the answer. Connections run in parallel."""

    def __init__(
        self,
        behaviour: Callable[[RawConnection], None],
        host: str = LOOPBACK,
    ) -> None:
        _check_loopback(host)
        self.behaviour = behaviour
        self.log = RequestLog()
        self.stopped = threading.Event()
        self.connections: list[RawConnection] = []
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, 0))
        self._listener.listen(32)
        self._listener.settimeout(0.05)
        self.host = host
        self.port: int = self._listener.getsockname()[1]
        self._started = time.monotonic()
        self._accepter = threading.Thread(
            target=self._accept_loop, name=f"faulty-raw-{self.port}", daemon=True
        )
        self._accepter.start()

    def url(self, path: str = "/fhir") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def _accept_loop(self) -> None:
        while not self.stopped.is_set() and time.monotonic() - self._started < MAX_LIFETIME:
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            with self._lock:
                self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        accepted = time.monotonic()
        seen = _read_head(sock)
        if seen is None:  # no request came: nothing to misbehave about
            sock.close()
            return
        self.log.add(seen)
        conn = RawConnection(sock, seen, self.stopped, accepted)
        with self._lock:
            self.connections.append(conn)
        try:
            self.behaviour(conn)
        except OSError:
            conn.client_went_away = True
        finally:
            conn.ended_at = time.monotonic()
            sock.close()

    def finished(self) -> list[RawConnection]:
        with self._lock:
            return [c for c in self.connections if c.ended_at is not None]

    def wait_until_finished(self, count: int, timeout: float) -> list[RawConnection]:
        """Wait (bounded) until `count` connections have ended; return those that have."""
        limit = time.monotonic() + timeout
        while time.monotonic() < limit and len(self.finished()) < count:
            time.sleep(0.02)
        return self.finished()

    def stop(self) -> None:
        self.stopped.set()
        self._accepter.join(JOIN_TIMEOUT)
        self._listener.close()
        with self._lock:
            threads = list(self._threads)
            connections = list(self.connections)
        for conn in connections:  # wakes a behaviour blocked in sendall to a client gone quiet
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(JOIN_TIMEOUT)


def http_head(status: str, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    return "\r\n".join(lines).encode("latin-1")


def drip(conn: RawConnection, data: bytes, interval: float) -> None:
    """Send `data` one byte at a time, `interval` seconds apart, until done, stopped, or the
    client goes away (bounded by len(data))."""
    for byte in data:
        if not conn.send(bytes([byte])) or conn.wait(interval):
            return


def respond(
    conn: RawConnection,
    body: bytes,
    *,
    status: str = "200 OK",
    headers: dict[str, str] | None = None,
    chunk_size: int | None = None,
) -> None:
    """A complete HTTP/1.1 answer: with Content-Length, or chunked in `chunk_size` pieces."""
    head = {"Content-Type": "application/fhir+json", "Connection": "close", **(headers or {})}
    if chunk_size is None:
        head["Content-Length"] = str(len(body))
        if conn.send(http_head(status, head)):
            conn.send(body)
        return
    head["Transfer-Encoding"] = "chunked"
    if not conn.send(http_head(status, head)):
        return
    for start in range(0, len(body), chunk_size):
        piece = body[start : start + chunk_size]
        if not conn.send(b"%x\r\n%s\r\n" % (len(piece), piece)):
            return
    conn.send(b"0\r\n\r\n")
