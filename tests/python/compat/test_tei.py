"""The TEI-compatible routes through the real clients (huggingface_hub's InferenceClient and
huggingface-api-haystack's components) and by hand, on the TCP listener with its API key. TEI
clients name no model: the service's default model (MiniLM here) answers them."""

import json
import urllib.error
import urllib.request

import numpy as np
import pytest
from haystack import Document
from haystack.utils import Secret
from haystack_integrations.components.embedders.huggingface_api import HuggingFaceAPITextEmbedder
from haystack_integrations.components.rankers.huggingface_api import HuggingFaceTEIRanker
from huggingface_hub import InferenceClient

from _hades import embed, max_abs_diff, minilm_texts, post


def test_inference_client_feature_extraction_equals_the_own_route(tcp_service, models):
    texts = minilm_texts(4)
    client = InferenceClient(base_url=tcp_service.url, api_key=tcp_service.api_key)
    for text, reference in zip(texts, embed(tcp_service, models.minilm, texts)):
        got = client.feature_extraction(text)
        assert got.shape == (1, len(reference))
        assert max_abs_diff(got.tolist(), [reference]) <= 1e-6
    unnormalized = embed(tcp_service, models.minilm, texts[:1], normalize=False)
    got = client.feature_extraction(texts[0], normalize=False)
    assert max_abs_diff(got.tolist(), unnormalized) <= 1e-6


def test_haystack_tei_embedder_equals_the_own_route(tcp_service, models):
    texts = minilm_texts(3)
    embedder = HuggingFaceAPITextEmbedder(api_type="text_embeddings_inference",
                                          api_params={"url": tcp_service.url},
                                          token=Secret.from_token(tcp_service.api_key),
                                          normalize=True)
    reference = embed(tcp_service, models.minilm, texts)
    got = [embedder.run(t)["embedding"] for t in texts]
    assert max_abs_diff(got, reference) <= 1e-6


def test_haystack_tei_ranker_equals_the_own_rerank(tcp_reranker_service, models):
    service = tcp_reranker_service
    query = "how do frogs survive the winter"
    texts = ["Many frogs hibernate at the bottom of ponds.", "The stock market closed higher.",
             "Wood frogs can freeze solid and thaw in spring."]
    for raw in (False, True):
        own = post(service.url, service.api_key, "/v1/rerank",
                   {"model": models.reranker, "query": query, "documents": texts,
                    "raw_scores": raw})["results"]
        ranker = HuggingFaceTEIRanker(url=service.url, raw_scores=raw,
                                      token=Secret.from_token(service.api_key))
        ranked = ranker.run(query=query, documents=[Document(content=t) for t in texts])
        got = ranked["documents"]
        assert [d.content for d in got] == [texts[h["index"]] for h in own]
        assert max(abs(d.score - h["score"]) for d, h in zip(got, own)) <= 1e-6
    answer = post(service.url, service.api_key, "/rerank",
                  {"query": query, "texts": texts, "return_text": True})
    assert [h["text"] for h in answer] == [d.content for d in got]


def test_embed_takes_teis_fields_and_defaults(tcp_service, models):
    texts = minilm_texts(3)
    got = post(tcp_service.url, tcp_service.api_key, "/embed",
               {"inputs": texts, "truncate": True, "unknown_field": 1})
    assert max_abs_diff(got, embed(tcp_service, models.minilm, texts)) <= 1e-6
    cut = post(tcp_service.url, tcp_service.api_key, "/embed", {"inputs": texts[0], "dimensions": 32})
    assert len(cut[0]) == 32 and abs(np.linalg.norm(cut[0]) - 1) < 1e-5
    # TEI does not truncate unless asked: an overlong input is an error in TEI's shape.
    with pytest.raises(urllib.error.HTTPError) as overlong:
        post(tcp_service.url, tcp_service.api_key, "/embed", {"inputs": "word " * 600})
    assert overlong.value.code == 422
    assert set(json.loads(overlong.value.read())) == {"error", "error_type"}


def test_embed_takes_token_ids_and_left_truncation(tcp_service, models):
    url, key = tcp_service.url, tcp_service.api_key
    texts = minilm_texts(3)
    ids = [e["ids"] for e in post(url, key, "/v1/tokenize",
                                  {"model": models.minilm, "inputs": texts})["encodings"]]
    reference = embed(tcp_service, models.minilm, texts)
    assert max_abs_diff(post(url, key, "/embed", {"inputs": ids}), reference) <= 1e-6
    assert max_abs_diff(post(url, key, "/embed", {"inputs": ids[0]}), reference[:1]) <= 1e-6
    # Left truncation keeps the last tokens and the special ones: [CLS], the last 254, [SEP].
    long_text = " ".join(f"word{i}" for i in range(400))
    # Over the model's limit, the ids come without their special tokens ([CLS], [SEP] around).
    cls, sep = post(url, key, "/v1/tokenize",
                    {"model": models.minilm, "inputs": ""})["encodings"][0]["ids"]
    bare = post(url, key, "/v1/tokenize", {"model": models.minilm, "inputs": long_text,
                                           "add_special_tokens": False})["encodings"][0]["ids"]
    whole = [cls] + bare + [sep]
    assert len(whole) > 256
    last = [whole[0]] + whole[-255:]
    by_ids = post(url, key, "/embed", {"inputs": [last]})
    left = post(url, key, "/embed", {"inputs": long_text, "truncate": True,
                                     "truncation_direction": "Left"})
    own_left = embed(tcp_service, models.minilm, [long_text], truncation_direction="left")
    right = post(url, key, "/embed", {"inputs": long_text, "truncate": True})
    assert max_abs_diff(left, by_ids) <= 1e-6 and max_abs_diff(own_left, by_ids) <= 1e-6
    assert max_abs_diff(right, by_ids) > 1e-3
    # Without truncate, ids over the limit are refused, in TEI's shape.
    with pytest.raises(urllib.error.HTTPError) as overlong:
        post(url, key, "/embed", {"inputs": [whole]})
    assert overlong.value.code == 422
    assert f"has {len(whole)} tokens" in json.loads(overlong.value.read())["error"]


def test_predict_tokenize_decode_and_info(tcp_service, models):
    classifier = models.sequence_classifier
    single = post(tcp_service.url, tcp_service.api_key, "/predict",
                  {"model": classifier, "inputs": "The service stays up."})
    own = post(tcp_service.url, tcp_service.api_key, "/v1/classify",
               {"model": classifier, "inputs": ["The service stays up."]})["results"][0]
    assert single == own["scores"]
    batch = post(tcp_service.url, tcp_service.api_key, "/predict",
                 {"model": classifier, "inputs": [["a", "b"], ["c", "d"], ["e", "f"]]})
    assert len(batch) == 3 and all(len(s) == 3 for s in batch)
    tokens = post(tcp_service.url, tcp_service.api_key, "/tokenize", {"inputs": "héllo world"})[0]
    assert [t["special"] for t in tokens] == [True, False, False, True]
    assert [(t["start"], t["stop"], t["text"]) for t in tokens[1:3]] == \
        [(0, 6, "héllo"), (7, 12, "world")]  # TEI's byte offsets
    ids = [t["id"] for t in tokens]
    assert post(tcp_service.url, tcp_service.api_key, "/decode", {"ids": ids}) == "hello world"
    request = urllib.request.Request(tcp_service.url + "/info",
                                     headers={"Authorization": f"Bearer {tcp_service.api_key}"})
    with urllib.request.urlopen(request) as answer:
        info = json.loads(answer.read())
    assert info["model_id"] == models.minilm
    assert info["model_type"] == {"embedding": {"pooling": "mean"}}
    assert info["max_input_length"] == 256
