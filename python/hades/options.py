"""Client settings, and how the environment fills them (the C++ ``resolve_client_options``).

The seed's variables: ``HADES_MODEL_MGR_SOCKET`` (the socket, default
``/tmp/hades_model_mgr.sock``), ``HADES_RUNTIME_AUTOSTART`` ("1" by default: a model call that finds
no service starts one), and, for the daemon a client starts, ``HADES_MAX_MODELS`` and
``HADES_DEFAULT_DEVICE``. A service on another machine is reached over TCP instead: ``HADES_URL``
(the client's own variable, ``http://HOST:PORT``) and ``HADES_API_KEY`` (the key the service was
started with, sent as ``Authorization: Bearer KEY``). A set but invalid variable is refused with
InvalidArgumentError naming it, never silently defaulted. Timeouts are in seconds.
"""

import os
import urllib.parse
from dataclasses import dataclass, field, replace
from typing import NamedTuple, Optional

from .errors import InvalidArgumentError

__all__ = ["DEFAULT_SOCKET_PATH", "ClientOptions", "resolve_client_options",
           "check_daemon_environment", "ServiceUrl", "parse_url"]

DEFAULT_SOCKET_PATH = "/tmp/hades_model_mgr.sock"

# sockaddr_un.sun_path holds 108 bytes on Linux, the last one a NUL.
_MAX_SOCKET_PATH_BYTES = 107
# The service's own bound on a key (src/server/api_key.cpp).
_MAX_API_KEY_BYTES = 4096


@dataclass(frozen=True)
class ClientOptions:
    """How a client reaches the service; a None field is filled from the environment.

    The service is on a Unix socket (``socket_path``) or, when ``url`` is set, on TCP. Resolved,
    exactly one of the two is non-empty; giving both is an error, and a ``socket_path`` given
    leaves ``HADES_URL`` unread."""

    socket_path: Optional[str] = None  #: None: HADES_MODEL_MGR_SOCKET, else the default
    #: None: HADES_RUNTIME_AUTOSTART ("1" by default); always False over TCP, where no client
    #: starts the service.
    autostart: Optional[bool] = None
    #: the service's TCP listener, ``http://HOST:PORT`` (``https://`` through a TLS proxy), with
    #: an optional path before the routes; None: HADES_URL, else the Unix socket; "": the socket.
    url: Optional[str] = None
    #: the key ``Authorization: Bearer`` carries over TCP (the socket needs none); None:
    #: HADES_API_KEY when the url is set; "": no key. Never shown in a repr.
    api_key: Optional[str] = field(default=None, repr=False)
    connect_timeout: float = 10.0
    #: health and status, which the service answers at once; a hung service fails them quickly.
    control_timeout: float = 30.0
    #: loads of large models and long queues take a while; the service bounds its own work.
    request_timeout: float = 600.0
    #: an ``overloaded`` answer (429) is retried this often, after the Retry-After it names.
    overloaded_retries: int = 5
    start_timeout: float = 60.0  #: until a started service accepts connections
    stop_timeout: float = 60.0  #: until a stopped service has exited
    hades_binary: Optional[str] = None  #: None: HADES_BIN, else ``hades`` on PATH


def _socket_path(given: Optional[str]) -> str:
    source = "the socket path"
    path = given
    if path is None:
        from_env = os.environ.get("HADES_MODEL_MGR_SOCKET")
        path = DEFAULT_SOCKET_PATH if from_env is None else from_env
        if from_env is not None:
            source = "HADES_MODEL_MGR_SOCKET"
    # The daemon runs from "/", so a relative path must not travel to it as it is.
    if path and not path.startswith("/"):
        path = os.path.normpath(os.path.abspath(path))
    size = len(os.fsencode(path))
    if size == 0 or size > _MAX_SOCKET_PATH_BYTES:
        raise InvalidArgumentError(
            f"{source} must be a socket path of 1 to {_MAX_SOCKET_PATH_BYTES} bytes, got "
            f"'{path}' ({size} bytes)")
    return path


def _autostart(given: Optional[bool], url: str) -> bool:
    if url:
        if given:
            raise InvalidArgumentError(
                f"autostart starts a service on this machine's Unix socket; the service at {url} "
                "is started where it runs (hades start there)")
        return False
    if given is not None:
        return bool(given)
    text = os.environ.get("HADES_RUNTIME_AUTOSTART", "1")
    if text not in ("0", "1"):
        raise InvalidArgumentError(f"HADES_RUNTIME_AUTOSTART must be 0 or 1, got '{text}'")
    return text == "1"


def _environment_value(name: str) -> Optional[str]:
    """The variable NAME; None when unset. Set but empty is refused, as the daemon refuses it."""
    value = os.environ.get(name)
    if value == "":
        raise InvalidArgumentError(f"{name} is set but empty; unset it or give it a value")
    return value


class ServiceUrl(NamedTuple):
    """A checked ``url``: where to connect, and what every request names."""

    tls: bool
    host: str  #: a name or an address, an IPv6 one without its brackets
    port: int
    prefix: str  #: the URL's path without its trailing "/", put before every route

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_url(url: str, source: str = "the url option") -> ServiceUrl:
    """URL (``http://HOST:PORT/PREFIX`` or ``https://...``) in parts; InvalidArgumentError naming
    SOURCE otherwise. A URL with a user or password is refused without being repeated: a key goes
    in ``api_key``, never in a URL that error messages name."""
    usage = "an http:// or https:// URL of the service, e.g. http://127.0.0.1:8080"
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidArgumentError(f"{source} must be {usage}, got '{url}'") from None
    if "@" in parts.netloc:
        raise InvalidArgumentError(f"{source} must not carry a user or password: give the API key "
                                   "as api_key or HADES_API_KEY")
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query \
            or parts.fragment:
        raise InvalidArgumentError(f"{source} must be {usage}, got '{url}'")
    tls = parts.scheme == "https"
    return ServiceUrl(tls, parts.hostname, port or (443 if tls else 80),
                      parts.path.rstrip("/"))


def _url(options: ClientOptions) -> str:
    """The service's URL, "" for the Unix socket."""
    url, source = options.url, "the url option"
    if url is None and options.socket_path is None:
        url, source = _environment_value("HADES_URL"), "HADES_URL"
    if not url:
        return ""
    if options.socket_path:
        raise InvalidArgumentError(f"give the service's socket_path or its url, not both (url "
                                   f"'{url}', socket_path '{options.socket_path}')")
    parse_url(url, source)
    return url.rstrip("/")


def _api_key(given: Optional[str], url: str) -> str:
    source = "the api_key option"
    key = given
    if key is None:
        if not url:
            return ""  # the socket needs no key, and HADES_API_KEY is the daemon's to check
        key, source = _environment_value("HADES_API_KEY"), "HADES_API_KEY"
    if not key:
        return ""
    # The daemon's own rule, in its words; the key itself is never repeated.
    size = len(key.encode("utf-8", "replace"))
    if size > _MAX_API_KEY_BYTES:
        raise InvalidArgumentError(f"{source}: the API key must be 1 to {_MAX_API_KEY_BYTES} "
                                   f"bytes long, got {size}")
    if not all("!" <= c <= "~" for c in key):
        raise InvalidArgumentError(f"{source}: the API key must be printable ASCII without "
                                   "spaces (it travels in an HTTP header)")
    return key


def resolve_client_options(options: Optional[ClientOptions] = None) -> ClientOptions:
    """OPTIONS with every None field filled from the environment, checked; a relative socket
    path is made absolute. Over TCP ``socket_path`` is ""."""
    options = options or ClientOptions()
    for name in ("connect_timeout", "control_timeout", "request_timeout", "start_timeout",
                 "stop_timeout"):
        value = getattr(options, name)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
            raise InvalidArgumentError(f"client option {name} must be positive, got {value!r}")
    retries = options.overloaded_retries
    if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
        raise InvalidArgumentError("client option overloaded_retries must not be negative")
    url = _url(options)
    return replace(options, url=url, socket_path="" if url else _socket_path(options.socket_path),
                   autostart=_autostart(options.autostart, url),
                   api_key=_api_key(options.api_key, url))


def check_daemon_environment() -> None:
    """Refuses HADES_MAX_MODELS and HADES_DEFAULT_DEVICE values the daemon would refuse (its
    engine_config_from_environment), with the same words, before a daemon is started with them."""
    max_models = os.environ.get("HADES_MAX_MODELS")
    if max_models is not None:
        valid = (max_models.isascii() and max_models.isdigit() and len(max_models) <= 6
                 and int(max_models) > 0)
        if not valid:
            raise InvalidArgumentError(
                f"HADES_MAX_MODELS: '{max_models}' is not a positive whole number")
    device = os.environ.get("HADES_DEFAULT_DEVICE")
    if device:
        if device != "cpu" and device != "cuda" and not device.startswith("cuda:"):
            raise InvalidArgumentError(
                f"HADES_DEFAULT_DEVICE: unknown device '{device}' (use cpu or cuda:N)")
