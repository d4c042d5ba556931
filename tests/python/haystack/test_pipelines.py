"""Haystack pipelines of hades components, end to end on a small real corpus (the hand-written
stories and the heapq essay of tests/data/chunk/reference.json) against the real daemon and
models served under the seed's ids: an indexing pipeline (HadesDocumentSplitter ->
HadesDocumentEmbedder -> DocumentWriter into an InMemoryDocumentStore) and a query pipeline
(HadesTextEmbedder -> InMemoryEmbeddingRetriever -> HadesRanker). Both survive Pipeline.dumps ->
Pipeline.loads without unsafe=True and give the same results after, run and run_async alike."""

import asyncio
import json
from pathlib import Path

import pytest
from haystack import Document, Pipeline
from haystack.components.retrievers.in_memory import InMemoryEmbeddingRetriever
from haystack.components.writers import DocumentWriter
from haystack.core.errors import DeserializationError
from haystack.document_stores.in_memory import InMemoryDocumentStore
from haystack.document_stores.types import DuplicatePolicy

import hades
from haystack_integrations.components.embedders.hades import (HadesDocumentEmbedder,
                                                              HadesTextEmbedder)
from haystack_integrations.components.preprocessors.hades import HadesDocumentSplitter
from haystack_integrations.components.rankers.hades import HadesRanker

DATA = Path(__file__).resolve().parents[2] / "data"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
# Served by the conftest's cache as tiny random stand-ins (real chonky / cross-encoder files).
CHUNKER = "mirth/chonky_modernbert_large_1"
RERANKER = "cross-encoder/ms-marco-MiniLM-L6-v2"
STORIES = ["lighthouse", "boulangere-fr", "travel-diary-mixed", "chinese-city-day",
           "weekend-emoji", "uhrmacher-de", "heapq-raw-newlines"]
QUERY = "Who brought the letter to the lighthouse keeper on the island?"


def corpus():
    cases = json.loads((DATA / "chunk" / "reference.json").read_text(encoding="utf-8"))["cases"]
    return [Document(content=case["text"], meta={"story": case["name"]})
            for case in cases if case["name"] in STORIES]


def indexing_pipeline(store):
    pipeline = Pipeline()
    # The stand-in's positions end at 64 (the real model's default window for this id is 1024).
    pipeline.add_component("splitter", HadesDocumentSplitter(model=CHUNKER, max_length=64))
    pipeline.add_component("embedder", HadesDocumentEmbedder(model=MINILM, progress_bar=False))
    pipeline.add_component("writer", DocumentWriter(store, policy=DuplicatePolicy.OVERWRITE))
    pipeline.connect("splitter.documents", "embedder.documents")
    pipeline.connect("embedder.documents", "writer.documents")
    return pipeline


def query_pipeline(store):
    pipeline = Pipeline()
    pipeline.add_component("embedder", HadesTextEmbedder(model=MINILM, progress_bar=False))
    pipeline.add_component("retriever", InMemoryEmbeddingRetriever(store, top_k=8))
    pipeline.add_component("ranker", HadesRanker(model=RERANKER, top_k=3))
    pipeline.connect("embedder.embedding", "retriever.query_embedding")
    pipeline.connect("retriever.documents", "ranker.documents")
    return pipeline


def ask(pipeline, query=QUERY):
    return pipeline.run({"embedder": {"text": query}, "ranker": {"query": query}},
                        include_outputs_from={"retriever"})


def ranked(result):
    return [(d.id, d.score) for d in result["ranker"]["documents"]]


def check_same_ranking(got, expected):
    assert [i for i, _ in got] == [i for i, _ in expected]
    assert [s for _, s in got] == pytest.approx([s for _, s in expected], abs=1e-6)


@pytest.fixture(scope="module")
def indexed(_session_service):
    """The corpus indexed once: the store, the pipeline and what its embedder output."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in _session_service.env.items():
            patch.setenv(name, value)
        store = InMemoryDocumentStore()
        pipeline = indexing_pipeline(store)
        result = pipeline.run({"splitter": {"documents": corpus()}},
                              include_outputs_from={"embedder"})
        pipeline.close()
        yield store, pipeline, result


def test_indexing_pipeline_writes_every_split_with_its_embedding(service, indexed):
    store, _, result = indexed
    splits = result["embedder"]["documents"]
    assert result["writer"]["documents_written"] == len(splits) == store.count_documents()
    assert len(splits) > 3 * len(STORIES), "the chunker cut each story"
    for source in corpus():  # the splits of each story tile it, in order
        mine = sorted((d for d in splits if d.meta["source_id"] == source.id),
                      key=lambda d: d.meta["split_id"])
        assert "".join(d.content for d in mine) == source.content
        assert all(d.meta["story"] == source.meta["story"] for d in mine)
    stored = {d.id: d for d in store.filter_documents()}
    with hades.ModelClient() as client:
        expected = client.embed(MINILM, [d.content for d in splits]).embeddings
    for split, row in zip(splits, expected):
        assert stored[split.id].embedding == pytest.approx(row, abs=1e-6)
    assert result["embedder"]["meta"]["usage"]["tokens"] > 0


def test_query_pipeline_retrieves_then_reranks(service, indexed):
    store = indexed[0]
    result = ask(query_pipeline(store))
    retrieved = result["retriever"]["documents"]
    assert len(retrieved) == 8
    # MiniLM is the real model: the story the query is about comes first.
    assert retrieved[0].meta["story"] == "lighthouse"
    reranked = result["ranker"]["documents"]
    assert len(reranked) == 3 and {d.id for d in reranked} <= {d.id for d in retrieved}
    with hades.ModelClient() as client:
        hits = client.rerank(RERANKER, QUERY, [d.content for d in retrieved]).results
    expected = [(retrieved[hit.index].id, hit.score) for hit in hits[:3]]
    assert [d.id for d in reranked] == [i for i, _ in expected]
    assert [d.score for d in reranked] == pytest.approx([s for _, s in expected], abs=1e-6)


def test_pipelines_survive_dumps_and_loads(service, indexed):
    store, indexing, before = indexed
    text = indexing.dumps()
    assert "haystack_integrations.components.preprocessors.hades" in text
    loaded = Pipeline.loads(text)  # no unsafe=True: haystack_integrations.* is trusted
    after = loaded.run({"splitter": {"documents": corpus()}}, include_outputs_from={"embedder"})
    loaded.close()
    old, new = before["embedder"]["documents"], after["embedder"]["documents"]
    assert [(d.id, d.content, d.meta) for d in new] == [(d.id, d.content, d.meta) for d in old]
    for a, b in zip(new, old):
        assert a.embedding == pytest.approx(b.embedding, abs=1e-6)
    assert after["writer"]["documents_written"] == store.count_documents() == len(old)

    query = query_pipeline(store)
    expected = ranked(ask(query))
    reloaded = Pipeline.loads(query.dumps())
    assert reloaded.to_dict() == query.to_dict()
    check_same_ranking(ranked(ask(reloaded)), expected)
    reloaded.close()


def test_query_pipeline_run_async(service, indexed):
    store = indexed[0]
    expected = ranked(ask(query_pipeline(store)))
    pipeline = Pipeline.loads(query_pipeline(store).dumps())

    async def main():
        answers = await asyncio.gather(*(pipeline.run_async(
            {"embedder": {"text": QUERY}, "ranker": {"query": QUERY}}) for _ in range(3)))
        await pipeline.close_async()
        return answers

    for answer in asyncio.run(main()):
        check_same_ranking(ranked(answer), expected)


def test_the_allowlist_still_refuses_other_modules(service, indexed):
    """The hades components load without unsafe=True because the allowlist trusts
    haystack_integrations.*, not because it is off: a class elsewhere is refused."""
    text = query_pipeline(indexed[0]).dumps()
    outside = text.replace("haystack_integrations.components.rankers.hades.ranker.HadesRanker",
                           "hades.client.ModelClient")
    with pytest.raises(DeserializationError, match="allowlist"):
        Pipeline.loads(outside)
