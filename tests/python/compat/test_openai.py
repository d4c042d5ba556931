"""The OpenAI-compatible route through the real `openai` SDK and Haystack's OpenAI embedders, on
the TCP listener with its API key: each answer equals hades's own /v1/embed within 1e-6."""

import base64
import concurrent.futures
import math

import numpy as np
import openai
import pytest
from haystack import Document
from haystack.components.embedders import OpenAIDocumentEmbedder, OpenAITextEmbedder
from haystack.utils import Secret

from _hades import embed, max_abs_diff, minilm_texts, post


@pytest.fixture
def client(tcp_service):
    return openai.OpenAI(base_url=tcp_service.url + "/v1", api_key=tcp_service.api_key)


def test_float_and_base64_equal_the_own_route(client, tcp_service, models):
    texts = minilm_texts(20)
    reference = embed(tcp_service, models.minilm, texts)
    as_float = client.embeddings.create(model=models.minilm, input=texts, encoding_format="float")
    # The SDK asks for base64 by default and decodes it itself.
    as_base64 = client.embeddings.create(model=models.minilm, input=texts)
    for answer in (as_float, as_base64):
        assert [d.index for d in answer.data] == list(range(len(texts)))
        assert max_abs_diff([d.embedding for d in answer.data], reference) <= 1e-6
        assert answer.model == models.minilm
        assert answer.usage.prompt_tokens == answer.usage.total_tokens > len(texts)
    single = client.embeddings.create(model=models.minilm, input=texts[0], encoding_format="float")
    assert max_abs_diff([single.data[0].embedding], reference[:1]) <= 1e-6


def test_dimensions_cut_and_normalize_again(client, tcp_service, models):
    texts = minilm_texts(5)
    reference = embed(tcp_service, models.minilm, texts)
    for encoding in ("float", "base64"):
        answer = client.embeddings.create(model=models.minilm, input=texts, dimensions=64,
                                          encoding_format=encoding)
        for row, full in zip(answer.data, reference):
            # Asked for by name, base64 comes back as text: little-endian float32 bytes.
            values = row.embedding if encoding == "float" else \
                np.frombuffer(base64.b64decode(row.embedding), dtype="<f4").tolist()
            norm = math.sqrt(sum(x * x for x in full[:64]))
            assert len(values) == 64
            assert max_abs_diff([values], [[x / norm for x in full[:64]]]) <= 1e-6
    # More than the model has: a valid request this model cannot take (422).
    with pytest.raises(openai.UnprocessableEntityError, match="dimensions"):
        client.embeddings.create(model=models.minilm, input="x", dimensions=385)


def test_errors_take_openais_shape(client, tcp_service):
    with pytest.raises(openai.NotFoundError) as missing:
        client.embeddings.create(model="nobody/nothing", input="x")
    assert missing.value.body["code"] == "model_not_found"
    assert "Model not found: nobody/nothing" in missing.value.body["message"]
    with pytest.raises(openai.BadRequestError, match="token ids"):
        client.embeddings.create(model="x", input=[[1, 2, -3]])
    wrong = openai.OpenAI(base_url=tcp_service.url + "/v1", api_key=tcp_service.api_key + "x")
    with pytest.raises(openai.AuthenticationError):
        wrong.embeddings.create(model="x", input="x")


def test_token_ids_embed_as_their_text(client, tcp_service, models):
    """Ids from /v1/tokenize (special tokens included) are taken as they are, one list per input
    or one list for one input; usage counts them."""
    texts = minilm_texts(6)
    encodings = post(tcp_service.url, tcp_service.api_key, "/v1/tokenize",
                     {"model": models.minilm, "inputs": texts})["encodings"]
    ids = [e["ids"] for e in encodings]
    reference = embed(tcp_service, models.minilm, texts)
    for encoding in ("float", "base64"):
        answer = client.embeddings.create(model=models.minilm, input=ids,
                                          encoding_format=encoding)
        rows = [d.embedding if encoding == "float" else
                np.frombuffer(base64.b64decode(d.embedding), dtype="<f4").tolist()
                for d in answer.data]
        assert max_abs_diff(rows, reference) <= 1e-6
        assert answer.usage.prompt_tokens == sum(len(i) for i in ids)
    single = client.embeddings.create(model=models.minilm, input=ids[0], encoding_format="float")
    assert max_abs_diff([single.data[0].embedding], reference[:1]) <= 1e-6


def test_bad_token_ids_name_the_input(client, models):
    # Ids valid for another model: 422, as an overlong text is.
    with pytest.raises(openai.UnprocessableEntityError) as outside:
        client.embeddings.create(model=models.minilm, input=[[101, 102], [101, 30522, 102]])
    assert outside.value.body["code"] == "input_invalid"
    assert "input 1: token id 30522 is not in the vocabulary" in outside.value.body["message"]
    # OpenAI refuses an input over the model's limit rather than cut it.
    with pytest.raises(openai.UnprocessableEntityError, match="input 0 has 302 tokens"):
        client.embeddings.create(model=models.minilm, input=[[101] + [2000] * 300 + [102]])


def test_models_are_listed_in_openais_shape(client, models):
    client.embeddings.create(model=models.minilm, input="load it")
    assert models.minilm in [m.id for m in client.models.list()]


def test_haystack_openai_embedders_equal_the_own_route(tcp_service, models):
    texts = minilm_texts(8)
    reference = embed(tcp_service, models.minilm, texts)
    key = Secret.from_token(tcp_service.api_key)
    text_embedder = OpenAITextEmbedder(api_key=key, model=models.minilm,
                                       api_base_url=tcp_service.url + "/v1")
    assert max_abs_diff([text_embedder.run(texts[0])["embedding"]], reference[:1]) <= 1e-6
    document_embedder = OpenAIDocumentEmbedder(api_key=key, model=models.minilm,
                                               api_base_url=tcp_service.url + "/v1",
                                               batch_size=3, progress_bar=False)
    documents = document_embedder.run([Document(content=t) for t in texts])["documents"]
    assert max_abs_diff([d.embedding for d in documents], reference) <= 1e-6


def test_bulk_clients_finish_a_job_without_errors(tcp_service, models):
    """4 concurrent clients x 32 passages a request, the SDK's default retries: 2,000 passages."""
    pool = minilm_texts(200)
    passages = [f"{pool[i % len(pool)]} ({i})" for i in range(2000)]
    batches = [passages[i:i + 32] for i in range(0, len(passages), 32)]
    client = openai.OpenAI(base_url=tcp_service.url + "/v1", api_key=tcp_service.api_key)

    def run(batch):
        answer = client.embeddings.create(model=models.minilm, input=batch)
        assert len(answer.data) == len(batch)
        return len(answer.data)

    with concurrent.futures.ThreadPoolExecutor(4) as workers:
        assert sum(workers.map(run, batches)) == len(passages)
