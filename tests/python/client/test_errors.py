"""Errors reach Python as the exception class of their stable code, with the service's own
message: each code a real daemon can be made to answer (docs/protocol.md, "Errors"), the hub's
refusals through a hub that refuses (a local HTTP server standing in for huggingface.co), a stopped
service, timeouts, and answers no hades sends (a peer on the socket that is not hades), none of
which may escape as a bare ConnectionRefusedError, KeyError or JSONDecodeError."""

import http.server
import json
import os
import pickle
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

import hades
from hades import _connection, _http, _wire

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
REPO = Path(__file__).resolve().parents[3]
MODELS = REPO / "tests" / "data" / "models"



def declared_errors():
    """The error codes as include/hades/error.hpp declares them: code -> (HTTP status, role)."""
    text = (REPO / "include" / "hades" / "error.hpp").read_text(encoding="utf-8")
    codes = {code: (int(status), role)
             for code, status, role in re.findall(r"X\((\w+), (\d{3}), (\w+)\)", text)}
    assert len(codes) > 10, "the declaration of the error codes was not found"
    return codes


@pytest.fixture
def client(service):
    with hades.ModelClient() as client:
        yield client


@pytest.fixture
def broken_model(tmp_path):
    """A model folder whose weights are not safetensors at all."""
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "config.json").write_bytes((MODELS / "tiny-bert-h32-a2-l2-gelu" /
                                          "config.json").read_bytes())
    (folder / "model.safetensors").write_bytes(b"\xff" * 64)
    return str(folder)


def test_every_code_has_its_class():
    declared = declared_errors()
    # Every code of the protocol, and the client's own for a missing service.
    assert set(hades.ERROR_CLASSES) == set(declared)
    for code, (status, role) in declared.items():
        # An answer without an error body gets the code its status stands for.
        if role == "stands_for_status":
            assert _wire.code_for_status(status) == code, status
        else:
            assert declared[_wire.code_for_status(status)][1] == "stands_for_status", status
    assert _wire.code_for_status(418) == "internal"
    for code, cls in hades.ERROR_CLASSES.items():
        assert issubclass(cls, hades.HadesError) and cls.code == code
        assert cls.__name__.endswith("Error") and getattr(hades, cls.__name__) is cls
        error = pickle.loads(pickle.dumps(_wire.error_for_code(code, "why", 400, 2.0)))
        assert type(error) is cls and (error.code, str(error), error.status) == (code, "why", 400)
    assert hades.ERROR_CLASSES["connection_refused"] is hades.ServiceNotRunningError
    unknown = _wire.error_for_code("brand_new_code", "from a newer service")
    assert type(unknown) is hades.HadesError and unknown.code == "brand_new_code"


CASES = [
    ("invalid_argument", 400, "field 'inputs' is empty", lambda c, m: c.embed(MINILM, [])),
    ("invalid_argument", 400, "unknown dtype 'fp8'", lambda c, m: c.load_model(MINILM, dtype="fp8")),
    ("not_found", 404, "no route GET /v1/no-such-route",
     lambda c, m: c.request("GET", "/v1/no-such-route")),
    ("model_not_found", 404, "Model not found: no-such-org/no-such-model",
     lambda c, m: c.load_model("no-such-org/no-such-model")),
    ("model_not_found", 404, "no-such-org/never-loaded",
     lambda c, m: c.unload_model("no-such-org/never-loaded")),
    ("invalid_model", 500, "model.safetensors", lambda c, m: c.load_model(m)),
    ("unsupported", 422, "has no classification head", lambda c, m: c.classify(MINILM, ["x"])),
    ("unsupported", 422, "CUDA is not built", lambda c, m: c.load_model(MINILM, device="cuda:0")),
    ("input_invalid", 422, "the model accepts at most 256",
     lambda c, m: c.embed(MINILM, ["word " * 600], truncate=False)),
    ("too_large", 413, "the limit is 1024 per request", lambda c, m: c.embed(MINILM, ["x"] * 1025)),
    ("conflict", 409, "is loaded in fp32; unload it to load it in int8",
     lambda c, m: c.load_model(MINILM, dtype="int8")),
]


@pytest.mark.parametrize("code,status,message,call", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_the_service_errors_reach_python(client, broken_model, code, status, message, call):
    client.load_model(MINILM)  # in fp32: the conflict case asks for int8
    with pytest.raises(hades.ERROR_CLASSES[code]) as caught:
        call(client, broken_model)
    error = caught.value
    assert (error.code, error.status) == (code, status)
    assert message in str(error) and error.message == str(error)


def test_out_of_memory_names_the_budget(hades_env, monkeypatch):
    monkeypatch.setenv("HADES_MAX_MEMORY", "1MiB")  # the daemon's budget, from its environment
    engine = hades.HaystackModelEngine()
    engine.start()
    with pytest.raises(hades.OutOfMemoryError, match=r"needs 86\.\d MiB, budget 1\.0 MiB"):
        engine.load_model(MINILM)
    engine.stop()


def serve_in_background(hades_bin, socket_path, *flags):
    """`hades serve` on SOCKET_PATH with FLAGS the engine does not pass, once it accepts."""
    process = subprocess.Popen([str(hades_bin), "serve", "--quiet", "--socket", socket_path,
                                *flags])
    deadline = time.monotonic() + 30
    while not _connection.socket_accepts(socket_path):
        assert process.poll() is None and time.monotonic() < deadline, "hades serve did not start"
        time.sleep(0.02)
    return process


def embed_from_threads(client, threads, texts):
    """Errors of THREADS concurrent embeddings of TEXTS through CLIENT."""
    errors = []

    def work():
        try:
            client.embed(MINILM, texts)
        except hades.HadesError as error:
            errors.append(error)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return errors


def test_overloaded_is_retried_after_retry_after_then_raised(hades_env, hades_bin):
    process = serve_in_background(hades_bin, hades_env, "--max-in-flight", "1")
    try:
        hades.ModelClient().load_model(MINILM)
        texts = ["a sentence long enough to keep the engine busy for a while " * 4] * 8
        impatient = hades.ModelClient(overloaded_retries=0)
        errors = embed_from_threads(impatient, 6, texts)
        assert errors and all(isinstance(e, hades.OverloadedError) for e in errors), errors
        assert errors[0].retry_after == 1.0 and errors[0].status == 429
        assert "1 requests are in flight" in str(errors[0])
        # The default client waits out each Retry-After: every request is served.
        assert embed_from_threads(hades.ModelClient(), 6, texts) == []
    finally:
        process.terminate()
        process.wait(timeout=60)


def test_shutting_down_reaches_python(hades_env, hades_bin):
    engine = hades.HaystackModelEngine()
    pid = engine.start().pid
    engine.load_model(MINILM)
    busy = threading.Thread(target=engine.embed, args=(MINILM, ["word " * 250] * 96))
    busy.start()
    time.sleep(0.2)
    # A request whose last bytes arrive after SIGTERM is refused rather than served.
    request = _http.format_request("POST", "/v1/embed", _wire.dump({"model": MINILM,
                                                                     "inputs": ["late"]}))
    with socket.socket(socket.AF_UNIX) as raw:
        raw.connect(hades_env)
        raw.sendall(request[:-4])
        time.sleep(0.05)
        os.kill(pid, signal.SIGTERM)
        time.sleep(0.1)
        response = _connection.exchange(raw, request[-4:], time.monotonic() + 30, "the request")
    busy.join()
    error = _wire.error_from_response(response, "POST /v1/embed")
    assert isinstance(error, hades.ShuttingDownError) and response.status == 503
    assert "the service is shutting down" in str(error)


class RefusingHub(http.server.BaseHTTPRequestHandler):
    """A Hugging Face hub that answers every request with the server's STATUS."""

    status = 403

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.send_response(self.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_HEAD = do_GET  # noqa: N815

    def log_message(self, *args):
        pass


def test_hub_refusals_reach_python(hades_env, monkeypatch):
    hub = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RefusingHub)
    threading.Thread(target=hub.serve_forever, daemon=True).start()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{hub.server_port}")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_TOKEN", "")
    engine = hades.HaystackModelEngine()
    try:
        engine.start()
        RefusingHub.status = 403
        with pytest.raises(hades.AccessDeniedError, match="gated-org/gated is gated or private"):
            engine.load_model("gated-org/gated")
        with pytest.raises(hades.AccessDeniedError, match="set HF_TOKEN"):
            engine.pull("gated-org/other")  # `hades pull`, in its own process
        RefusingHub.status = 503
        with pytest.raises(hades.NetworkError, match="answered HTTP 503"):
            engine.load_model("down-org/model")
        with pytest.raises(hades.NetworkError, match="answered HTTP 503"):
            engine.pull("down-org/other")
    finally:
        engine.stop()
        hub.shutdown()


def test_no_service_is_connection_refused(hades_env):
    client = hades.ModelClient()  # the fixture turns autostart off
    for call in (client.health, client.status, client.get_loaded_models,
                 lambda: client.embed(MINILM, ["x"]), lambda: client.load_model(MINILM)):
        with pytest.raises(hades.ServiceNotRunningError) as caught:
            call()
        assert not isinstance(caught.value, ConnectionRefusedError)
        assert str(caught.value).startswith("Connection refused: the service is not running at "
                                            + hades_env)
    assert client.health_check().status == "not running"
    assert not Path(hades_env).exists(), "nothing started a service"


def test_a_request_past_its_timeout_is_an_io_error(hades_env):
    engine = hades.HaystackModelEngine(request_timeout=0.05)
    engine.start()
    hades.ModelClient().load_model(MINILM)  # the load itself takes longer than 50 ms
    with pytest.raises(hades.IoError, match="timed out waiting for POST /v1/embed"):
        engine.embed(MINILM, ["word " * 250] * 64)
    assert engine.health_check().healthy, "the service outlives an impatient client"
    engine.stop()


def answer_once(path, answers):
    """A peer on PATH that is not hades: answers each connection's request with the next of
    ANSWERS (raw bytes), then closes it."""
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen(8)

    def serve():
        for answer in answers:
            connection, _ = listener.accept()
            with connection:
                connection.recv(65536)
                connection.sendall(answer)
        listener.close()

    threading.Thread(target=serve, daemon=True).start()


def http_answer(status, body, extra=""):
    return (f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\nConnection: close\r\n{extra}"
            f"\r\n").encode() + body


def test_answers_no_hades_sends_are_io_errors(tmp_path):
    path = str(tmp_path / "not-hades.sock")
    answers = [
        (b"garbage\r\n\r\n", hades.IoError, "malformed HTTP response"),
        (b"", hades.IoError, "closed the connection without answering"),
        (http_answer(200, b"not json"), hades.IoError, "is not JSON"),
        (http_answer(200, b'{"embeddings": "none"}'), hades.IoError, "unexpected answer"),
        (http_answer(200, b'{"model": "m"}'), hades.IoError, "KeyError"),
        (http_answer(200, b"[1, 2]"), hades.IoError, "not a JSON object"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}", hades.IoError, "before the end"),
        (http_answer(404, b"no json here"), hades.NotFoundError, "with HTTP 404"),
        (http_answer(429, b"busy", "Retry-After: 7\r\n"), hades.OverloadedError, "HTTP 429"),
        (http_answer(418, b'{"error": {"code": "teapot", "message": "short and stout"}}'),
         hades.HadesError, "short and stout"),
    ]
    answer_once(path, [answer for answer, _, _ in answers])
    client = hades.ModelClient(path, autostart=False, overloaded_retries=0)
    for _, cls, message in answers:
        with pytest.raises(cls, match=message) as caught:
            client.embed(MINILM, ["x"])
        assert type(caught.value) is cls
    assert caught.value.code == "teapot" and caught.value.status == 418


def test_text_that_is_not_utf8_is_refused_before_sending(client):
    with pytest.raises(hades.InputInvalidError, match="not valid UTF-8"):
        client.embed(MINILM, ["\udc80 a lone surrogate"])
    with pytest.raises(hades.InvalidArgumentError, match="must be strings"):
        client.embed(MINILM, ["fine", 3])
    assert json.loads(json.dumps(client.embed(MINILM, ["fine"]).dimension)) == 384
