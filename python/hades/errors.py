"""The errors of hades: one :class:`HadesError` carrying the service's stable error code, and one
subclass per code (docs/protocol.md, "Errors"), so that callers can catch exactly what they mean::

    try:
        engine.embed("org/missing", ["hi"])
    except hades.ModelNotFoundError as error:
        print(error.code, error)          # model_not_found  Model not found: org/missing

Every failure the client reports is a HadesError: a refused connection, a broken answer and an
error answer of the service alike; no bare ConnectionRefusedError, KeyError or JSONDecodeError.
"""

from typing import Dict, Optional, Type

__all__ = [
    "HadesError",
    "InvalidArgumentError",
    "NotFoundError",
    "ModelNotFoundError",
    "InvalidModelError",
    "UnsupportedError",
    "InputInvalidError",
    "TooLargeError",
    "ConflictError",
    "OutOfMemoryError",
    "OverloadedError",
    "LoadingError",
    "ShuttingDownError",
    "IoError",
    "ServiceNotRunningError",
    "AccessDeniedError",
    "UnauthorizedError",
    "NetworkError",
    "InternalError",
    "ERROR_CLASSES",
    "error_for_code",
]


class HadesError(Exception):
    """An error of hades with its stable, machine-readable ``code`` ("model_not_found", ...).

    ``str(error)`` is the message (the service's own when it came from the service); ``status``
    is the HTTP status of the answer that carried it, None when it did not come from the wire.
    """

    code: str = "internal"

    def __init__(self, code: str, message: str, *, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def __reduce__(self):  # type: ignore[override]
        # Picklable (multiprocessing passes errors between processes) despite the keyword field.
        return (error_for_code, (self.code, self.message, self.status,
                                 getattr(self, "retry_after", None)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"


def _coded(code: str, name: str, doc: str) -> Type[HadesError]:
    """A subclass of HadesError for CODE, constructed from its message alone."""

    def __init__(self: HadesError, message: str, *, status: Optional[int] = None) -> None:
        HadesError.__init__(self, code, message, status=status)

    return type(name, (HadesError,), {"__init__": __init__, "__doc__": doc, "code": code,
                                      "__module__": __name__})


# One class per code of include/hades/error.hpp (tests/python/client/test_errors.py checks them).
InvalidArgumentError = _coded(
    "invalid_argument", "InvalidArgumentError",
    "A bad value: a request field, a client option or an environment variable (HTTP 400).")
NotFoundError = _coded(
    "not_found", "NotFoundError",
    "A route, file or program that must exist does not (HTTP 404).")
MethodNotAllowedError = _coded(
    "method_not_allowed", "MethodNotAllowedError",
    "A route asked with a method it does not take; Allow names those it takes (HTTP 405).")
ModelNotFoundError = _coded(
    "model_not_found", "ModelNotFoundError",
    'The model id resolves to nothing: "Model not found: ID" (HTTP 404).')
InvalidModelError = _coded(
    "invalid_model", "InvalidModelError",
    "The model's files are malformed; its load failed (HTTP 500).")
UnsupportedError = _coded(
    "unsupported", "UnsupportedError",
    "The model's architecture, files or kind do not support the request (HTTP 422); or the "
    "client cannot do it where the service is (start or stop a service reached over TCP).")
InputInvalidError = _coded(
    "input_invalid", "InputInvalidError",
    "A valid request the model cannot take: an overlong input with truncate=False, bad UTF-8 "
    "(HTTP 422).")
TooLargeError = _coded(
    "too_large", "TooLargeError",
    "A limit was exceeded: body size, inputs per request (HTTP 413).")
ConflictError = _coded(
    "conflict", "ConflictError",
    "The request conflicts with the service's state, e.g. a pinned model or another dtype "
    "(HTTP 409).")
OutOfMemoryError = _coded(
    "out_of_memory", "OutOfMemoryError",
    "The memory budget cannot be met: 'needs X, budget Y, held by pinned/busy models Z' "
    "(HTTP 507).")
LoadingError = _coded(
    "loading", "LoadingError", "The model is still loading (HTTP 503).")
ShuttingDownError = _coded(
    "shutting_down", "ShuttingDownError", "The service is draining after SIGTERM (HTTP 503).")
IoError = _coded(
    "io_error", "IoError",
    "The operating system refused a read, write or socket operation, a wait timed out, or the "
    "service's answer was malformed.")
ServiceNotRunningError = _coded(
    "connection_refused", "ServiceNotRunningError",
    'No service on the socket: "Connection refused: the service is not running at SOCKET".')
AccessDeniedError = _coded(
    "access_denied", "AccessDeniedError",
    "The Hugging Face hub refused a gated or private model; set HF_TOKEN (HTTP 403).")
UnauthorizedError = _coded(
    "unauthorized", "UnauthorizedError",
    "A request without the service's API key where one is required (HTTP 401).")
NetworkError = _coded(
    "network_error", "NetworkError",
    "The hub is unreachable and the model is not in the cache (HTTP 502).")
InternalError = _coded(
    "internal", "InternalError", "A bug: an invariant of hades itself does not hold (HTTP 500).")


class OverloadedError(HadesError):
    """Too many concurrent requests, or too much work queued (HTTP 429). ``retry_after`` is the
    seconds the service asked the client to wait (its Retry-After header), None without one. The
    client has already retried ``overloaded_retries`` times when this reaches the caller."""

    code = "overloaded"

    def __init__(self, message: str, retry_after: Optional[float] = None, *,
                 status: Optional[int] = None) -> None:
        super().__init__("overloaded", message, status=status)
        self.retry_after = retry_after


# Each subclass above is one code's.
ERROR_CLASSES: Dict[str, Type[HadesError]] = {cls.code: cls for cls in HadesError.__subclasses__()}

# The code each status stands for (include/hades/error.hpp), for an error answer without a body.
_CODE_FOR_STATUS = {400: "invalid_argument", 401: "unauthorized", 403: "access_denied", 404: "not_found",
                    405: "method_not_allowed",
                    409: "conflict", 413: "too_large", 422: "input_invalid", 429: "overloaded",
                    502: "network_error", 503: "shutting_down", 507: "out_of_memory"}


def code_for_status(status: int) -> str:
    """The error code an HTTP STATUS stands for when the answer names none."""
    return _CODE_FOR_STATUS.get(status, "internal")


def error_for_code(code: str, message: str, status: Optional[int] = None,
                   retry_after: Optional[float] = None) -> HadesError:
    """The exception for CODE: its own class, or a plain HadesError for a code this client does
    not know (a newer service), which keeps the code as the service sent it."""
    cls = ERROR_CLASSES.get(code)
    if cls is None:
        return HadesError(code, message, status=status)
    if cls is OverloadedError:
        return OverloadedError(message, retry_after, status=status)
    return cls(message, status=status)
