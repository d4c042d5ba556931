"""hades.aio, the asyncio twin, on a real daemon: the seed's lifecycle with `async with`, the model
methods giving the blocking client's answers (their options too: prompts, dimensions, top_n and
the documents), its errors, and tasks racing an autostart that
start one daemon."""

import asyncio
import json
from pathlib import Path

import pytest

import hades
import hades.aio
from hades._service import process_alive

DATA = Path(__file__).resolve().parents[2] / "data"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
CHONKY = "mirth/chonky_modernbert_large_1"
RERANKER = str(DATA / "models" / "tiny-bertcls-h32-a2-l2-rerank")
TOKEN_CLASSIFIER = str(DATA / "models" / "tiny-bertcls-h32-a2-l2-tokcls")
CLASSIFIER = str(DATA / "models" / "tiny-bertcls-h32-a2-l2-seqcls")
ST6 = str(DATA / "models" / "tiny-st6-bert-mean-normalize")


def test_lifecycle_with_async_with(hades_env):
    async def main():
        engine = hades.aio.HaystackModelEngine()
        assert (await engine.status()).running is False
        assert (await engine.health_check()).status == "not running"
        async with engine:
            started = engine.started
            assert not started.already_running and started.pid > 0
            model = await engine.load_model(CHONKY)
            assert (model.id, model.kind) == (CHONKY, "token-classification")
            await engine.load_model(MINILM, pin=True)
            assert sorted(m.id for m in await engine.get_loaded_models()) == [CHONKY, MINILM]
            await engine.unload_model(CHONKY)
            assert (await engine.health_check()).healthy
            status = await engine.status()
            assert status.pid == started.pid and [m.id for m in status.models] == [MINILM]
            restarted = await engine.restart()
            assert restarted.pid != started.pid and not process_alive(started.pid)
        assert not process_alive(restarted.pid)
        assert await engine.stop() == hades.StopResult(was_running=False, pid=0)

    asyncio.run(main())


def test_async_with_stops_on_an_exception_and_can_leave_a_service_alone(hades_env):
    async def main():
        with pytest.raises(hades.ModelNotFoundError, match="Model not found: no-such-org/x"):
            async with hades.aio.HaystackModelEngine() as engine:
                pid = engine.started.pid
                await engine.load_model("no-such-org/x")
        assert not process_alive(pid)
        outer = await hades.aio.HaystackModelEngine().start()
        async with hades.aio.HaystackModelEngine(stop_on_exit="if_started") as engine:
            assert engine.started.already_running
        assert process_alive(outer.pid)
        await hades.aio.HaystackModelEngine().stop()

    asyncio.run(main())


def test_model_methods_answer_as_the_blocking_client(service):
    blocking = hades.ModelClient()
    cases = json.loads((DATA / "models" / "tiny-bertcls-h32-a2-l2-rerank" /
                        "reference.json").read_text())["text_cases"]
    documents = [c["pair"] for c in cases]
    text = json.loads((DATA / "chunk" / "reference.json").read_text())["cases"][0]["text"]

    async def main():
        async with hades.aio.ModelClient() as client:
            answers = await asyncio.gather(
                client.embed(MINILM, ["alpha", "beta"]),
                client.tokenize(MINILM, ["alpha beta"]),
                client.classify(CLASSIFIER, ["good"], ["pair"]),
                client.rerank(RERANKER, cases[0]["text"], documents),
                client.token_classify(TOKEN_CLASSIFIER, [text]),
                client.chunk(CHONKY, [text], max_length=64, snap_to_whitespace=True),
                client.embed(MINILM, ["gamma"], as_numpy=True))
            return answers + [await client.request("GET", "/v1/models")]  # after the loads

    embedded, tokens, classes, ranked, spans, chunks, array, raw = asyncio.run(main())
    assert embedded == blocking.embed(MINILM, ["alpha", "beta"])
    assert tokens == blocking.tokenize(MINILM, ["alpha beta"])
    assert classes == blocking.classify(CLASSIFIER, ["good"], ["pair"])
    assert ranked == blocking.rerank(RERANKER, cases[0]["text"], documents)
    assert spans == blocking.token_classify(TOKEN_CLASSIFIER, [text])
    assert chunks == blocking.chunk(CHONKY, [text], max_length=64, snap_to_whitespace=True)
    assert array.embeddings.shape == (1, 384)
    assert MINILM in [m["id"] for m in raw["models"]]


def test_embed_and_rerank_options_answer_as_the_blocking_client(service):
    blocking = hades.ModelClient()
    cases = json.loads((DATA / "models" / "tiny-bertcls-h32-a2-l2-rerank" /
                        "reference.json").read_text())["text_cases"]
    documents = [c["pair"] for c in cases]
    texts = ["how do frogs survive the winter", "a"]

    async def main():
        async with hades.aio.ModelClient() as client:
            answers = await asyncio.gather(
                client.embed(ST6, texts, prompt_name="query", dimensions=16),
                client.embed(ST6, texts, prompt="query: "),
                client.rerank(RERANKER, cases[0]["text"], documents, top_n=3,
                              return_documents=True))
            with pytest.raises(hades.InputInvalidError, match="query"):
                await client.embed(ST6, texts, prompt_name="passage")
            return answers

    named, prompted, ranked = asyncio.run(main())
    assert named == blocking.embed(ST6, texts, prompt_name="query", dimensions=16)
    assert named.dimension == 16
    assert prompted == blocking.embed(ST6, texts, prompt="query: ")
    assert ranked == blocking.rerank(RERANKER, cases[0]["text"], documents, top_n=3,
                                     return_documents=True)
    assert [hit.document for hit in ranked.results] == [documents[hit.index]
                                                        for hit in ranked.results]


def test_errors_are_the_blocking_clients(hades_env, monkeypatch):
    async def main():
        client = hades.aio.ModelClient()
        with pytest.raises(hades.ServiceNotRunningError, match="^Connection refused: "):
            await client.embed(MINILM, ["x"])
        with pytest.raises(hades.ServiceNotRunningError):
            await client.health()
        monkeypatch.setenv("HADES_RUNTIME_AUTOSTART", "1")
        racing = hades.aio.ModelClient()  # autostart on: eight tasks race to start it
        rows = await asyncio.gather(*(racing.embed(MINILM, ["raced"]) for _ in range(8)))
        assert all(r.embeddings == rows[0].embeddings for r in rows)
        with pytest.raises(hades.UnsupportedError, match="no classification head"):
            await racing.classify(MINILM, ["x"])
        with pytest.raises(hades.InvalidArgumentError, match="is empty"):
            await racing.embed(MINILM, [])
        impatient = hades.aio.ModelClient(request_timeout=0.02)
        with pytest.raises(hades.IoError, match="timed out"):
            await impatient.embed(MINILM, ["word " * 250] * 64)
        await racing.close()

    asyncio.run(main())
    log = Path(hades_env + ".log").read_text()
    assert log.count("starting (pid") == 1, "one daemon for the eight racing tasks"
