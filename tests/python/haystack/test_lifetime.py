"""What every hades component shares, against the real daemon: to_dict/from_dict round trips (and
Pipeline.dumps/loads of all five without unsafe=True), warm_up loading the model in the service
pinned and in the asked dtype, close and close_async, the service's errors reaching the caller as
hades' exception classes (directly and through a Pipeline), and the client options (socket_path,
autostart)."""

import asyncio
from pathlib import Path

import pytest
from haystack import Document, Pipeline
from haystack.core.errors import PipelineRuntimeError
from haystack.utils import ComponentDevice

import hades
from haystack_integrations.components.embedders.hades import (HadesDocumentEmbedder,
                                                              HadesTextEmbedder)
from haystack_integrations.components.extractors.hades import HadesNamedEntityExtractor
from haystack_integrations.components.preprocessors.hades import HadesDocumentSplitter
from haystack_integrations.components.rankers.hades import HadesRanker

MODELS = Path(__file__).resolve().parents[2] / "data" / "models"
# A whole sentence-transformers folder (modules, pooling, normalize) small enough to load at once.
TINY_EMBEDDER = str(MODELS / "tiny-st6-bert-mean-normalize")
TOKCLS = str(MODELS / "tiny-bertcls-h32-a2-l2-tokcls")
MISSING = "no-such-org/no-such-model"

SERVICE_OPTIONS = {"device": ComponentDevice.from_str("cpu"), "pin": True, "dtype": "int8",
                   "socket_path": "/tmp/elsewhere.sock", "autostart": False,
                   "request_timeout": 12.5}

# Each component with every parameter of its own set away from its default.
CONFIGURED = [
    (HadesTextEmbedder, {"model": "m/text", "prefix": "query: ", "suffix": "!",
                         "normalize_embeddings": True, "truncate_dim": 128, "truncate": False,
                         "pooling": "cls", "batch_size": 4, "progress_bar": False}),
    (HadesDocumentEmbedder, {"model": "m/docs", "prefix": "passage: ", "suffix": "",
                             "normalize_embeddings": True, "truncate_dim": 64, "truncate": False,
                             "pooling": "mean", "batch_size": 7, "progress_bar": False,
                             "meta_fields_to_embed": ["title"], "embedding_separator": " | "}),
    (HadesRanker, {"model": "m/rank", "top_k": 3, "query_prefix": "q: ", "query_suffix": "?",
                   "document_prefix": "d: ", "document_suffix": ".",
                   "meta_fields_to_embed": ["title"], "embedding_separator": " - ",
                   "scale_score": False, "score_threshold": -1.5, "batch_size": 5}),
    (HadesDocumentSplitter, {"model": "m/chunk", "max_length": 512, "clean": "html",
                             "snap_to_whitespace": True, "skip_empty_documents": False,
                             "batch_size": 2}),
    (HadesNamedEntityExtractor, {"model": "m/ner", "max_length": 128, "batch_size": 3}),
]
NAMES = [cls.__name__ for cls, _ in CONFIGURED]


@pytest.mark.parametrize("cls,parameters", CONFIGURED, ids=NAMES)
def test_to_dict_from_dict_round_trip(cls, parameters):
    component = cls(**parameters, **SERVICE_OPTIONS)
    data = component.to_dict()
    assert data["type"] == f"{cls.__module__}.{cls.__name__}"
    assert data["type"].startswith("haystack_integrations.components.")
    expected = {**parameters, **SERVICE_OPTIONS, "device": {"type": "single", "device": "cpu"}}
    assert data["init_parameters"] == expected
    again = cls.from_dict(data)
    assert type(again) is cls and again.to_dict() == data
    assert again.device == component.device
    # Defaults (the extractor has no default model) round-trip too.
    plain = cls(**({"model": "m/ner"} if cls is HadesNamedEntityExtractor else {}))
    assert cls.from_dict(plain.to_dict()).to_dict() == plain.to_dict()
    assert plain.to_dict()["init_parameters"]["device"] is None


def test_a_device_may_be_named():
    assert HadesTextEmbedder(device="cpu").to_dict() == \
        HadesTextEmbedder(device=ComponentDevice.from_str("cpu")).to_dict()
    with pytest.raises(ValueError, match="device"):
        HadesTextEmbedder(device=0)


def test_every_component_survives_dumps_and_loads():
    pipeline = Pipeline()
    for cls, parameters in CONFIGURED:
        pipeline.add_component(cls.__name__, cls(**parameters, **SERVICE_OPTIONS))
    loaded = Pipeline.loads(pipeline.dumps())  # without unsafe=True
    for name in NAMES:
        assert loaded.get_component(name).to_dict() == pipeline.get_component(name).to_dict()


def loaded_model(model_id):
    with hades.ModelClient() as client:
        return next((m for m in client.get_loaded_models() if m.id == model_id), None)


def unload(model_id):
    with hades.ModelClient() as client:
        if loaded_model(model_id) is not None:
            client.unload_model(model_id)


def test_warm_up_loads_the_model_pinned_in_its_dtype(service):
    unload(TINY_EMBEDDER)
    embedder = HadesTextEmbedder(model=TINY_EMBEDDER, pin=True, dtype="int8", device="cpu",
                                 progress_bar=False)
    try:
        embedder.warm_up()
        model = loaded_model(TINY_EMBEDDER)
        assert (model.state, model.pinned, model.dtype, model.device) == \
            ("ready", True, "int8", "cpu")
        assert len(embedder.run("a pinned model")["embedding"]) == model.dimension
        # Another dtype than the loaded one is the service's conflict, named as such.
        with pytest.raises(hades.ConflictError, match="int8"):
            HadesDocumentEmbedder(model=TINY_EMBEDDER, dtype="fp32").warm_up()
    finally:
        unload(TINY_EMBEDDER)


def test_run_warms_up_once_and_close_keeps_the_component_usable(service):
    unload(TINY_EMBEDDER)
    embedder = HadesDocumentEmbedder(model=TINY_EMBEDDER, pin=True, progress_bar=False)
    try:
        first = embedder.run([Document(content="warm")])["documents"][0].embedding
        assert loaded_model(TINY_EMBEDDER).pinned, "run warmed the component up first"
        embedder.close()
        embedder.close()  # twice is harmless
        again = embedder.run([Document(content="warm")])["documents"][0].embedding
        assert again == pytest.approx(first, abs=1e-6)

        async def twice():
            result = await embedder.run_async([Document(content="warm")])
            await embedder.close_async()
            await embedder.close_async()
            return result["documents"][0].embedding

        assert asyncio.run(twice()) == pytest.approx(first, abs=1e-6)
    finally:
        unload(TINY_EMBEDDER)
    # An unloaded model comes back on the next request (unpinned), with no new warm_up.
    assert embedder.run([Document(content="warm")])["documents"][0].embedding == \
        pytest.approx(first, abs=1e-6)
    assert not loaded_model(TINY_EMBEDDER).pinned
    unload(TINY_EMBEDDER)


MISSING_MODEL = [
    (lambda: HadesTextEmbedder(model=MISSING), lambda c: c.run("text")),
    (lambda: HadesDocumentEmbedder(model=MISSING), lambda c: c.run([Document(content="d")])),
    (lambda: HadesRanker(model=MISSING),
     lambda c: c.run(query="q", documents=[Document(content="d")])),
    (lambda: HadesDocumentSplitter(model=MISSING), lambda c: c.run([Document(content="d")])),
    (lambda: HadesNamedEntityExtractor(model=MISSING), lambda c: c.run([Document(content="d")])),
]


@pytest.mark.parametrize("make,run", MISSING_MODEL, ids=NAMES)
def test_a_missing_model_is_model_not_found(service, make, run):
    with pytest.raises(hades.ModelNotFoundError, match=f"Model not found: {MISSING}"):
        make().warm_up()
    with pytest.raises(hades.ModelNotFoundError, match=f"Model not found: {MISSING}"):
        run(make())
    async def warm_up_async(component):
        try:
            await component.warm_up_async()
        finally:
            await component.close_async()

    with pytest.raises(hades.ModelNotFoundError):
        asyncio.run(warm_up_async(make()))


def test_errors_through_a_pipeline(service):
    pipeline = Pipeline()
    pipeline.add_component("embedder", HadesTextEmbedder(model=MISSING))
    # Pipeline.run warms its components up first, outside its wrapping of run errors.
    with pytest.raises(hades.ModelNotFoundError):
        pipeline.run({"embedder": {"text": "q"}})
    pipeline = Pipeline()
    pipeline.add_component("embedder", HadesTextEmbedder(model=TINY_EMBEDDER, truncate=False,
                                                         progress_bar=False))
    with pytest.raises(PipelineRuntimeError) as raised:
        pipeline.run({"embedder": {"text": "word " * 1000}})
    assert isinstance(raised.value.__cause__, hades.InputInvalidError)
    unload(TINY_EMBEDDER)


def test_no_service_with_autostart_off(hades_env):
    embedder = HadesTextEmbedder(model=TINY_EMBEDDER, progress_bar=False)
    with pytest.raises(hades.ServiceNotRunningError, match="Connection refused"):
        embedder.run("nobody listens")
    with pytest.raises(hades.ServiceNotRunningError, match="Connection refused"):
        asyncio.run(embedder.run_async("nobody listens"))


def test_autostart_and_socket_path_options(hades_env, monkeypatch):
    """autostart=True starts the service on the component's socket when none runs there, and
    socket_path overrides HADES_MODEL_MGR_SOCKET."""
    monkeypatch.setenv("HADES_MODEL_MGR_SOCKET", "/tmp/hades-nobody-is-here.sock")
    extractor = HadesNamedEntityExtractor(model=TOKCLS, socket_path=hades_env, autostart=True)
    [document] = extractor.run([Document(content="The service stays up.")])["documents"]
    assert isinstance(document.meta["named_entities"], list)
    with hades.ModelClient(socket_path=hades_env) as client:
        assert [m.id for m in client.get_loaded_models()] == [TOKCLS]
    extractor.close()
