"""What both deploy tests use: a tally of named checks, polling with a bound, loopback HTTP."""

import http.client
import socket
import time
from typing import Callable, List, Tuple

BOUND_S = 30.0  # generous limit of every wait on a state change; none is expected to come near


class Checks:
    """Named checks, each printed as it is decided; the run fails if any failed."""

    def __init__(self):
        self.passed: List[str] = []
        self.failed: List[str] = []

    def check(self, condition: bool, what: str) -> None:
        (self.passed if condition else self.failed).append(what)
        print(f"[{time.strftime('%H:%M:%S')}] " + ("ok   " if condition else "FAIL ") + what,
              flush=True)

    def summary(self, name: str) -> int:
        """Prints the closing line; returns the exit status."""
        print(f"{name}: {len(self.passed)} passed, {len(self.failed)} failed")
        return 1 if self.failed else 0


def wait_for(what: str, condition: Callable[[], bool], bound_s: float = BOUND_S,
             step_s: float = 0.05) -> float:
    """Polls CONDITION until it holds; returns the time (time.monotonic) it first held."""
    deadline = time.monotonic() + bound_s
    while True:
        if condition():
            return time.monotonic()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {bound_s:.0f} s waiting for {what}")
        time.sleep(step_s)


def http_get(port: int, path: str, key: str = "") -> Tuple[int, bytes]:
    """GET on 127.0.0.1:PORT, with the API key when one is given."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {key}"} if key else {})
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def http_status(port: int, path: str) -> int:
    """The status of a GET without a key; 0 when nothing answers."""
    try:
        return http_get(port, path)[0]
    except OSError:
        return 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
