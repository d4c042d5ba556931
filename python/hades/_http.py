"""HTTP/1.1 as the hades service speaks it (docs/protocol.md), without I/O.

``format_request`` makes the bytes of a request; ``read_response`` is a generator that says what it
needs next (bytes up to a separator, an exact count, or everything until the peer closes) and
returns the parsed ``Response``. The blocking client (``_connection``) and the asyncio client
(``aio``) each drive it with their own socket, so the protocol is written once.
"""

from dataclasses import dataclass
from typing import Dict, Generator, Optional, Tuple, Union

from .errors import IoError, TooLargeError

__all__ = ["Response", "Until", "Exactly", "ToEnd", "format_request", "read_response",
           "MAX_BODY_BYTES", "MAX_HEADER_BYTES"]

MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 1 << 30  # the client refuses answers above 1 GiB rather than exhaust memory


@dataclass(frozen=True)
class Until:
    """Read up to and including SEPARATOR."""

    separator: bytes
    limit: int


@dataclass(frozen=True)
class Exactly:
    """Read exactly COUNT bytes."""

    count: int


@dataclass(frozen=True)
class ToEnd:
    """Read until the peer closes the connection."""

    limit: int


Step = Union[Until, Exactly, ToEnd]


@dataclass(frozen=True)
class Response:
    status: int
    headers: Dict[str, str]  #: names in lower case
    body: bytes
    keep_alive: bool

    def header(self, name: str) -> str:
        return self.headers.get(name, "")


def format_request(method: str, target: str, body: bytes = b"", *, host: str = "localhost",
                   authorization: str = "") -> bytes:
    """The bytes of METHOD TARGET with a JSON BODY (POST always names its length), to HOST, with
    an Authorization header when AUTHORIZATION is given."""
    head = (f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: hades-python\r\n"
            "Accept: application/json\r\n")
    if authorization:
        head += f"Authorization: {authorization}\r\n"
    if body or method == "POST":
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return (head + "\r\n").encode("ascii") + body


def _malformed(what: str) -> IoError:
    return IoError(f"malformed HTTP response from the service: {what}")


def _size(text: str, base: int, what: str) -> int:
    try:
        value = int(text, base)
    except ValueError:
        raise _malformed(f"{what} '{text}'") from None
    if value < 0 or not text or text.strip() != text:
        raise _malformed(f"{what} '{text}'")
    if value > MAX_BODY_BYTES:
        raise TooLargeError(f"the service's response is larger than {MAX_BODY_BYTES} bytes")
    return value


def _parse_head(head: bytes) -> Tuple[int, Dict[str, str], bool]:
    """The status, headers and keep-alive of a response head (without its blank line)."""
    lines = head.decode("latin-1").split("\r\n")
    status_line = lines[0]
    if len(status_line) < 12 or not status_line.startswith("HTTP/") or status_line[8] != " ":
        raise _malformed(f"status line '{status_line[:80]}'")
    status = _size(status_line[9:12], 10, "status code")
    keep_alive = status_line[5:8] == "1.1"
    headers: Dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            raise _malformed(f"header line '{line[:80]}'")
        name = name.strip().lower()
        value = value.strip()
        headers[name] = value
        if name == "connection":
            options = value.lower()
            if "close" in options:
                keep_alive = False
            if "keep-alive" in options:
                keep_alive = True
    return status, headers, keep_alive


def _chunked_body() -> Generator[Step, bytes, bytes]:
    parts = []
    total = 0
    while True:
        line = yield Until(b"\r\n", MAX_HEADER_BYTES)
        size = _size(line[:-2].split(b";")[0].strip().decode("latin-1"), 16, "chunk size")
        if size == 0:
            # Trailers (ignored) end with an empty line.
            while (yield Until(b"\r\n", MAX_HEADER_BYTES)) != b"\r\n":
                pass
            return b"".join(parts)
        total += size
        if total > MAX_BODY_BYTES:
            raise TooLargeError(f"the service's response is larger than {MAX_BODY_BYTES} bytes")
        data = yield Exactly(size + 2)
        parts.append(data[:-2])


def read_response() -> Generator[Step, bytes, Response]:
    """Yields what to read next and receives it; returns the response. An informational
    answer (1xx) is skipped."""
    while True:
        raw = yield Until(b"\r\n\r\n", MAX_HEADER_BYTES)
        status, headers, keep_alive = _parse_head(bytes(raw[:-4]))
        if not 100 <= status < 200:
            break
    length: Optional[int] = None
    if "content-length" in headers:
        length = _size(headers["content-length"], 10, "Content-Length")
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = yield from _chunked_body()
    elif length is not None:
        body = (yield Exactly(length)) if length else b""
    else:
        body = yield ToEnd(MAX_BODY_BYTES)
        keep_alive = False
    return Response(status, headers, body, keep_alive)
