"""``pull``: a model downloaded into the Hugging Face cache without loading it, by ``hades pull``
(it runs in its own process, needs no service, and shares the cache's per-blob locks with a
running one). The blocking and the asyncio client run the command their own way; its arguments
and the reading of its output are here."""

import json
import re
from typing import Any, Callable, Dict, List, Optional

from .errors import HadesError, IoError, error_for_code
from .types import PullResult

ProgressCallback = Callable[[Dict[str, Any]], None]

_ERROR_LINE = re.compile(r"hades: error \[([a-z_]+)\]: (.*)$")


def pull_arguments(binary: str, model_id: str, revision: Optional[str]) -> List[str]:
    arguments = [binary, "pull", model_id, "--json"]
    if revision:
        arguments += ["--revision", revision]
    return arguments


def pull_event(line: str, progress: Optional[ProgressCallback]) -> Optional[Dict[str, Any]]:
    """One JSON line of ``hades pull --json``, passed to PROGRESS; None when it is not JSON."""
    try:
        event = json.loads(line)
    except ValueError:
        return None
    if not isinstance(event, dict):
        return None
    if progress is not None:
        progress(event)
    return event


def pull_outcome(model_id: str, returncode: int, last_event: Optional[Dict[str, Any]],
                 stderr: str) -> PullResult:
    """The result of a finished ``hades pull``, or the error its last error line names."""
    if returncode == 0 and last_event is not None and last_event.get("event") == "ready":
        return PullResult(model=str(last_event.get("model", model_id)),
                          path=str(last_event.get("path", "")))
    for line in reversed(stderr.splitlines()):
        match = _ERROR_LINE.search(line)
        if match:
            return _raise(error_for_code(match.group(1), match.group(2)))
    text = stderr.strip()[-500:] or "no output"
    return _raise(IoError(f"hades pull {model_id} failed (exit status {returncode}): {text}"))


def _raise(error: HadesError) -> PullResult:
    raise error
