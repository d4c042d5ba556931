"""HadesTextEmbedder and HadesDocumentEmbedder against the real daemon: all-MiniLM-L6-v2's
embeddings equal sentence-transformers' (tests/data/minilm/reference.json) within 1e-5, and the
options keep sentence-transformers' meaning (prefix/suffix, meta fields, Matryoshka truncate_dim
with and without normalize_embeddings, truncate), on run and run_async alike."""

import asyncio
import json
import math
from pathlib import Path

import pytest
from haystack import Document

import hades
from haystack_integrations.components.embedders.hades import (HadesDocumentEmbedder,
                                                              HadesTextEmbedder)

DATA = Path(__file__).resolve().parents[2] / "data"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def reference():
    return json.loads((DATA / "minilm" / "reference.json").read_text(encoding="utf-8"))


@pytest.fixture
def client(service):
    with hades.ModelClient() as client:
        yield client


def worst(rows, expected_rows):
    assert len(rows) == len(expected_rows)
    assert all(len(row) == len(expected) for row, expected in zip(rows, expected_rows))
    return max(abs(a - b) for row, expected in zip(rows, expected_rows)
               for a, b in zip(row, expected))


def norm(vector):
    return math.sqrt(sum(x * x for x in vector))


def test_document_embeddings_equal_sentence_transformers(service, reference):
    texts = reference["texts"]
    documents = [Document(content=text, meta={"n": i}) for i, text in enumerate(texts)]
    embedder = HadesDocumentEmbedder(model=MINILM, progress_bar=False)
    result = embedder.run(documents)
    embedded = result["documents"]
    assert worst([d.embedding for d in embedded], reference["embeddings"]) <= 1e-5
    # New Documents, the given ones untouched, in order, with their ids, contents and meta.
    assert all(d.embedding is None for d in documents)
    assert [(d.id, d.content, d.meta) for d in embedded] == \
        [(d.id, d.content, d.meta) for d in documents]
    assert all(type(x) is float for x in embedded[0].embedding)
    assert result["meta"] == {"model": MINILM, "usage": {
        "tokens": sum(len(ids) for ids in reference["input_ids"])}}


def test_batch_size_changes_nothing_but_the_requests(service, reference):
    documents = [Document(content=text) for text in reference["texts"][:20]]
    one_by_one = HadesDocumentEmbedder(model=MINILM, batch_size=1, progress_bar=False)
    rows = [d.embedding for d in one_by_one.run(documents)["documents"]]
    assert worst(rows, reference["embeddings"][:20]) <= 1e-5
    with pytest.raises(ValueError, match="batch_size"):
        HadesDocumentEmbedder(model=MINILM, batch_size=0)


def test_text_embedder_equals_the_reference(service, reference):
    embedder = HadesTextEmbedder(model=MINILM, progress_bar=False)
    for index in (2, 3, 4, 13):  # short, ascii, accents, a text over 256 tokens (truncated)
        result = embedder.run(reference["texts"][index])
        assert worst([result["embedding"]], [reference["embeddings"][index]]) <= 1e-5
        assert result["meta"]["model"] == MINILM
        assert result["meta"]["usage"]["tokens"] == len(reference["input_ids"][index])
    with pytest.raises(TypeError, match="HadesDocumentEmbedder"):
        embedder.run([Document(content="not a string")])


def test_prefix_suffix_and_meta_fields_are_what_is_embedded(service, client):
    document = Document(content="Lisbon is the capital of Portugal.",
                        meta={"title": "Lisbon", "year": 2024, "empty": None})
    embedder = HadesDocumentEmbedder(model=MINILM, prefix="passage: ", suffix=" [end]",
                                     meta_fields_to_embed=["title", "year", "empty", "absent"],
                                     embedding_separator=" | ", progress_bar=False)
    [embedded] = embedder.run([document])["documents"]
    expected = client.embed(MINILM, ["passage: Lisbon | 2024 | Lisbon is the capital of "
                                     "Portugal. [end]"]).embeddings
    assert worst([embedded.embedding], expected) <= 1e-6
    query = HadesTextEmbedder(model=MINILM, prefix="query: ", suffix="?", progress_bar=False)
    expected = client.embed(MINILM, ["query: where is Lisbon?"]).embeddings
    assert worst([query.run("where is Lisbon")["embedding"]], expected) <= 1e-6


def test_truncate_dim_cuts_after_the_models_normalization(service, reference):
    """As SentenceTransformer.encode(truncate_dim=...): the first N dimensions of the model's
    (normalized) output, renormalized only with normalize_embeddings."""
    texts = reference["texts"][2:6]
    full = reference["embeddings"][2:6]
    documents = [Document(content=text) for text in texts]
    cut = HadesDocumentEmbedder(model=MINILM, truncate_dim=64, progress_bar=False)
    rows = [d.embedding for d in cut.run(documents)["documents"]]
    assert worst(rows, [row[:64] for row in full]) <= 1e-5
    assert all(norm(row) < 0.99 for row in rows)  # a cut unit vector is shorter
    renormalized = HadesDocumentEmbedder(model=MINILM, truncate_dim=64, normalize_embeddings=True,
                                         progress_bar=False)
    rows = [d.embedding for d in renormalized.run(documents)["documents"]]
    assert worst(rows, [[x / norm(row[:64]) for x in row[:64]] for row in full]) <= 1e-5
    assert all(abs(norm(row) - 1) <= 1e-6 for row in rows)
    # A dimension past the model's keeps them all, as a slice does.
    wide = HadesTextEmbedder(model=MINILM, truncate_dim=4096, progress_bar=False)
    assert len(wide.run(texts[0])["embedding"]) == 384
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="truncate_dim"):
            HadesTextEmbedder(model=MINILM, truncate_dim=bad)


def test_normalize_embeddings_of_an_unnormalized_pooling(service, reference):
    """normalize_embeddings=False leaves the model's output as its modules make it: with CLS
    pooling forced, MiniLM's own Normalize module still makes unit vectors of it (as
    sentence-transformers does); normalize_embeddings=True gives the same unit vectors."""
    count = 3
    texts = reference["texts"][:count]
    cls = reference["pooling"]["cls"][:count]
    assert all(abs(norm(row) - 1) > 0.01 for row in cls), "the raw CLS pooling is not unit length"
    as_is = HadesDocumentEmbedder(model=MINILM, pooling="cls", progress_bar=False)
    as_is_rows = [d.embedding for d in as_is.run([Document(content=t) for t in texts])["documents"]]
    forced = HadesDocumentEmbedder(model=MINILM, pooling="cls", normalize_embeddings=True,
                                   progress_bar=False)
    rows = [d.embedding for d in forced.run([Document(content=t) for t in texts])["documents"]]
    expected = [[x / norm(row) for x in row] for row in cls]
    assert worst(rows, expected) <= 1e-5
    assert worst(as_is_rows, expected) <= 1e-5, "MiniLM's Normalize module ran"


def test_truncate_false_refuses_an_overlong_text(service):
    text = "word " * 600
    with pytest.raises(hades.InputInvalidError):
        HadesTextEmbedder(model=MINILM, truncate=False, progress_bar=False).run(text)
    assert len(HadesTextEmbedder(model=MINILM, progress_bar=False).run(text)["embedding"]) == 384


def test_empty_and_contentless_documents(service, reference):
    embedder = HadesDocumentEmbedder(model=MINILM, progress_bar=False)
    assert embedder.run([]) == {"documents": [], "meta": {"model": MINILM,
                                                          "usage": {"tokens": 0}}}
    [none] = embedder.run([Document(content=None, meta={"kind": "image"})])["documents"]
    assert worst([none.embedding], [reference["embeddings"][1]]) <= 1e-5  # embedded as ""
    with pytest.raises(TypeError, match="HadesTextEmbedder"):
        embedder.run("a string")


def test_run_async_equals_run(service, reference):
    texts = reference["texts"][:40]
    documents = [Document(content=text) for text in texts]
    embedder = HadesDocumentEmbedder(model=MINILM, batch_size=16, progress_bar=False)
    query = HadesTextEmbedder(model=MINILM, progress_bar=False)

    async def main():
        gathered = await asyncio.gather(embedder.run_async(documents),
                                        *(query.run_async(t) for t in texts[10:14]))
        await embedder.close_async()
        await query.close_async()
        return gathered

    embedded, *queries = asyncio.run(main())
    assert worst([d.embedding for d in embedded["documents"]], reference["embeddings"][:40]) <= 1e-5
    assert worst([q["embedding"] for q in queries], reference["embeddings"][10:14]) <= 1e-5
    # A later event loop gets a client of its own; the blocking run still works after all that.
    async def later():
        result = await query.run_async(texts[3])
        await query.close_async()
        return result

    again = asyncio.run(later())
    assert worst([again["embedding"]], [reference["embeddings"][3]]) <= 1e-5
    query.close()
    assert worst([query.run(texts[3])["embedding"]], [reference["embeddings"][3]]) <= 1e-5
