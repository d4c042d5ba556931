"""HadesNamedEntityExtractor against the real daemon: the entities of the fixture token classifier
(tests/data/models/tiny-bertcls-h32-a2-l2-tokcls/reference.json, transformers' ner pipeline with
the "simple" aggregation) stored as Haystack's named entity extractor stores them:
NamedEntityAnnotation(entity, start, end, score) in meta["named_entities"]."""

import asyncio
import dataclasses
import json
from pathlib import Path

import pytest
from haystack import Document

import hades
from haystack_integrations.components.extractors.hades import (HadesNamedEntityExtractor,
                                                               NamedEntityAnnotation)

FIXTURE = Path(__file__).resolve().parents[2] / "data" / "models" / "tiny-bertcls-h32-a2-l2-tokcls"
MODEL = str(FIXTURE)


@pytest.fixture(scope="module")
def cases():
    return json.loads((FIXTURE / "reference.json").read_text(encoding="utf-8"))["text_cases"]


def check_annotated(documents, cases):
    assert len(documents) == len(cases)
    count = 0
    for document, case in zip(documents, cases):
        annotations = HadesNamedEntityExtractor.get_stored_annotations(document)
        assert all(type(a) is NamedEntityAnnotation for a in annotations)
        assert [(a.entity, a.start, a.end) for a in annotations] == \
            [(e["label"], e["start"], e["end"]) for e in case["entities"]], case["text"]
        for annotation, entity in zip(annotations, case["entities"]):
            assert annotation.score == pytest.approx(entity["score"], abs=1e-5)
            count += 1
    assert count >= 5


def test_annotations_equal_the_ner_pipeline(service, cases):
    documents = [Document(content=case["text"], meta={"n": i}) for i, case in enumerate(cases)]
    extractor = HadesNamedEntityExtractor(model=MODEL)
    assert not extractor.initialized
    extractor.warm_up()
    assert extractor.initialized
    annotated = extractor.run(documents)["documents"]
    check_annotated(annotated, cases)
    for document, given in zip(annotated, documents):
        assert document.id == given.id and document.content == given.content
        assert document.meta["n"] == given.meta["n"] and "named_entities" not in given.meta
    # The fields and their order are those of Haystack's NamedEntityAnnotation.
    assert [f.name for f in dataclasses.fields(NamedEntityAnnotation)] == \
        ["entity", "start", "end", "score"]
    assert HadesNamedEntityExtractor.get_stored_annotations(Document(content="x")) is None


def test_batches_run_async_and_empty_input(service, cases):
    documents = [Document(content=case["text"]) for case in cases]
    extractor = HadesNamedEntityExtractor(model=MODEL, batch_size=2)
    check_annotated(extractor.run(documents)["documents"], cases)
    check_annotated(extractor.run(documents, batch_size=1)["documents"], cases)
    with pytest.raises(ValueError, match="batch_size"):
        extractor.run(documents, batch_size=0)

    async def main():
        annotated = await extractor.run_async(documents)
        await extractor.close_async()
        return annotated

    check_annotated(asyncio.run(main())["documents"], cases)
    assert extractor.run([]) == {"documents": []}
    [none] = extractor.run([Document(content=None)])["documents"]
    assert none.meta["named_entities"] == []


def test_a_model_that_is_no_token_classifier(service):
    sequence_classifier = str(FIXTURE.parent / "tiny-bertcls-h32-a2-l2-rerank")
    with pytest.raises(hades.UnsupportedError):
        HadesNamedEntityExtractor(model=sequence_classifier).run([Document(content="text")])
