"""HadesRanker against the real daemon: its scores equal sentence-transformers' CrossEncoder on the
fixture cross-encoder (tests/data/models/tiny-bertcls-h32-a2-l2-rerank/reference.json) within
1e-5 — the sigmoid with scale_score, the raw logit without — best first, with top_k,
score_threshold, deduplication, prefixes and meta fields as SentenceTransformersSimilarityRanker
has them, on run and run_async alike."""

import asyncio
import json
from pathlib import Path

import pytest
from haystack import Document

import hades
from haystack_integrations.components.rankers.hades import HadesRanker

FIXTURE = Path(__file__).resolve().parents[2] / "data" / "models" / "tiny-bertcls-h32-a2-l2-rerank"
MODEL = str(FIXTURE)


@pytest.fixture(scope="module")
def cases():
    """The reference's pairs: one query, a document each, with the model's logit and score."""
    cases = json.loads((FIXTURE / "reference.json").read_text(encoding="utf-8"))["text_cases"]
    assert len({case["text"] for case in cases}) == 1
    return cases


def documents_of(cases):
    return [Document(content=case["pair"], meta={"case": i}) for i, case in enumerate(cases)]


def check_ranked(ranked, cases, key):
    """RANKED are the cases' documents best first, each scored as the reference's KEY says."""
    scores = [document.score for document in ranked]
    assert scores == sorted(scores, reverse=True)
    for document in ranked:
        case = cases[document.meta["case"]]
        assert document.content == case["pair"]
        expected = case["logits"][0] if key == "logits" else case[key]
        assert document.score == pytest.approx(expected, abs=1e-5)


def test_scores_equal_the_cross_encoder(service, cases):
    ranker = HadesRanker(model=MODEL)
    documents = documents_of(cases)
    ranked = ranker.run(query=cases[0]["text"], documents=documents)["documents"]
    assert len(ranked) == len(cases)
    check_ranked(ranked, cases, "score")
    assert all(d.score is None for d in documents), "the given Documents are left as they were"
    assert {d.id for d in ranked} == {d.id for d in documents}


def test_raw_scores_are_the_logits(service, cases):
    raw = HadesRanker(model=MODEL, scale_score=False)
    ranked = raw.run(query=cases[0]["text"], documents=documents_of(cases))["documents"]
    check_ranked(ranked, cases, "logits")
    assert any(d.score < 0 for d in ranked), "logits, not probabilities"
    # The run's scale_score overrides the component's, either way.
    scaled = raw.run(query=cases[0]["text"], documents=documents_of(cases), scale_score=True)
    check_ranked(scaled["documents"], cases, "score")
    unscaled = HadesRanker(model=MODEL).run(query=cases[0]["text"], documents=documents_of(cases),
                                            scale_score=False)
    check_ranked(unscaled["documents"], cases, "logits")


def test_top_k_and_score_threshold(service, cases):
    query, documents = cases[0]["text"], documents_of(cases)
    scores = sorted((case["score"] for case in cases), reverse=True)
    ranker = HadesRanker(model=MODEL, top_k=2)
    assert [d.score for d in ranker.run(query=query, documents=documents)["documents"]] == \
        pytest.approx(scores[:2], abs=1e-5)
    assert len(ranker.run(query=query, documents=documents, top_k=4)["documents"]) == 4
    threshold = (scores[1] + scores[2]) / 2
    kept = HadesRanker(model=MODEL, score_threshold=threshold).run(query=query,
                                                                    documents=documents)
    assert [d.score for d in kept["documents"]] == pytest.approx(scores[:2], abs=1e-5)
    overridden = ranker.run(query=query, documents=documents, top_k=5, score_threshold=0.0)
    assert len(overridden["documents"]) == 5
    for bad in (0, -3):
        with pytest.raises(ValueError, match="top_k"):
            ranker.run(query=query, documents=documents, top_k=bad)
        with pytest.raises(ValueError, match="top_k"):
            HadesRanker(model=MODEL, top_k=bad)


def test_batches_duplicates_and_empty_input(service, cases):
    query, documents = cases[0]["text"], documents_of(cases)
    # Batches of 2 texts: the same scores as one request, merged into one order.
    ranked = HadesRanker(model=MODEL, batch_size=2).run(query=query, documents=documents)
    check_ranked(ranked["documents"], cases, "score")
    # A Document given twice is ranked once, the copy with the higher score kept.
    twin = Document(id=documents[1].id, content=documents[1].content, meta=documents[1].meta,
                    score=0.5)
    ranked = HadesRanker(model=MODEL).run(query=query, documents=[*documents, twin])
    assert sorted(d.id for d in ranked["documents"]) == sorted(d.id for d in documents)
    assert HadesRanker(model=MODEL).run(query=query, documents=[]) == {"documents": []}


def test_prefixes_and_meta_fields_are_what_is_scored(service, cases):
    document = Document(content="Wood frogs freeze solid.", meta={"title": "Frogs", "n": None})
    ranker = HadesRanker(model=MODEL, query_prefix="Q: ", query_suffix=" ?",
                         document_prefix="D: ", document_suffix=" .",
                         meta_fields_to_embed=["title", "n"], embedding_separator=" - ")
    [ranked] = ranker.run(query="frogs in winter", documents=[document])["documents"]
    with hades.ModelClient() as client:
        [hit] = client.rerank(MODEL, "Q: frogs in winter ?",
                              ["D: Frogs - Wood frogs freeze solid. ."]).results
    assert ranked.score == pytest.approx(hit.score, abs=1e-6)
    assert ranked.meta == document.meta


def test_run_async_equals_run(service, cases):
    ranker = HadesRanker(model=MODEL, batch_size=3)

    async def main():
        ranked = await asyncio.gather(*(ranker.run_async(query=cases[0]["text"],
                                                         documents=documents_of(cases),
                                                         scale_score=scale)
                                        for scale in (True, False)))
        await ranker.close_async()
        return ranked

    scaled, raw = asyncio.run(main())
    check_ranked(scaled["documents"], cases, "score")
    check_ranked(raw["documents"], cases, "logits")


def test_a_model_that_is_no_cross_encoder(service):
    ranker = HadesRanker(model="sentence-transformers/all-MiniLM-L6-v2")
    with pytest.raises(hades.UnsupportedError, match="embedding model"):
        ranker.run(query="q", documents=[Document(content="d")])
