"""Shared fixtures of the Python test suites (the `hades` client and the Haystack components).

Every test runs against the real `hades` program on a private socket; nothing here imitates it.

- `hades_bin`: the program under test: $HADES_BIN, else the build's (`build/hades`).
- `hf_cache`: a Hugging Face cache (the layout `huggingface_hub` writes) made once per session. It
  holds the real sentence-transformers/all-MiniLM-L6-v2 (from $HADES_TEST_HF_CACHE, where
  `scripts/fetch-minilm.sh` put it), and small stand-ins under the seed's ids, since the real weights
  cannot be downloaded here: `mirth/chonky_modernbert_large_1` is the tiny random ModernBERT token
  classifier `tests/data/models/tiny-modernbert-chonky` (so its cuts are arbitrary, though exact to
  chonky's rule), and `cross-encoder/ms-marco-MiniLM-L6-v2` is the tiny random cross-encoder
  `tests/data/models/tiny-bertcls-h32-a2-l2-rerank`. `MODELS` names them.
- `hades_env`: points the process environment at a private socket (yielded) and the session cache,
  offline, autostart off, and stops whatever daemon is left on that socket at teardown.
- `service`: one daemon for the session on its own socket, environment applied for each test that
  uses it; yields a `Service` with `.socket`, `.pid` and `.env`.
- `tcp_service`: one daemon for the session that also listens on a loopback TCP port with an API
  key and MiniLM as its default model; yields a `Service` with `.url` and `.api_key` set too.
  `tcp_reranker_service`: the same with the cross-encoder as its default model.
"""

import dataclasses
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Dict, Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
FIXTURE_MODELS = DATA / "models"


@dataclasses.dataclass(frozen=True)
class Models:
    """The model ids the session cache serves, and the fixture folders of the other kinds."""

    minilm: str = "sentence-transformers/all-MiniLM-L6-v2"
    chunker: str = "mirth/chonky_modernbert_large_1"
    reranker: str = "cross-encoder/ms-marco-MiniLM-L6-v2"
    token_classifier: str = str(FIXTURE_MODELS / "tiny-bertcls-h32-a2-l2-tokcls")
    sequence_classifier: str = str(FIXTURE_MODELS / "tiny-bertcls-h32-a2-l2-seqcls")


MODELS = Models()

# Stand-ins laid out in the cache under the seed's ids: id -> fixture folder.
STAND_INS = {
    MODELS.chunker: FIXTURE_MODELS / "tiny-modernbert-chonky",
    MODELS.reranker: FIXTURE_MODELS / "tiny-bertcls-h32-a2-l2-rerank",
}


def _put_in_cache(cache: Path, repo_id: str, folder: Path) -> None:
    """Lays FOLDER out as the cache holds a download of REPO_ID: blobs by hash, a snapshot of
    links to them, refs/main naming the snapshot."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    files = {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
    # The hub's commit hash is not known here; a hash of the contents stands in for it.
    revision = hashlib.sha1(b"".join(hashlib.sha256(d).digest() for d in files.values())).hexdigest()
    snapshot = repo / "snapshots" / revision
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    for rel, data in files.items():
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        link = snapshot / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    (repo / "refs" / "main").write_text(revision)


def _find_hades() -> Path:
    explicit = os.environ.get("HADES_BIN")
    path = Path(explicit) if explicit else REPO / "build" / "hades"
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"the hades program is not at {path} (set HADES_BIN, or run make)")
    return path


@pytest.fixture(scope="session")
def hades_bin() -> Path:
    return _find_hades()


@pytest.fixture(scope="session")
def hf_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("hf-hub")
    source = Path(os.environ.get("HADES_TEST_HF_CACHE", REPO / "build" / "hf-hub"))
    minilm = source / "models--sentence-transformers--all-MiniLM-L6-v2"
    if not (minilm / "refs" / "main").is_file():
        raise RuntimeError(f"all-MiniLM-L6-v2 is not in {source}: run scripts/fetch-minilm.sh")
    # A link, not a copy: the real model is 90 MB and the service only reads it.
    (cache / minilm.name).symlink_to(minilm.resolve())
    for repo_id, folder in STAND_INS.items():
        _put_in_cache(cache, repo_id, folder)
    return cache


def _short_socket_dir() -> Path:
    # A Unix socket path must fit in 108 bytes; pytest's tmp_path can be longer.
    return Path(tempfile.mkdtemp(prefix="hades-py-", dir="/tmp"))


def _service_env(socket: Path, cache: Path, binary: Path) -> Dict[str, str]:
    return {
        "HADES_MODEL_MGR_SOCKET": str(socket),
        "HF_HUB_CACHE": str(cache),
        "HF_HUB_OFFLINE": "1",
        "HADES_BIN": str(binary),
        "HADES_RUNTIME_AUTOSTART": "0",
        # Bulk tests share 2 cores with other suites; the OpenMP team sleeps rather than spins.
        "OMP_WAIT_POLICY": "passive",
    }


def stop_daemon(binary: Path, env: Dict[str, str]) -> None:
    """Stops the daemon on env's socket through `hades stop`; kills it if that fails."""
    full_env = {**os.environ, **env}
    result = subprocess.run([str(binary), "stop"], env=full_env, capture_output=True, timeout=120)
    if result.returncode == 0:
        return
    lock = Path(env["HADES_MODEL_MGR_SOCKET"] + ".lock")
    try:
        pid = int(lock.read_text().strip() or "0")
    except (OSError, ValueError):
        return
    if pid > 0:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture
def hades_env(monkeypatch: pytest.MonkeyPatch, hf_cache: Path, hades_bin: Path) -> Iterator[str]:
    folder = _short_socket_dir()
    socket = folder / "hades.sock"
    env = _service_env(socket, hf_cache, hades_bin)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    yield str(socket)
    stop_daemon(hades_bin, env)
    shutil.rmtree(folder, ignore_errors=True)


@dataclasses.dataclass
class Service:
    socket: str
    pid: int
    env: Dict[str, str]
    url: str = ""  # http://HOST:PORT of the TCP listener, when it has one
    api_key: str = ""


def _run_daemon(binary: Path, env: Dict[str, str]) -> Iterator[Service]:
    full_env = {**os.environ, **env}
    started = subprocess.run([str(binary), "start", "--json"], env=full_env,
                             capture_output=True, text=True, timeout=120)
    if started.returncode != 0:
        raise RuntimeError(f"hades start failed ({started.returncode}): {started.stderr}")
    pid = int(Path(env["HADES_MODEL_MGR_SOCKET"] + ".lock").read_text().strip())
    status = json.loads(subprocess.run([str(binary), "status", "--json"], env=full_env,
                                       capture_output=True, text=True, timeout=60).stdout)
    addresses = status.get("tcp", {}).get("addresses", [])
    yield Service(socket=env["HADES_MODEL_MGR_SOCKET"], pid=pid, env=env,
                  url=f"http://{addresses[0]}" if addresses else "",
                  api_key=env.get("HADES_API_KEY", ""))
    stop_daemon(binary, env)
    deadline = time.monotonic() + 60
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.fixture(scope="session")
def _session_service(hf_cache: Path, hades_bin: Path) -> Iterator[Service]:
    folder = _short_socket_dir()
    yield from _run_daemon(hades_bin, _service_env(folder / "hades.sock", hf_cache, hades_bin))
    shutil.rmtree(folder, ignore_errors=True)


def _tcp_daemon(hf_cache: Path, hades_bin: Path, default_model: str) -> Iterator[Service]:
    folder = _short_socket_dir()
    env = _service_env(folder / "hades.sock", hf_cache, hades_bin)
    env.update({"HADES_LISTEN": "127.0.0.1:0", "HADES_API_KEY": "hk-" + secrets.token_hex(16),
                "HADES_DEFAULT_MODEL": default_model})
    yield from _run_daemon(hades_bin, env)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def tcp_service(hf_cache: Path, hades_bin: Path) -> Iterator[Service]:
    yield from _tcp_daemon(hf_cache, hades_bin, MODELS.minilm)


@pytest.fixture(scope="session")
def tcp_reranker_service(hf_cache: Path, hades_bin: Path) -> Iterator[Service]:
    """As tcp_service, with the cross-encoder as the default model (TEI serves one model)."""
    yield from _tcp_daemon(hf_cache, hades_bin, MODELS.reranker)


@pytest.fixture
def service(_session_service: Service, monkeypatch: pytest.MonkeyPatch) -> Service:
    for name, value in _session_service.env.items():
        monkeypatch.setenv(name, value)
    return _session_service


@pytest.fixture(scope="session")
def models() -> Models:
    return MODELS
