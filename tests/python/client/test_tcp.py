"""The client over TCP, against a real daemon that listens on a loopback port with an API key (the
conftest's `tcp_service`): the same answers as on its Unix socket, the key from a keyword or
HADES_API_KEY and the URL from HADES_URL, a wrong or missing key as UnauthorizedError with the
service's words, kept-alive connections, hades.aio, no start or stop of a service reached over
TCP, and https:// through a TLS-terminating proxy in front of the daemon."""

import asyncio
import shutil
import socket
import subprocess
import threading

import pytest

import hades
import hades.aio
from hades import _connection
from hades.options import ServiceUrl

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
TEXTS = ["The cat sits outside.", "A man is playing a guitar on stage, loudly and for hours."]
UNAUTHORIZED = "this route needs the service's API key: send Authorization: Bearer KEY"


@pytest.fixture
def tcp(tcp_service, monkeypatch):
    """tcp_service, with an environment that names neither it nor its key: each test says what it
    gives the client."""
    for name in ("HADES_URL", "HADES_API_KEY", "HADES_MODEL_MGR_SOCKET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HADES_RUNTIME_AUTOSTART", "0")
    return tcp_service


@pytest.fixture
def over_socket(tcp):
    with hades.ModelClient(tcp.socket) as client:
        client.load_model(MINILM)
        yield client


def same_rows(result, expected):
    """RESULT's embeddings within 1e-5 of EXPECTED's: requests sent at once are batched together,
    which moves the last digits."""
    assert (result.model, result.dimension, result.tokens) == \
        (expected.model, expected.dimension, expected.tokens)
    return all(max(abs(a - b) for a, b in zip(row, want)) <= 1e-5
               for row, want in zip(result.embeddings, expected.embeddings))


def free_port():
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_same_answers_as_on_the_socket(tcp, over_socket):
    with hades.ModelClient(url=tcp.url, api_key=tcp.api_key) as client:
        assert client.url == tcp.url and client.socket_path == "" and client.address == tcp.url
        assert client.embed(MINILM, TEXTS) == over_socket.embed(MINILM, TEXTS)
        assert client.tokenize(MINILM, TEXTS) == over_socket.tokenize(MINILM, TEXTS)
        assert MINILM in [m.id for m in client.get_loaded_models()]
        status = client.status()
        assert (status.pid, status.socket) == (tcp.pid, tcp.socket)
        assert ["http://" + a for a in status.tcp_addresses] == [tcp.url]
        assert status.tcp_api_key is True
        assert client.health().healthy


def test_the_url_and_key_from_the_environment(tcp, over_socket, monkeypatch):
    monkeypatch.setenv("HADES_URL", tcp.url + "/")
    monkeypatch.setenv("HADES_API_KEY", tcp.api_key)
    client = hades.ModelClient()
    assert client.url == tcp.url and not client.options.autostart
    assert client.embed(MINILM, TEXTS[:1]) == over_socket.embed(MINILM, TEXTS[:1])
    # The key is never shown; a socket named as a keyword wins over HADES_URL.
    assert tcp.api_key not in repr(client.options) and tcp.api_key not in repr(client)
    assert hades.ModelClient(tcp.socket).url == ""
    assert hades.ModelClient(url="").socket_path == hades.DEFAULT_SOCKET_PATH
    assert hades.HaystackModelEngine().address == tcp.url


@pytest.mark.parametrize("variable,value,message", [
    ("HADES_URL", "", "HADES_URL is set but empty; unset it or give it a value"),
    ("HADES_URL", "127.0.0.1:8080", "HADES_URL must be an http:// or https:// URL of the service"),
    ("HADES_URL", "ftp://host:21", "HADES_URL must be an http:// or https:// URL"),
    ("HADES_URL", "http://host:port", "HADES_URL must be an http:// or https:// URL"),
    ("HADES_URL", "http://user:secret@host:80", "must not carry a user or password"),
    ("HADES_API_KEY", "", "HADES_API_KEY is set but empty"),
    ("HADES_API_KEY", "two words", "HADES_API_KEY: the API key must be printable ASCII without "
                                   "spaces"),
])
def test_bad_settings_are_refused_with_their_names(tcp, monkeypatch, variable, value, message):
    monkeypatch.setenv("HADES_URL", tcp.url)
    monkeypatch.setenv(variable, value)
    with pytest.raises(hades.InvalidArgumentError) as caught:
        hades.ModelClient()
    assert message in str(caught.value)
    assert "secret" not in str(caught.value) and "words" not in str(caught.value)


def test_a_url_names_the_host_and_a_path_before_the_routes():
    options = hades.ModelClient(url="http://[::1]:8080/hades/", api_key="k-1").options
    head = _connection.Endpoint(options).format_request("GET", "/v1/status", b"")
    assert head.startswith(b"GET /hades/v1/status HTTP/1.1\r\nHost: [::1]:8080\r\n")
    assert b"\r\nAuthorization: Bearer k-1\r\n" in head
    plain = _connection.Endpoint(hades.ModelClient(url="http://example.org").options)
    assert plain.parts == ServiceUrl(tls=False, host="example.org", port=80, prefix="")
    assert b"Authorization" not in plain.format_request("POST", "/v1/embed", b"{}")


def test_conflicting_keywords_are_refused(tcp):
    with pytest.raises(hades.InvalidArgumentError, match="socket_path or its url, not both"):
        hades.ModelClient("/tmp/x.sock", url=tcp.url)
    with pytest.raises(hades.InvalidArgumentError, match="autostart starts a service on this"):
        hades.ModelClient(url=tcp.url, autostart=True)
    with pytest.raises(hades.InvalidArgumentError, match="is stopped where it runs"):
        hades.HaystackModelEngine(url=tcp.url, stop_on_exit="always")
    with pytest.raises(hades.InvalidArgumentError, match="the api_key option: the API key must be "
                                                         "1 to 4096 bytes long, got 4097"):
        hades.ModelClient(url=tcp.url, api_key="k" * 4097)


def test_a_wrong_or_missing_key_is_unauthorized(tcp, monkeypatch):
    for key in ("wrong", tcp.api_key[:-1], tcp.api_key + "x", None):
        client = hades.ModelClient(url=tcp.url, api_key=key)
        for call in (client.status, lambda: client.embed(MINILM, ["x"])):
            with pytest.raises(hades.UnauthorizedError) as caught:
                call()
            assert (str(caught.value), caught.value.status) == (UNAUTHORIZED, 401)
        assert client.health().healthy  # /health is open
        client.close()
    monkeypatch.setenv("HADES_API_KEY", tcp.api_key)
    with pytest.raises(hades.UnauthorizedError):  # an empty keyword means no key
        hades.ModelClient(url=tcp.url, api_key="").status()


def test_connections_are_kept_alive(tcp, over_socket, monkeypatch):
    connects = []
    real_connect = _connection.connect_tcp

    def counted_connect(endpoint, deadline):
        connects.append(endpoint.url)
        return real_connect(endpoint, deadline)

    monkeypatch.setattr(_connection, "connect_tcp", counted_connect)
    expected = over_socket.embed(MINILM, TEXTS[:1])
    client = hades.ModelClient(url=tcp.url, api_key=tcp.api_key)
    answers = []

    def work():
        answers.extend(client.embed(MINILM, TEXTS[:1]) for _ in range(25))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client.close()
    assert len(answers) == 100 and all(same_rows(answer, expected) for answer in answers)
    assert 1 <= len(connects) <= 4  # one a thread at most, reused for its other calls


def test_no_start_stop_or_autostart_over_tcp(tcp, monkeypatch):
    engine = hades.HaystackModelEngine(url=tcp.url, api_key=tcp.api_key)
    for verb, call in (("start", engine.start), ("stop", engine.stop), ("stop", engine.restart)):
        with pytest.raises(hades.UnsupportedError) as caught:
            call()
        assert str(caught.value).startswith(f"cannot {verb} the service at {tcp.url}: a client "
                                            f"starts and stops only a service on this machine's")
    # `with` neither starts nor stops it: the service must answer, and answers on after.
    with engine as entered:
        assert entered.started == hades.StartResult(already_running=True, pid=tcp.pid)
        assert entered.embed(MINILM, ["x"]).dimension == 384
    assert engine.health_check().healthy and engine.status().pid == tcp.pid

    monkeypatch.setenv("HADES_RUNTIME_AUTOSTART", "1")  # not for TCP
    nobody = f"http://127.0.0.1:{free_port()}"
    absent = hades.HaystackModelEngine(url=nobody)
    with pytest.raises(hades.ServiceNotRunningError) as caught:
        absent.embed(MINILM, ["x"])
    assert str(caught.value) == (f"Connection refused: the service is not running at {nobody} "
                                 "(nothing listens on that port)")
    assert absent.status() == hades.ServiceStatus(running=False, socket="")
    assert absent.health_check().status == "not running"
    with pytest.raises(hades.ServiceNotRunningError):
        with absent:
            pass


def test_asyncio_over_tcp(tcp, over_socket):
    expected = over_socket.embed(MINILM, TEXTS)

    async def main():
        async with hades.aio.HaystackModelEngine(url=tcp.url, api_key=tcp.api_key) as engine:
            assert engine.started.pid == tcp.pid
            answers = await asyncio.gather(*(engine.embed(MINILM, TEXTS) for _ in range(8)))
            with pytest.raises(hades.UnsupportedError, match="cannot stop the service at"):
                await engine.stop()
        wrong = hades.aio.ModelClient(url=tcp.url, api_key="wrong")
        with pytest.raises(hades.UnauthorizedError, match="needs the service's API key"):
            await wrong.embed(MINILM, ["x"])
        await wrong.close()
        return answers

    assert all(same_rows(answer, expected) for answer in asyncio.run(main()))


# ---- https:// through a TLS proxy ----------------------------------------------------------

@pytest.fixture
def tls_proxy(tcp, tmp_path):
    """https://127.0.0.1:PORT: a TLS-terminating proxy (asyncio, in a thread) to the daemon's
    plain TCP port, as a load balancer in front of hades would be; its certificate, self-signed
    with openssl, is the path in `.cert`."""
    if shutil.which("openssl") is None:
        pytest.skip("no openssl program to make a certificate with")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=hades",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out",
                    str(cert)], check=True, capture_output=True)
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    host, port = tcp.url[len("http://"):].rsplit(":", 1)
    loop = asyncio.new_event_loop()

    async def pump(reader, writer):
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def forward(reader, writer):
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
        await asyncio.gather(pump(reader, upstream_writer), pump(upstream_reader, writer))

    server = loop.run_until_complete(asyncio.start_server(forward, "127.0.0.1", 0, ssl=context))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    class Proxy:
        url = f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}"

    Proxy.cert = str(cert)
    yield Proxy

    async def shut_down():
        server.close()
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run_coroutine_threadsafe(shut_down(), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    loop.close()


def test_https_through_a_tls_proxy(tcp, tls_proxy, over_socket, monkeypatch):
    expected = over_socket.embed(MINILM, TEXTS)
    untrusted = hades.ModelClient(url=tls_proxy.url, api_key=tcp.api_key)
    with pytest.raises(hades.IoError, match=f"TLS with {tls_proxy.url} failed: "
                                            "CERTIFICATE_VERIFY_FAILED"):
        untrusted.embed(MINILM, TEXTS)
    monkeypatch.setenv("SSL_CERT_FILE", tls_proxy.cert)  # OpenSSL's own variable
    with hades.ModelClient(url=tls_proxy.url, api_key=tcp.api_key) as client:
        assert [client.embed(MINILM, TEXTS) for _ in range(3)] == [expected] * 3

    async def main():
        async with hades.aio.ModelClient(url=tls_proxy.url, api_key=tcp.api_key) as client:
            return await client.embed(MINILM, TEXTS)

    assert asyncio.run(main()) == expected
