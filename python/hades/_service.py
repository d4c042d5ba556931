"""Starting and stopping the ``hades serve`` daemon, as the C++ client does
(src/client/service.cpp), so that Python and C++ clients of one socket agree:

- ``SOCKET.start.lock``: whoever starts or stops the service holds an exclusive flock on it, so
  however many clients (of either language) race, one daemon starts;
- ``SOCKET.lock``: the daemon's own flock, held for its life; /proc/locks names its holder;
- ``SOCKET.log``: the daemon's stderr, where a failed start says why.

A process is alive until every thread of it has exited (/proc/PID/task), since a daemon whose
main thread has ended may still hold its socket.
"""

import errno
import fcntl
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from typing import Dict, Optional

from ._connection import ConnectionPool, Endpoint, socket_accepts
from ._wire import parse_status, read_answer
from .errors import (HadesError, InvalidArgumentError, IoError, NotFoundError, UnsupportedError,
                     error_for_code)
from .options import ClientOptions, check_daemon_environment
from .types import StartResult, StopResult

__all__ = ["find_hades_binary", "lock_holder_pid", "process_alive", "service_pid",
           "start_service", "stop_service", "check_local"]

_POLL_SECONDS = 0.02


def _lock_file(options: ClientOptions) -> str:
    return f"{options.socket_path}.lock"


def _log_file(options: ClientOptions) -> str:
    return f"{options.socket_path}.log"


def _start_lock_file(options: ClientOptions) -> str:
    return f"{options.socket_path}.start.lock"


def _seconds_text(seconds: float) -> str:
    return f"{seconds:g} s"


class _FileLock:
    """An exclusive flock on a file, held inside a ``with``. Polled rather than blocking, so that
    a stuck holder turns into a clear timeout."""

    def __init__(self, path: str, deadline: float, timeout: float) -> None:
        self.path, self.deadline, self.timeout = path, deadline, timeout
        self.fd = -1

    def __enter__(self) -> "_FileLock":
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as error:
            raise IoError(f"cannot open the lock file {self.path}: {error.strerror}") from None
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except OSError as error:
                if error.errno not in (errno.EWOULDBLOCK, errno.EINTR):
                    os.close(self.fd)
                    raise IoError(f"cannot lock {self.path}: {error.strerror}") from None
            if time.monotonic() >= self.deadline:
                os.close(self.fd)
                raise IoError(f"timed out after {_seconds_text(self.timeout)} waiting for another "
                              f"client that starts or stops the service (it holds {self.path})")
            time.sleep(0.01)

    def __exit__(self, *exc_info: object) -> None:
        os.close(self.fd)  # closing the only descriptor releases the flock


def _is_executable_file(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def find_hades_binary(configured: Optional[str] = None) -> str:
    """The ``hades`` program: CONFIGURED, else $HADES_BIN, else ``hades`` on $PATH."""
    if configured:
        if _is_executable_file(configured):
            return configured
        raise InvalidArgumentError(f"the hades program '{configured}' is not an executable file")
    from_env = os.environ.get("HADES_BIN")
    if from_env is not None:
        if _is_executable_file(from_env):
            return from_env
        raise InvalidArgumentError(f"HADES_BIN must name the hades program, got '{from_env}' "
                                   "(not an executable file)")
    found = shutil.which("hades")
    if found:
        return found
    raise NotFoundError("cannot find the hades program: HADES_BIN is not set and there is no "
                        "hades on PATH; set HADES_BIN to its path or add its folder to PATH")


def lock_holder_pid(lock_path: str) -> Optional[int]:
    """The pid holding an flock on LOCK_PATH, from /proc/locks; None when nobody holds it."""
    try:
        info = os.stat(lock_path)
        with open("/proc/locks", encoding="ascii", errors="replace") as locks:
            lines = locks.read().splitlines()
    except OSError:
        return None
    # Lines read "1: FLOCK  ADVISORY  WRITE 1234 fe:00:10952733 0 EOF"; a waiter's has "->".
    for line in lines:
        fields = line.split()
        if len(fields) < 6 or fields[1] == "->":
            continue
        try:
            pid = int(fields[4])
            major, minor, inode = fields[5].split(":")
            same = (int(inode) == info.st_ino and int(major, 16) == os.major(info.st_dev)
                    and int(minor, 16) == os.minor(info.st_dev))
        except ValueError:
            continue
        if pid > 0 and same:
            return pid
    return None


def _proc_state(stat_path: str) -> str:
    """The state letter of a /proc/.../stat file ('R', 'S', 'Z', ...); '' when unreadable."""
    try:
        with open(stat_path, "rb") as stat:
            text = stat.read()
    except OSError:
        return ""
    name_end = text.rfind(b")")
    if name_end < 0 or name_end + 2 >= len(text):
        return ""
    return chr(text[name_end + 2])


def _exited(state: str) -> bool:
    return state in ("", "Z", "X")


def process_alive(pid: int) -> bool:
    """Whether PID runs: an unreaped zombie has exited, and a process whose main thread is a
    zombie while others run (after pthread_exit in main) has not."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return not _exited(_proc_state(f"/proc/{pid}/stat"))
    return any(not _exited(_proc_state(f"/proc/{pid}/task/{task}/stat")) for task in tasks)


def _status_pid(options: ClientOptions) -> Optional[int]:
    """The pid a /v1/status answer names, asked with a short deadline; None on any failure."""
    pool = ConnectionPool(Endpoint(options), options.connect_timeout)
    try:
        deadline = time.monotonic() + min(options.control_timeout, 5.0)
        response = pool.roundtrip("GET", "/v1/status", b"", deadline)
        if response.status != 200:
            return None
        pid = read_answer(response.body, "GET /v1/status", parse_status).pid
        return pid if pid > 0 else None
    except HadesError:
        return None
    finally:
        pool.close()


def service_pid(options: ClientOptions) -> Optional[int]:
    """The pid of the daemon serving (or starting on) the socket, None when there is none."""
    holder = lock_holder_pid(_lock_file(options))
    if holder is not None and process_alive(holder):
        return holder
    if socket_accepts(options.socket_path):
        return _status_pid(options)
    return None


def _file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


_CODED_LINE = re.compile(r"\[([a-z_]+)\]: (.*)$")


def _start_failure(options: ClientOptions, pid: int, log_start: int) -> HadesError:
    """The error of a daemon that exited before accepting connections: the last error line it
    logged after LOG_START (its stderr goes there too), with the code it names."""
    log = _log_file(options)
    try:
        with open(log, "rb") as file:
            file.seek(log_start)
            lines = [line for line in file.read().decode("utf-8", "replace").splitlines() if line]
    except OSError:
        lines = []
    errors = [line for line in lines if "ERROR" in line or "error" in line]
    message = errors[-1] if errors else (lines[-1] if lines else "")
    if not message:
        return IoError(f"the service (pid {pid}) exited before accepting connections on "
                       f"{options.socket_path} and logged nothing to {log}")
    code = "io_error"
    match = _CODED_LINE.search(message)
    if match:
        code, message = match.group(1), match.group(2)
    return error_for_code(code, f"the service failed to start: {message} (log: {log})")


def _existing_service(options: ClientOptions, deadline: float) -> Optional[int]:
    """A daemon that already serves the socket or is starting up (it holds the socket's lock):
    waits until it accepts and returns its pid (0 when unknown). None when there is none."""
    if socket_accepts(options.socket_path):
        pid = service_pid(options)
        return 0 if pid is None else pid
    holder = lock_holder_pid(_lock_file(options))
    if holder is None:
        return None
    while process_alive(holder):
        if socket_accepts(options.socket_path):
            return holder
        if time.monotonic() >= deadline:
            raise IoError(f"the service (pid {holder}) holds {_lock_file(options)} but did not "
                          f"accept connections on {options.socket_path} within "
                          f"{_seconds_text(options.start_timeout)}; its log is "
                          f"{_log_file(options)}")
        time.sleep(_POLL_SECONDS)
    return None


def _reap(process: subprocess.Popen) -> None:
    # The daemon is this process's child: its exit status is collected so that it leaves no
    # zombie behind while this process lives on.
    threading.Thread(target=process.wait, name=f"hades-reaper-{process.pid}",
                     daemon=True).start()


def _spawn_daemon(options: ClientOptions) -> int:
    """Runs ``hades serve`` detached: its own session (no terminal's signals reach it), "/" as
    its folder, stdin and stdout on /dev/null, stderr appended to the log, no inherited
    descriptors. subprocess does the fork and exec in C, safe in a threaded process."""
    program = find_hades_binary(options.hades_binary)
    env: Dict[str, str] = dict(os.environ, HADES_MODEL_MGR_SOCKET=str(options.socket_path))
    log = _log_file(options)
    try:
        log_fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    except OSError as error:
        raise IoError(f"cannot open the log file {log}: {error.strerror}") from None
    try:
        # --quiet: the daemon's stderr is its log file already, so it must not write lines twice.
        process = subprocess.Popen(
            [program, "serve", "--socket", str(options.socket_path), "--quiet"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log_fd, cwd="/", env=env,
            close_fds=True, start_new_session=True, restore_signals=True)
    except OSError as error:
        raise IoError(f"cannot run {program}: {error.strerror or error}") from None
    finally:
        os.close(log_fd)
    _reap(process)
    return process.pid


def _wait_until_ready(options: ClientOptions, pid: int, log_start: int,
                      deadline: float) -> StartResult:
    while True:
        if socket_accepts(options.socket_path):
            # A daemon started by other means (`hades serve` by hand) may have won the socket.
            holder = lock_holder_pid(_lock_file(options))
            if holder is not None and holder != pid:
                return StartResult(already_running=True, pid=holder)
            return StartResult(already_running=False, pid=pid)
        if not process_alive(pid):
            holder = lock_holder_pid(_lock_file(options))
            if holder is not None and holder != pid:
                other = _existing_service(options, deadline)
                if other is not None:
                    return StartResult(already_running=True, pid=other)
            raise _start_failure(options, pid, log_start)
        if time.monotonic() >= deadline:
            raise IoError(f"the service (pid {pid}) did not accept connections on "
                          f"{options.socket_path} within {_seconds_text(options.start_timeout)}; "
                          f"its log is {_log_file(options)}")
        time.sleep(_POLL_SECONDS)


def check_local(options: ClientOptions, verb: str) -> None:
    """Refuses to VERB ("start", "stop") a service reached over TCP: it runs on its own machine,
    under its own supervisor."""
    if options.url:
        raise UnsupportedError(
            f"cannot {verb} the service at {options.url}: a client starts and stops only a service "
            f"on this machine's Unix socket; {verb} that one where it runs (hades {verb} there)")


def start_service(options: ClientOptions) -> StartResult:
    """Starts the daemon unless one serves the socket; returns once it accepts connections."""
    check_local(options, "start")
    check_daemon_environment()
    deadline = time.monotonic() + options.start_timeout
    with _FileLock(_start_lock_file(options), deadline, options.start_timeout):
        pid = _existing_service(options, deadline)
        if pid is not None:
            return StartResult(already_running=True, pid=pid)
        log_start = _file_size(_log_file(options))
        pid = _spawn_daemon(options)
        return _wait_until_ready(options, pid, log_start, deadline)


def stop_service(options: ClientOptions) -> StopResult:
    """SIGTERM to the daemon; returns once every thread of it has exited."""
    check_local(options, "stop")
    deadline = time.monotonic() + options.stop_timeout
    with _FileLock(_start_lock_file(options), deadline, options.stop_timeout):
        pid = service_pid(options)
        if pid is None:
            return StopResult(was_running=False, pid=0)
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return StopResult(was_running=True, pid=pid)
        except OSError as error:
            raise IoError(f"cannot stop the service (pid {pid}): {error.strerror}") from None
        # The daemon drains requests in flight, unloads its models and removes its socket.
        while process_alive(pid):
            if time.monotonic() >= deadline:
                raise IoError(f"the service (pid {pid}) did not exit within "
                              f"{_seconds_text(options.stop_timeout)} of SIGTERM; its log is "
                              f"{_log_file(options)} (kill -9 {pid} forces it)")
            time.sleep(_POLL_SECONDS)
        return StopResult(was_running=True, pid=pid)
