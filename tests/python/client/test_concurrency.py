"""One client shared by 16 threads, and one hades.aio client shared by 16 asyncio tasks, each
making 100 embed calls against the real daemon: every call gets exactly one answer, and it is the
answer its own texts get alone (no answer crosses to another caller), over a handful of
kept-alive connections rather than one per call; a forked child opens its own; and a client's
connections close, quietly, however it ends."""

import asyncio
import gc
import os
import threading
import warnings

import pytest

import hades
import hades.aio
from hades import _connection

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
WORKERS = 16
CALLS = 100


def corpus():
    """Distinct short texts, some pairs: calls of 1 and 2 texts of different lengths."""
    words = "river stone lamp harbour violin orchard lantern meadow glacier ember".split()
    return [[f"{words[i % 10]} number {i} near the {words[(i * 7) % 10]}"] if i % 3 else
            [f"first text {i}", f"the second text of call {i} is a little longer than the first"]
            for i in range(64)]


@pytest.fixture(scope="module")
def alone(_session_service):
    """Each call's texts embedded by themselves, one call at a time."""
    with hades.ModelClient(_session_service.socket, autostart=False) as client:
        client.load_model(MINILM)
        return [client.embed(MINILM, texts).embeddings for texts in corpus()]


def check(answers, expected):
    """ANSWERS: (worker, call, texts index, rows) for every call made."""
    assert len(answers) == WORKERS * CALLS
    assert len({(worker, call) for worker, call, _, _ in answers}) == WORKERS * CALLS
    for worker, call, index, rows in answers:
        assert len(rows) == len(expected[index])
        for row, want in zip(rows, expected[index]):
            assert max(abs(a - b) for a, b in zip(row, want)) <= 1e-5, (worker, call, index)


def test_threads_share_one_client(service, alone, monkeypatch):
    connects = []
    real_connect = _connection.connect_unix

    def counted_connect(path, deadline):
        connects.append(path)
        return real_connect(path, deadline)

    monkeypatch.setattr(_connection, "connect_unix", counted_connect)
    texts = corpus()
    client = hades.ModelClient()
    answers, errors = [], []
    lock = threading.Lock()

    def work(worker):
        for call in range(CALLS):
            index = (worker * 7 + call) % len(texts)
            try:
                rows = client.embed(MINILM, texts[index]).embeddings
            except hades.HadesError as error:
                errors.append(error)
                continue
            with lock:
                answers.append((worker, call, index, rows))

    threads = [threading.Thread(target=work, args=(w,)) for w in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    check(answers, alone)
    # One connection a thread at most, kept alive and reused for the other 99 calls.
    assert len(connects) <= WORKERS
    client.close()


def test_asyncio_tasks_share_one_client(service, alone, monkeypatch):
    connects = []
    real_connect = hades.aio._connect

    async def counted_connect(path, timeout):
        connects.append(path)
        return await real_connect(path, timeout)

    monkeypatch.setattr(hades.aio, "_connect", counted_connect)
    texts = corpus()

    async def main():
        client = hades.aio.ModelClient()
        answers = []

        async def work(worker):
            for call in range(CALLS):
                index = (worker * 7 + call) % len(texts)
                result = await client.embed(MINILM, texts[index])
                answers.append((worker, call, index, result.embeddings))

        await asyncio.gather(*(work(w) for w in range(WORKERS)))
        await client.close()
        return answers

    check(asyncio.run(main()), alone)
    assert len(connects) <= WORKERS


def test_a_forked_child_does_not_share_the_parents_connections(service, alone):
    texts = corpus()
    client = hades.ModelClient()
    client.embed(MINILM, texts[0])  # leaves a kept-alive connection in the pool
    pid = os.fork()
    if pid == 0:  # the child: its answers must be its own, not the parent's
        code = 1
        try:
            ok = all(client.embed(MINILM, texts[1]).embeddings == alone[1] for _ in range(50))
            code = 0 if ok else 2
        finally:
            os._exit(code)
    parent_answers = [client.embed(MINILM, texts[2]).embeddings for _ in range(50)]
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert all(rows == alone[2] for rows in parent_answers)


def open_descriptors():
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture(params=["socket", "tcp"])
def where(request, service):
    """The keywords of a client of the session's socket, or of tcp_service's port."""
    if request.param == "socket":
        return {}
    tcp = request.getfixturevalue("tcp_service")
    return {"url": tcp.url, "api_key": tcp.api_key}


@pytest.mark.parametrize("end", ["collected", "close", "with"])
def test_a_client_closes_its_connections_quietly(where, end):
    """Kept-alive connections are closed by close(), by the end of a `with`, and when a client
    nobody closed is collected, all without an 'unclosed socket' ResourceWarning."""
    texts = corpus()[:4]
    before = open_descriptors()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client = hades.ModelClient(**where)
        # Four threads at once leave four connections in the pool.
        threads = [threading.Thread(target=client.embed, args=(MINILM, t)) for t in texts]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert open_descriptors() > before
        if end == "close":
            client.close()
        elif end == "with":
            with client:
                client.embed(MINILM, texts[0])
        del client, threads
        gc.collect()
    assert open_descriptors() == before
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
