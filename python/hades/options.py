"""Client settings, and how the environment fills them (the C++ ``resolve_client_options``).

The seed's variables: ``HADES_MODEL_MGR_SOCKET`` (the socket, default
``/tmp/hades_model_mgr.sock``), ``HADES_RUNTIME_AUTOSTART`` ("1" by default: a model call that finds
no service starts one), and, for the daemon a client starts, ``HADES_MAX_MODELS`` and
``HADES_DEFAULT_DEVICE``. A set but invalid variable is refused with InvalidArgumentError naming
it, never silently defaulted. Timeouts are in seconds.
"""

import os
from dataclasses import dataclass, replace
from typing import Optional

from .errors import InvalidArgumentError

__all__ = ["DEFAULT_SOCKET_PATH", "ClientOptions", "resolve_client_options",
           "check_daemon_environment"]

DEFAULT_SOCKET_PATH = "/tmp/hades_model_mgr.sock"

# sockaddr_un.sun_path holds 108 bytes on Linux, the last one a NUL.
_MAX_SOCKET_PATH_BYTES = 107


@dataclass(frozen=True)
class ClientOptions:
    """How a client reaches the service; a None field is filled from the environment."""

    socket_path: Optional[str] = None  #: None: HADES_MODEL_MGR_SOCKET, else the default
    autostart: Optional[bool] = None  #: None: HADES_RUNTIME_AUTOSTART ("1" by default)
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


def _autostart(given: Optional[bool]) -> bool:
    if given is not None:
        return bool(given)
    text = os.environ.get("HADES_RUNTIME_AUTOSTART", "1")
    if text not in ("0", "1"):
        raise InvalidArgumentError(f"HADES_RUNTIME_AUTOSTART must be 0 or 1, got '{text}'")
    return text == "1"


def resolve_client_options(options: Optional[ClientOptions] = None) -> ClientOptions:
    """OPTIONS with every None field filled from the environment, checked; a relative socket
    path is made absolute."""
    options = options or ClientOptions()
    for name in ("connect_timeout", "control_timeout", "request_timeout", "start_timeout",
                 "stop_timeout"):
        value = getattr(options, name)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
            raise InvalidArgumentError(f"client option {name} must be positive, got {value!r}")
    retries = options.overloaded_retries
    if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
        raise InvalidArgumentError("client option overloaded_retries must not be negative")
    return replace(options, socket_path=_socket_path(options.socket_path),
                   autostart=_autostart(options.autostart))


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
