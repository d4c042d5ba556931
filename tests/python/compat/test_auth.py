"""The TCP listener's API key: every route but the probes needs it, whole and exact; an address
others can reach is not served without one; the key shows nowhere."""

import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest


def status_of(url: str, route: str, authorization=None, body=None) -> int:
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    request = urllib.request.Request(url + route, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        if error.code == 401:
            assert error.headers["WWW-Authenticate"] == "Bearer"
        return error.code


@pytest.mark.parametrize("route,body", [("/v1/status", None), ("/v1/models", None),
                                        ("/v1/embed", b'{"inputs": ["x"]}'),
                                        ("/embed", b'{"inputs": "x"}'),
                                        ("/v1/embeddings", b'{"input": "x"}')])
def test_only_the_whole_key_opens_a_route(tcp_service, route, body):
    key = tcp_service.api_key
    for wrong in [None, "", "Bearer", f"Bearer {key[:-1]}{'0' if key[-1] != '0' else '1'}",
                  f"Bearer {key[:-1]}", f"Bearer {key}x", f"Basic {key}", key, f"Bearer {key.upper()}"]:
        assert status_of(tcp_service.url, route, wrong, body) == 401, wrong
    assert status_of(tcp_service.url, route, f"Bearer {key}", body) in (200, 400)
    assert status_of(tcp_service.url, route, f"bearer {key}", body) in (200, 400)


def test_probes_stay_open(tcp_service):
    assert status_of(tcp_service.url, "/health") == 200
    assert status_of(tcp_service.url, "/metrics") == 200
    assert status_of(tcp_service.url, "/no/such/route") == 401  # no probing without the key


def test_the_key_appears_in_no_log_or_status(tcp_service, hades_bin):
    status_of(tcp_service.url, "/v1/models", "Bearer wrong-key")
    env = {**os.environ, **tcp_service.env}
    shown = subprocess.run([str(hades_bin), "status", "--json"], env=env, capture_output=True,
                           text=True, check=True).stdout
    log = Path(tcp_service.socket + ".log").read_text()
    for text in (shown, log):
        assert tcp_service.api_key not in text
        assert "wrong-key" not in text


def test_a_reachable_address_without_a_key_is_refused(hades_env, hades_bin, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "HADES_API_KEY"}
    refused = subprocess.run([str(hades_bin), "serve", "--listen", "0.0.0.0:0", "--quiet"],
                             env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1
    assert "without an API key" in refused.stderr and "--insecure" in refused.stderr
    key_file = tmp_path / "key"
    key_file.write_text("file-key\n")
    started = subprocess.Popen([str(hades_bin), "serve", "--listen", "[::1]:0", "--quiet",
                                "--api-key-file", str(key_file)], env=env)
    try:
        for _ in range(200):
            shown = subprocess.run([str(hades_bin), "status"], env=env, capture_output=True,
                                   text=True).stdout
            if "tcp" in shown:
                break
            time.sleep(0.05)
        assert "[::1]:" in shown and "API key required" in shown
    finally:
        started.terminate()
        started.wait(60)
