"""Blocking HTTP/1.1 over a Unix socket or TCP, and a thread-safe pool of kept-alive connections.

Mirrors src/client/socket_io.cpp: a missing socket or a refused connection is
ServiceNotRunningError ("Connection refused: ..."), a full accept queue is tried again, every wait
has a deadline (time.monotonic() seconds) and a passed one is IoError naming what was awaited.
Over TCP (an ``Endpoint`` with a URL) every request carries the Host of the URL and the API key.
"""

import errno
import os
import socket
import ssl
import threading
import time
import weakref
from typing import List, Optional, Tuple

from ._http import Exactly, Response, Step, ToEnd, Until, format_request, read_response
from .errors import HadesError, IoError, ServiceNotRunningError, TooLargeError
from .options import ClientOptions, ServiceUrl, parse_url

__all__ = ["connection_refused_message", "connect_error", "connect_unix", "tcp_connect_error",
           "connect_tcp", "socket_accepts", "Endpoint", "ConnectionPool", "exchange"]

MAX_IDLE_CONNECTIONS = 16
_REFUSED = (errno.ENOENT, errno.ECONNREFUSED, errno.ENOTDIR)


def connection_refused_message(socket_path: str) -> str:
    return (f"Connection refused: the service is not running at {socket_path} "
            "(start it with `hades start`)")


def _left(deadline: float, what: str) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise IoError(f"timed out waiting for {what}")
    return left


def connect_error(error: OSError, path: str) -> Optional[HadesError]:
    """The error of a failed connect(); None when it is worth trying again (a full accept
    queue)."""
    if error.errno in _REFUSED:
        return ServiceNotRunningError(connection_refused_message(path))
    if error.errno == errno.EAGAIN:
        return None
    if error.errno in (errno.EACCES, errno.EPERM):
        return IoError(f"permission denied connecting to {path} (the socket belongs to another "
                       "user, or a folder above it is private)")
    return IoError(f"cannot connect to {path}: {error.strerror or error}")


def connect_unix(path: str, deadline: float) -> socket.socket:
    """A connected socket to PATH, blocking with timeouts."""
    backoff = 0.001
    while True:
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        except OSError as error:
            raise IoError(f"cannot create a socket: {error.strerror or error}") from None
        try:
            sock.settimeout(_left(deadline, f"a connection to {path}"))
            sock.connect(path)
            return sock
        except socket.timeout:
            sock.close()
            raise IoError(f"timed out waiting for a connection to {path}") from None
        except OSError as error:
            sock.close()
            failure = connect_error(error, path)
            if failure is not None:
                raise failure from None
        except BaseException:
            sock.close()
            raise
        # A full accept queue drains quickly: try again, waiting a little longer each time.
        if time.monotonic() + backoff >= deadline:
            raise IoError(f"timed out connecting to {path}: the service's accept queue stayed "
                          "full")
        time.sleep(backoff)
        backoff = min(backoff * 2, 0.05)


def tcp_connect_error(error: OSError, url: str, host: str) -> HadesError:
    """The error of a failed TCP connect (or TLS handshake) to URL."""
    if isinstance(error, ConnectionRefusedError):
        return ServiceNotRunningError(f"Connection refused: the service is not running at {url} "
                                      "(nothing listens on that port)")
    if isinstance(error, socket.gaierror):
        return IoError(f"cannot resolve {host} of {url}: {error.strerror or error}")
    if isinstance(error, ssl.SSLError):
        return IoError(f"TLS with {url} failed: {error.reason or error}")
    return IoError(f"cannot connect to {url}: {error.strerror or error}")


class Endpoint:
    """Where the service listens (a Unix socket, or a TCP URL with its API key) and the head of
    every request to it. ``str()`` is the address error messages name; never the key."""

    def __init__(self, options: ClientOptions) -> None:
        self.socket_path = str(options.socket_path or "")
        self.url = str(options.url or "")
        self.parts: Optional[ServiceUrl] = parse_url(self.url) if self.url else None
        self._authorization = f"Bearer {options.api_key}" if self.url and options.api_key else ""
        self._ssl: Optional[ssl.SSLContext] = None

    @property
    def tcp(self) -> bool:
        return self.parts is not None

    def __str__(self) -> str:
        return self.url or self.socket_path

    def __repr__(self) -> str:
        return f"Endpoint({str(self)!r})"

    def ssl_context(self) -> Optional[ssl.SSLContext]:
        """For https://: the system's trust store (SSL_CERT_FILE / SSL_CERT_DIR add to it)."""
        if self.parts is None or not self.parts.tls:
            return None
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl

    def format_request(self, method: str, target: str, body: bytes) -> bytes:
        if self.parts is None:
            return format_request(method, target, body)
        return format_request(method, self.parts.prefix + target, body,
                              host=self.parts.host_header, authorization=self._authorization)

    def connect(self, deadline: float) -> socket.socket:
        if self.parts is None:
            return connect_unix(self.socket_path, deadline)
        return connect_tcp(self, deadline)


def connect_tcp(endpoint: Endpoint, deadline: float) -> socket.socket:
    """A connected socket to ENDPOINT's URL (TLS for https://), blocking with timeouts."""
    parts = endpoint.parts
    assert parts is not None
    what = f"a connection to {endpoint.url}"
    sock: Optional[socket.socket] = None
    try:
        sock = socket.create_connection((parts.host, parts.port), _left(deadline, what))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        context = endpoint.ssl_context()
        if context is not None:
            sock.settimeout(_left(deadline, what))
            sock = context.wrap_socket(sock, server_hostname=parts.host)
        return sock
    except BaseException as error:
        if sock is not None:
            sock.close()
        if isinstance(error, socket.timeout):
            raise IoError(f"timed out waiting for {what}") from None
        if isinstance(error, OSError):
            raise tcp_connect_error(error, endpoint.url, parts.host) from None
        raise


def socket_accepts(path: str) -> bool:
    """Whether a service accepts connections on PATH now."""
    try:
        connect_unix(path, time.monotonic() + 0.2).close()
        return True
    except HadesError:
        return False


class _Closed(Exception):
    """The peer closed the connection before the first byte of an answer."""


class _Reader:
    """The reads ``read_response`` asks for, on a blocking socket with a deadline."""

    def __init__(self, sock: socket.socket, deadline: float, what: str) -> None:
        self.sock, self.deadline, self.what = sock, deadline, what
        self.buffer = bytearray()
        self.started = False

    def _recv(self, size: int) -> bytes:
        self.sock.settimeout(_left(self.deadline, self.what))
        try:
            data = self.sock.recv(size)
        except socket.timeout:
            raise IoError(f"timed out waiting for {self.what}") from None
        except ConnectionResetError:
            data = b""
        except OSError as error:
            raise IoError(f"cannot read {self.what}: {error.strerror or error}") from None
        if data:
            self.started = True
        return data

    def _more(self, size: int = 65536) -> None:
        data = self._recv(size)
        if not data:
            if not self.started:
                raise _Closed()
            raise IoError(f"malformed HTTP response from the service: the connection closed "
                          f"in the middle of {self.what}")
        self.buffer += data

    def until(self, step: Until) -> bytes:
        start = 0
        while True:
            found = self.buffer.find(step.separator, start)
            if found >= 0:
                end = found + len(step.separator)
                out = bytes(self.buffer[:end])
                del self.buffer[:end]
                return out
            if len(self.buffer) > step.limit:
                raise IoError("malformed HTTP response from the service: headers longer than "
                              "64 KiB")
            start = max(0, len(self.buffer) - len(step.separator) + 1)
            self._more()

    def exactly(self, count: int) -> bytes:
        if len(self.buffer) >= count:
            out = bytes(self.buffer[:count])
            del self.buffer[:count]
            return out
        # One buffer of the final size, filled in place: a large answer is not copied in pieces.
        out = bytearray(count)
        view = memoryview(out)
        have = len(self.buffer)
        view[:have] = self.buffer
        self.buffer.clear()
        while have < count:
            self.sock.settimeout(_left(self.deadline, self.what))
            try:
                got = self.sock.recv_into(view[have:])
            except socket.timeout:
                raise IoError(f"timed out waiting for {self.what}") from None
            except OSError as error:
                raise IoError(f"cannot read {self.what}: {error.strerror or error}") from None
            if got == 0:
                raise IoError("malformed HTTP response from the service: the connection closed "
                              "before the end of the body")
            have += got
        return out  # type: ignore[return-value]

    def to_end(self, step: ToEnd) -> bytes:
        while True:
            data = self._recv(65536)
            if not data:
                out = bytes(self.buffer)
                self.buffer.clear()
                return out
            self.buffer += data
            if len(self.buffer) > step.limit:
                raise TooLargeError(f"the service's response is larger than {step.limit} bytes")

    def read(self, step: Step) -> bytes:
        if isinstance(step, Until):
            return self.until(step)
        if isinstance(step, Exactly):
            return self.exactly(step.count)
        return self.to_end(step)


def exchange(sock: socket.socket, request: bytes, deadline: float, what: str) -> Optional[Response]:
    """Sends REQUEST and reads its answer; None when the peer closed without answering."""
    sock.settimeout(_left(deadline, what))
    try:
        sock.sendall(request)
    except (BrokenPipeError, ConnectionResetError):
        pass  # a server may answer early and close (a body over its limit): read what it said
    except socket.timeout:
        raise IoError(f"timed out waiting for {what}") from None
    except OSError as error:
        raise IoError(f"cannot send {what}: {error.strerror or error}") from None
    reader = _Reader(sock, deadline, what)
    steps = read_response()
    try:
        step = next(steps)
        while True:
            step = steps.send(reader.read(step))
    except StopIteration as done:
        return done.value
    except _Closed:
        return None


def _close_all(sockets: List[socket.socket]) -> None:
    """Closes SOCKETS and empties the list (in place: a pool's finalizer holds the list)."""
    taken = sockets[:]
    sockets.clear()
    for sock in taken:
        sock.close()


class ConnectionPool:
    """Idle kept-alive connections to one endpoint, shared by threads. They are closed by
    ``close()``, and when the pool is collected or the interpreter exits (quietly: an unclosed
    socket's ResourceWarning is for code that forgot its sockets, and this pool does not)."""

    def __init__(self, endpoint: Endpoint, connect_timeout: float) -> None:
        self.endpoint = endpoint
        self.connect_timeout = connect_timeout
        self._idle: List[socket.socket] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()
        # Holds the list, not the pool, so that the pool can be collected.
        weakref.finalize(self, _close_all, self._idle)

    def take(self, deadline: float) -> Tuple[socket.socket, bool]:
        """A kept-alive connection (True) or a new one (False)."""
        with self._lock:
            if self._pid != os.getpid():
                # A forked child shares its parent's connections: their answers would cross.
                self._pid = os.getpid()
                _close_all(self._idle)
            if self._idle:
                return self._idle.pop(), True
        connect_deadline = min(deadline, time.monotonic() + self.connect_timeout)
        return self.endpoint.connect(connect_deadline), False

    def give_back(self, sock: socket.socket) -> None:
        with self._lock:
            if len(self._idle) < MAX_IDLE_CONNECTIONS:
                self._idle.append(sock)
                return
        sock.close()

    def roundtrip(self, method: str, target: str, body: bytes, deadline: float) -> Response:
        """METHOD TARGET's answer, whatever its status; a kept-alive connection that the server
        had closed before reading the request is replaced by a new one."""
        request = self.endpoint.format_request(method, target, body)
        what = f"{method} {target} on {self.endpoint}"
        while True:
            sock, reused = self.take(deadline)
            try:
                response = exchange(sock, request, deadline, what)
            except BaseException:
                sock.close()
                raise
            if response is None:
                sock.close()
                if reused:
                    continue
                raise IoError(f"the service closed the connection without answering {what}")
            if response.keep_alive:
                self.give_back(sock)
            else:
                sock.close()
            return response

    def close(self) -> None:
        with self._lock:
            idle = self._idle[:]
            self._idle.clear()
        for sock in idle:
            sock.close()
