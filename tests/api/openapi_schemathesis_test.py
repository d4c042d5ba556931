#!/usr/bin/env python3
"""docs/api/openapi.yaml against a live daemon, by schemathesis (pinned in
tests/python/requirements.lock).

A `hades serve` listens on its socket and on a loopback TCP port with an API key, offline
(HF_HUB_OFFLINE=1: a model id not in the test cache is 404 at once), with all-MiniLM-L6-v2 as the
default model of the OpenAI and TEI routes; the classifier routes name the tiny classifiers of
tests/data/models ($HADES_TEST_MODELS in the settings). Schemathesis runs every check (--checks all) over every
route, with a fixed seed and a capped number of examples per route, on one worker; its settings
(tests/api/schemathesis.toml) say which statuses a check accepts beyond its defaults, and why.
The test fails when schemathesis reports a failure, or when the daemon did not outlive the run.

Run: build/py-venv/bin/python tests/api/openapi_schemathesis_test.py. $HADES_BIN names the
program (default build/hades), $HADES_TEST_HF_CACHE the test Hugging Face cache (default
build/hf-hub), $HADES_SCHEMATHESIS_EXAMPLES the examples per route (default 50).
"""

import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
SEED = "20261207"


def tcp_address(hades: str, socket_path: Path, env: dict) -> str:
    """The daemon's TCP address, once it answers on its socket."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = subprocess.run([hades, "status", "--json", "--socket", str(socket_path)],
                                env=env, capture_output=True, text=True)
        if status.returncode == 0:
            return json.loads(status.stdout)["tcp"]["addresses"][0]
        time.sleep(0.1)
    raise RuntimeError(f"the daemon on {socket_path} did not answer within 60 s")


def main() -> int:
    hades = os.environ.get("HADES_BIN", str(REPO / "build" / "hades"))
    cache = os.environ.get("HADES_TEST_HF_CACHE", str(REPO / "build" / "hf-hub"))
    examples = os.environ.get("HADES_SCHEMATHESIS_EXAMPLES", "50")
    schemathesis = Path(sys.executable).parent / "schemathesis"
    with tempfile.TemporaryDirectory(prefix="hades-schemathesis-") as folder:
        tmp = Path(folder)
        key = secrets.token_hex(16)
        key_file = tmp / "api.key"
        key_file.write_text(key + "\n")
        key_file.chmod(0o600)
        socket_path = tmp / "s.sock"
        env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HUB_CACHE=cache,
                   HADES_DEFAULT_MODEL=MINILM, OMP_WAIT_POLICY="passive",
                   HADES_TEST_MODELS=str(REPO / "tests" / "data" / "models"))
        with open(tmp / "daemon.log", "w") as log:
            daemon = subprocess.Popen(
                [hades, "serve", "--socket", str(socket_path), "--listen", "127.0.0.1:0",
                 "--api-key-file", str(key_file)],
                env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            address = tcp_address(hades, socket_path, env)
            command = [str(schemathesis), "--config-file", str(HERE / "schemathesis.toml"), "run",
                       str(REPO / "docs" / "api" / "openapi.yaml"), "--url", f"http://{address}",
                       "--header", f"Authorization: Bearer {key}", "--checks", "all",
                       "--seed", SEED, "--max-examples", examples, "--workers", "1",
                       "--no-shrink", "--request-timeout", "120"]
            print("$", " ".join(command).replace(key, "KEY"), flush=True)
            result = subprocess.run(command, cwd=tmp, env=env)
            alive = daemon.poll() is None
            if not alive:
                print("FAIL: the daemon exited during the run:\n" + (tmp / "daemon.log").read_text())
            return 0 if result.returncode == 0 and alive else 1
        finally:
            daemon.terminate()
            daemon.wait(timeout=60)


if __name__ == "__main__":
    sys.exit(main())
