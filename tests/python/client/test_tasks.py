"""Every model method of the client against the committed references in tests/data, through the
session's real daemon: MiniLM embeddings (sentence-transformers, within 1e-5) and token ids, its
pooling variants, prompts and Matryoshka dimensions (the ST6 fixture's encode(prompt_name=,
truncate_dim=)), sequence classification, cross-encoder reranking (with top_n and the documents),
token classification (the ner pipeline) and chonky's chunks, with the chunk options (clean-up against chonky's MarkupRemover,
snapping) and offsets that index Python strings."""

import json
from pathlib import Path

import pytest

import hades

DATA = Path(__file__).resolve().parents[2] / "data"
MODELS = DATA / "models"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
# A sentence-transformers 6 model with prompts {"query": "query: ", "document": ""}, no default.
ST6 = str(MODELS / "tiny-st6-bert-mean-normalize")
RERANKER = str(MODELS / "tiny-bertcls-h32-a2-l2-rerank")


def read_json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def minilm_reference():
    return read_json(DATA / "minilm" / "reference.json")


@pytest.fixture
def client(service):
    with hades.ModelClient() as client:
        yield client


def max_abs_diff(rows, expected_rows):
    assert len(rows) == len(expected_rows)
    worst = 0.0
    for row, expected in zip(rows, expected_rows):
        assert len(row) == len(expected)
        worst = max(worst, max(abs(a - b) for a, b in zip(row, expected)))
    return worst


def test_embed_equals_sentence_transformers(client, minilm_reference):
    texts, expected = minilm_reference["texts"], minilm_reference["embeddings"]
    rows, tokens = [], 0
    for first in range(0, len(texts), 32):  # sentence-transformers' batches
        result = client.embed(MINILM, texts[first:first + 32])
        assert (result.model, result.dimension) == (MINILM, 384)
        rows += result.embeddings
        tokens += result.tokens
    assert max_abs_diff(rows, expected) <= 1e-5
    assert tokens == sum(len(ids) for ids in minilm_reference["input_ids"])
    one = client.embed(MINILM, texts[3])  # a str alone is one text
    assert max_abs_diff(one.embeddings, expected[3:4]) <= 1e-5


def test_embed_as_numpy(client, minilm_reference):
    numpy = pytest.importorskip("numpy")
    texts = minilm_reference["texts"][:5]
    result = client.embed(MINILM, texts, as_numpy=True)
    assert isinstance(result.embeddings, numpy.ndarray)
    assert result.embeddings.dtype == numpy.float32 and result.embeddings.shape == (5, 384)
    expected = numpy.asarray(minilm_reference["embeddings"][:5], dtype=numpy.float32)
    assert float(numpy.abs(result.embeddings - expected).max()) <= 1e-5


@pytest.mark.parametrize("pooling,key", [("cls", "cls"), ("max", "max"),
                                         ("mean_sqrt_len", "mean_sqrt_len_tokens"),
                                         ("lasttoken", "lasttoken"), ("mean", "mean_unnormalized"),
                                         ("weightedmean", "weightedmean")])
def test_embed_pooling_variants(client, minilm_reference, pooling, key):
    count = minilm_reference["pooling"]["texts_count"]
    result = client.embed(MINILM, minilm_reference["texts"][:count], pooling=pooling,
                          normalize=False)
    assert max_abs_diff(result.embeddings, minilm_reference["pooling"][key]) <= 1e-5


def test_embed_without_truncation_refuses_a_long_text(client):
    with pytest.raises(hades.InputInvalidError):
        client.embed(MINILM, ["word " * 600], truncate=False)
    assert len(client.embed(MINILM, ["word " * 600]).embeddings) == 1  # truncated by default


@pytest.fixture(scope="module")
def st6_reference():
    return read_json(MODELS / "tiny-st6-bert-mean-normalize" / "reference.json")


def test_embed_with_a_prompt_equals_sentence_transformers(client, st6_reference):
    texts = st6_reference["texts"]
    named = client.embed(ST6, texts, prompt_name="query")
    assert max_abs_diff(named.embeddings, st6_reference["embeddings_prompt_query"]) <= 1e-5
    # The prompt's own text is the same request; neither (no default prompt): none at all.
    assert client.embed(ST6, texts, prompt="query: ") == named
    plain = client.embed(ST6, texts)
    assert max_abs_diff(plain.embeddings, st6_reference["embeddings"]) <= 1e-5
    assert named.tokens > plain.tokens, "the prompt's tokens are computed too"


def test_a_loads_default_prompt_and_left_truncation(client, st6_reference):
    """load_model(default_prompt_name=) gives requests without a prompt of their own that one,
    as encode(prompt_name=); truncation_direction="left" equals SentenceTransformer with its
    tokenizer's truncation_side "left" (left_truncation.json)."""
    texts = st6_reference["texts"]
    try:
        loaded = client.load_model(ST6, default_prompt_name="query")
        assert loaded.default_prompt_name == "query"
        assert [m.default_prompt_name for m in client.get_loaded_models() if m.id == ST6] == \
            ["query"]
        by_default = client.embed(ST6, texts)
        assert max_abs_diff(by_default.embeddings, st6_reference["embeddings_prompt_query"]) <= 1e-5
        own = client.embed(ST6, texts, prompt_name="document")
        assert max_abs_diff(own.embeddings, st6_reference["embeddings"]) <= 1e-5
        with pytest.raises(hades.InvalidArgumentError, match="default_prompt_name 'passage'"):
            client.load_model(ST6, default_prompt_name="passage")
    finally:
        client.unload_model(ST6)  # the other tests expect the folder's own setting: none
    left = read_json(MODELS / "tiny-st6-bert-mean-normalize" / "left_truncation.json")
    cut = client.embed(ST6, left["texts"], truncation_direction="left")
    assert max_abs_diff(cut.embeddings, left["embeddings"]) <= 1e-5
    with pytest.raises(hades.InvalidArgumentError, match="truncation_direction"):
        client.embed(ST6, texts, truncation_direction="middle")


def test_embed_dimensions_equal_sentence_transformers_truncate_dim(client, st6_reference):
    result = client.embed(ST6, st6_reference["texts"], dimensions=16, normalize=True)
    assert result.dimension == 16
    assert max_abs_diff(result.embeddings, st6_reference["embeddings_truncate_dim_16"]) <= 1e-5
    # The model has a Normalize module: its rows are normalized, so the cut ones are again.
    assert client.embed(ST6, st6_reference["texts"], dimensions=16) == result


def test_embed_dimensions_with_numpy_and_a_prompt(client, st6_reference):
    numpy = pytest.importorskip("numpy")
    result = client.embed(ST6, st6_reference["texts"], dimensions=8, prompt_name="query",
                          as_numpy=True)
    assert result.embeddings.shape == (len(st6_reference["texts"]), 8)
    norms = numpy.linalg.norm(result.embeddings[:3], axis=1)  # texts[3] is "", still prompted
    assert numpy.allclose(norms, 1.0, atol=1e-5)


def test_embed_refuses_an_unknown_prompt_name_naming_the_known_ones(client):
    with pytest.raises(hades.InputInvalidError) as caught:
        client.embed(ST6, ["a"], prompt_name="passage")
    message = str(caught.value)
    assert "passage" in message and "query" in message and "document" in message
    assert caught.value.status == 422


@pytest.mark.parametrize("dimensions, error", [(0, hades.InvalidArgumentError),
                                               (33, hades.InputInvalidError)])
def test_embed_refuses_dimensions_outside_the_model(client, dimensions, error):
    # 0 is no width at all (400); 33 is valid, but more than this model has (422).
    with pytest.raises(error, match="dimensions"):
        client.embed(ST6, ["a"], dimensions=dimensions)


@pytest.mark.parametrize("dimensions", [16.5, True, "16"])
def test_embed_refuses_dimensions_that_are_not_whole_numbers(client, dimensions):
    with pytest.raises(hades.InvalidArgumentError, match="dimensions"):
        client.embed(ST6, ["a"], dimensions=dimensions)


def test_tokenize_equals_the_reference_ids(client, minilm_reference):
    texts = minilm_reference["texts"][:40]
    result = client.tokenize(MINILM, texts)
    assert [e.ids for e in result.encodings] == minilm_reference["input_ids"][:40]
    text = "Café au lait, crème brûlée"
    [encoding] = client.tokenize(MINILM, [text]).encodings
    assert encoding.tokens[0] == "[CLS]" and encoding.tokens[-1] == "[SEP]"
    # Offsets are code-point offsets: they slice the Python string.
    pieces = [text[start:end] for start, end in encoding.offsets[1:-1]]
    assert pieces[:2] == ["Café", "au"] and all(isinstance(o, tuple) for o in encoding.offsets)
    [bare] = client.tokenize(MINILM, [text], add_special_tokens=False).encodings
    assert bare.ids == encoding.ids[1:-1] and set(bare.type_ids) == {0}


def test_classify_equals_the_reference(client):
    model = str(MODELS / "tiny-bertcls-h32-a2-l2-seqcls")
    cases = read_json(MODELS / "tiny-bertcls-h32-a2-l2-seqcls" / "reference.json")["text_cases"]
    single = [c for c in cases if "pair" not in c]
    result = client.classify(model, [c["text"] for c in single])
    labels = ["negative", "neutral", "positive"]
    for got, case in zip(result.results, single):
        probabilities = dict(zip(labels, case["probabilities"]))
        assert got.label == max(probabilities, key=probabilities.get)
        assert got.scores[0].label == got.label and len(got.scores) == 3
        for score in got.scores:
            assert score.score == pytest.approx(probabilities[score.label], abs=1e-6)
    paired = [c for c in cases if "pair" in c]
    assert paired, "the reference has pair cases"
    result = client.classify(model, [c["text"] for c in paired], [c["pair"] for c in paired])
    for got, case in zip(result.results, paired):
        assert got.score == pytest.approx(max(case["probabilities"]), abs=1e-6)


def test_rerank_equals_the_cross_encoder(client):
    model = str(MODELS / "tiny-bertcls-h32-a2-l2-rerank")
    cases = read_json(MODELS / "tiny-bertcls-h32-a2-l2-rerank" / "reference.json")["text_cases"]
    query = cases[0]["text"]
    assert all(c["text"] == query for c in cases)
    documents = [c["pair"] for c in cases]
    result = client.rerank(model, query, documents)
    assert sorted(hit.index for hit in result.results) == list(range(len(documents)))
    scores = [hit.score for hit in result.results]
    assert scores == sorted(scores, reverse=True), "best first"
    for hit in result.results:
        assert hit.score == pytest.approx(cases[hit.index]["score"], abs=1e-5)


def test_rerank_raw_scores_are_the_logits(client):
    model = str(MODELS / "tiny-bertcls-h32-a2-l2-rerank")
    cases = read_json(MODELS / "tiny-bertcls-h32-a2-l2-rerank" / "reference.json")["text_cases"]
    result = client.rerank(model, cases[0]["text"], [c["pair"] for c in cases], raw_scores=True)
    for hit in result.results:
        assert hit.score == pytest.approx(cases[hit.index]["logits"][0], abs=1e-5)


def test_rerank_top_n_keeps_the_best_with_their_documents(client):
    cases = read_json(MODELS / "tiny-bertcls-h32-a2-l2-rerank" / "reference.json")["text_cases"]
    documents = [c["pair"] for c in cases]
    best = sorted(range(len(cases)), key=lambda i: cases[i]["score"], reverse=True)
    result = client.rerank(RERANKER, cases[0]["text"], documents, top_n=2,
                           return_documents=True)
    assert [hit.index for hit in result.results] == best[:2]
    for hit in result.results:
        assert hit.score == pytest.approx(cases[hit.index]["score"], abs=1e-5)
        assert hit.document == documents[hit.index]
    # Without return_documents no text; a top_n past the documents keeps them all.
    every = client.rerank(RERANKER, cases[0]["text"], documents, top_n=len(documents) + 3)
    assert [hit.index for hit in every.results] == best
    assert all(hit.document is None for hit in every.results)
    assert every == client.rerank(RERANKER, cases[0]["text"], documents)


def test_rerank_top_n_with_raw_scores(client):
    cases = read_json(MODELS / "tiny-bertcls-h32-a2-l2-rerank" / "reference.json")["text_cases"]
    result = client.rerank(RERANKER, cases[0]["text"], [c["pair"] for c in cases],
                           raw_scores=True, top_n=1)
    (hit,) = result.results
    assert hit.score == pytest.approx(max(c["logits"][0] for c in cases), abs=1e-5)


@pytest.mark.parametrize("top_n", [1.5, "2", False])
def test_rerank_refuses_a_top_n_that_is_not_a_whole_number(client, top_n):
    with pytest.raises(hades.InvalidArgumentError, match="top_n"):
        client.rerank(RERANKER, "q", ["a", "b"], top_n=top_n)


def test_token_classify_equals_the_ner_pipeline(client):
    model = str(MODELS / "tiny-bertcls-h32-a2-l2-tokcls")
    cases = read_json(MODELS / "tiny-bertcls-h32-a2-l2-tokcls" / "reference.json")["text_cases"]
    result = client.token_classify(model, [c["text"] for c in cases])
    assert len(result.entities) == len(cases)
    count = 0
    for spans, case in zip(result.entities, cases):
        expected = case["entities"]
        assert [(s.label, s.start, s.end) for s in spans] == \
            [(e["label"], e["start"], e["end"]) for e in expected], case["text"]
        for span, entity in zip(spans, expected):
            assert span.score == pytest.approx(entity["score"], abs=1e-5)
            count += 1
    assert count > 3


@pytest.mark.parametrize("reference,model", [
    ("reference.json", str(MODELS / "tiny-distilbert-chonky")),
    # The seed's chunker id, served by the conftest's cache as the tiny ModernBERT stand-in.
    ("reference-modernbert.json", "mirth/chonky_modernbert_large_1"),
])
def test_chunk_equals_chonky(client, reference, model):
    fixture = read_json(DATA / "chunk" / reference)
    cases = fixture["cases"]
    result = client.chunk(model, [c["text"] for c in cases],
                          max_length=fixture["model_max_length"])
    assert len(result.results) == len(cases)
    for got, case in zip(result.results, cases):
        assert [[c.start, c.end] for c in got.chunks] == case["spans"], case["name"]
        assert [c.text for c in got.chunks] == case["chunks"], case["name"]
        assert [case["text"][c.start:c.end] for c in got.chunks] == case["chunks"]
        # tokens: what the windows ran, overlaps counted twice; at least the text's own.
        assert got.windows == case["window_count"] and got.tokens >= case["token_count"]
        assert got.chunks[-1].score == 0 and all(0 < c.score <= 1 for c in got.chunks[:-1])


def test_chunk_clean_up_equals_chonkys_markup_remover(client):
    model = str(MODELS / "tiny-distilbert-chonky")
    cases = [c for c in read_json(DATA / "chunk" / "cleanup.json")["cases"] if c["expected"]]
    for case in cases:
        result = client.chunk(model, [case["input"]], clean=case["kind"])
        joined = "".join(c.text for c in result.results[0].chunks)
        assert joined == case["expected"], case["name"]


def test_chunk_snaps_cuts_to_word_ends(client):
    model = str(MODELS / "tiny-distilbert-chonky")
    text = read_json(DATA / "chunk" / "reference.json")["cases"][0]["text"]
    result = client.chunk(model, ["<p>" + text + "</p>\n\n"], clean="html",
                          snap_to_whitespace=True)
    chunks = result.results[0].chunks
    assert "".join(c.text for c in chunks) == text
    for c in chunks:
        assert c.end == len(text) or c.text.endswith(" ") or text[c.end] == " ", c
    with pytest.raises(hades.InvalidArgumentError, match="clean"):
        client.chunk(model, [text], clean="markdown")


SPLADE = str(MODELS / "tiny-splade-bert-max")


def test_embed_sparse_equals_sparse_encoder(client):
    reference = read_json(Path(SPLADE) / "reference.json")
    result = client.embed_sparse(SPLADE, reference["texts"])
    assert (result.model, result.dimension) == (SPLADE, reference["vocab_size"])
    assert result.tokens == sum(len(ids) for ids in reference["input_ids"])
    for got, expected in zip(result.embeddings, reference["embeddings"], strict=True):
        assert got.indices == expected["indices"]
        assert max(abs(a - b) for a, b in zip(got.values, expected["values"])) <= 1e-4
    query = client.embed_sparse(SPLADE, reference["texts"][:1], prompt_name="query")
    assert query.embeddings[0].indices == reference["embeddings_prompt_query"][0]["indices"]
    assert [m.kind for m in client.get_loaded_models() if m.id == SPLADE] == ["sparse-embedding"]
    with pytest.raises(hades.UnsupportedError, match="sparse-embedding"):
        client.embed(SPLADE, ["a text"])
    with pytest.raises(hades.UnsupportedError, match="dense embedding model"):
        client.embed_sparse(ST6, ["a text"])
