"""Autostart and the environment, as the C++ client has them: a model call that finds no service
starts one, and however many clients race — threads of one process, or Python and C++ processes
side by side — exactly one daemon starts, since all take SOCKET.start.lock. The seed's variables
(HADES_MODEL_MGR_SOCKET, HADES_RUNTIME_AUTOSTART, HADES_MAX_MODELS, HADES_DEFAULT_DEVICE) and
HADES_BIN/PATH are read and checked as the C++ side reads and checks them."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import hades
from hades._connection import socket_accepts
from hades._service import lock_holder_pid, process_alive

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
PYTHON_PACKAGE = Path(__file__).resolve().parents[3] / "python"
RERANKER = str(Path(__file__).resolve().parents[2] / "data" / "models" /
               "tiny-bertcls-h32-a2-l2-rerank")


def daemons_of(socket: str) -> list:
    """Pids of live `hades serve` processes on SOCKET."""
    pids = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            arguments = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in arguments and socket.encode() in arguments and process_alive(int(entry)):
            pids.append(int(entry))
    return pids


def test_threads_racing_start_one_daemon(hades_env, monkeypatch):
    monkeypatch.setenv("HADES_RUNTIME_AUTOSTART", "1")
    results, errors = [], []
    barrier = threading.Barrier(8)

    def work():
        client = hades.ModelClient()  # each its own client, as separate callers would be
        barrier.wait()
        try:
            results.append(client.embed(MINILM, ["raced"]).embeddings[0])
        except hades.HadesError as error:
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(results) == 8
    assert all(row == results[0] for row in results)
    daemons = daemons_of(hades_env)
    assert len(daemons) == 1 and lock_holder_pid(hades_env + ".lock") == daemons[0]
    log = Path(hades_env + ".log").read_text()
    assert log.count("starting (pid") == 1, log


def test_python_and_cpp_processes_racing_start_one_daemon(hades_env, hades_bin, monkeypatch):
    monkeypatch.setenv("HADES_RUNTIME_AUTOSTART", "1")
    env = dict(os.environ, PYTHONPATH=str(PYTHON_PACKAGE))
    python = [sys.executable, "-c", "import hades, sys; "
              f"hades.ModelClient().embed({MINILM!r}, ['raced']); print('ok')"]
    cpp = [str(hades_bin), "embed", MINILM, "raced"]
    processes = [subprocess.Popen(python if i % 2 else cpp, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for i in range(8)]
    outcomes = [process.communicate(timeout=120) + (process.returncode,)
                for process in processes]
    assert all(code == 0 for _, _, code in outcomes), outcomes
    assert len(daemons_of(hades_env)) == 1
    assert Path(hades_env + ".log").read_text().count("starting (pid") == 1


def test_autostart_off_starts_nothing_and_health_never_starts(hades_env, monkeypatch):
    with pytest.raises(hades.ServiceNotRunningError, match="Connection refused"):
        hades.ModelClient().get_loaded_models()
    monkeypatch.setenv("HADES_RUNTIME_AUTOSTART", "1")
    client = hades.ModelClient()
    with pytest.raises(hades.ServiceNotRunningError):
        client.health()  # control calls never start a service
    assert client.status is not None and daemons_of(hades_env) == []
    assert client.get_loaded_models() == []  # a model call does
    assert len(daemons_of(hades_env)) == 1
    assert hades.ModelClient(autostart=False).health().healthy


def test_environment_is_read_and_checked(hades_env, monkeypatch, tmp_path):
    assert hades.ModelClient().socket_path == hades_env
    assert hades.ModelClient().options.autostart is False
    monkeypatch.delenv("HADES_MODEL_MGR_SOCKET")
    assert hades.ModelClient().socket_path == "/tmp/hades_model_mgr.sock"
    monkeypatch.chdir(tmp_path)
    assert hades.ModelClient("relative.sock").socket_path == str(tmp_path / "relative.sock")
    with pytest.raises(hades.InvalidArgumentError, match="1 to 107 bytes"):
        hades.ModelClient("/tmp/" + "x" * 200)
    monkeypatch.setenv("HADES_RUNTIME_AUTOSTART", "yes")
    with pytest.raises(hades.InvalidArgumentError,
                       match="HADES_RUNTIME_AUTOSTART must be 0 or 1, got 'yes'"):
        hades.ModelClient()
    assert hades.ModelClient(autostart=True).options.autostart is True  # a keyword wins
    with pytest.raises(hades.InvalidArgumentError, match="request_timeout must be positive"):
        hades.ModelClient(autostart=True, request_timeout=0)
    with pytest.raises(hades.InvalidArgumentError, match="overloaded_retries"):
        hades.ModelClient(autostart=True, overloaded_retries=-1)


@pytest.mark.parametrize("name,value,message", [
    ("HADES_MAX_MODELS", "0", "HADES_MAX_MODELS: '0' is not a positive whole number"),
    ("HADES_MAX_MODELS", "three", "HADES_MAX_MODELS: 'three' is not a positive whole number"),
    ("HADES_DEFAULT_DEVICE", "tpu", "HADES_DEFAULT_DEVICE: unknown device 'tpu'"),
])
def test_daemon_variables_are_checked_before_a_start(hades_env, monkeypatch, name, value,
                                                     message):
    monkeypatch.setenv(name, value)
    with pytest.raises(hades.InvalidArgumentError, match=message):
        hades.HaystackModelEngine().start()
    assert daemons_of(hades_env) == []
    # The daemon refuses the same value with the same words.
    result = subprocess.run([os.environ["HADES_BIN"], "start"], capture_output=True, text=True)
    assert result.returncode == 1 and message in result.stderr


def test_daemon_variables_reach_the_daemon(hades_env, monkeypatch):
    monkeypatch.setenv("HADES_MAX_MODELS", "1")
    monkeypatch.setenv("HADES_DEFAULT_DEVICE", "cuda:0")
    engine = hades.HaystackModelEngine()
    engine.start()
    status = engine.status()
    assert status.limits["max_models"] == 1
    assert status.device == "cpu" and "cuda:0 requested" in status.device_note
    engine.load_model(MINILM)
    engine.load_model(RERANKER)  # one model at most: MiniLM, least recently used, goes
    assert [m.id for m in engine.get_loaded_models()] == [RERANKER]
    engine.stop()


def test_a_daemon_that_fails_to_start_says_why(hades_env, monkeypatch):
    monkeypatch.setenv("HADES_MAX_QUEUE_DELAY", "soon")  # the client does not check this one
    with pytest.raises(hades.InvalidArgumentError) as caught:
        hades.HaystackModelEngine().start()
    message = str(caught.value)
    assert message.startswith("the service failed to start: HADES_MAX_QUEUE_DELAY: 'soon'")
    assert f"(log: {hades_env}.log)" in message


def test_the_hades_program_is_found_through_hades_bin_then_path(hades_env, monkeypatch,
                                                                 hades_bin, tmp_path):
    monkeypatch.setenv("HADES_BIN", str(tmp_path / "missing"))
    with pytest.raises(hades.InvalidArgumentError, match="HADES_BIN must name the hades program"):
        hades.HaystackModelEngine().start()
    monkeypatch.delenv("HADES_BIN")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(hades.NotFoundError) as caught:
        hades.HaystackModelEngine().start()
    assert "HADES_BIN is not set" in str(caught.value) and "PATH" in str(caught.value)
    (tmp_path / "hades").symlink_to(hades_bin)
    engine = hades.HaystackModelEngine()
    assert engine.start().pid > 0  # found on PATH
    engine.stop()
    with pytest.raises(hades.InvalidArgumentError, match="is not an executable file"):
        hades.HaystackModelEngine(hades_binary=str(tmp_path / "nothing")).start()


def test_start_finds_a_daemon_started_by_hand_and_stop_waits_for_it(hades_env, hades_bin):
    process = subprocess.Popen([str(hades_bin), "serve", "--quiet"])
    deadline = time.monotonic() + 30
    while not socket_accepts(hades_env):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.02)
    engine = hades.HaystackModelEngine()
    started = engine.start()  # waits for it rather than starting a second one
    assert started == hades.StartResult(already_running=True, pid=process.pid)
    assert engine.stop() == hades.StopResult(was_running=True, pid=process.pid)
    assert process.wait(timeout=5) == 0 and daemons_of(hades_env) == []
