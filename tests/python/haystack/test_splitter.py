"""HadesDocumentSplitter against the real daemon: its splits are chonky's chunks
(tests/data/chunk/reference*.json, made by chonky's ParagraphSplitter) on both chunker fixtures,
and their metadata is what Haystack's own DocumentSplitter writes for those splits (source_id,
split_id, split_idx_start, page_number counting form feeds, the source's meta), checked against a
real DocumentSplitter fed the same cuts; with the clean-up, snapping, batches and run_async."""

import asyncio
import json
from pathlib import Path

import pytest
from haystack import Document
from haystack.components.preprocessors import DocumentSplitter

from haystack_integrations.components.preprocessors.hades import HadesDocumentSplitter

DATA = Path(__file__).resolve().parents[2] / "data"
DISTILBERT = str(DATA / "models" / "tiny-distilbert-chonky")
# The seed's chunker id, which the conftest's cache serves as the tiny ModernBERT stand-in.
SEED_CHUNKER = "mirth/chonky_modernbert_large_1"


def fixture(name):
    return json.loads((DATA / "chunk" / name).read_text(encoding="utf-8"))


def haystacks_splits(document, pieces):
    """What Haystack's DocumentSplitter makes of DOCUMENT when cut into PIECES."""
    splitter = DocumentSplitter(split_by="function", splitting_function=lambda _: pieces,
                                skip_empty_documents=False)
    return splitter.run([document])["documents"]


@pytest.mark.parametrize("reference,model", [("reference.json", DISTILBERT),
                                             ("reference-modernbert.json", SEED_CHUNKER)])
def test_splits_are_chonkys_chunks_with_haystacks_meta(service, reference, model):
    data = fixture(reference)
    cases = data["cases"]
    documents = [Document(content=case["text"], meta={"name": case["name"], "tags": ["a"]})
                 for case in cases]
    # The window of the fixtures (the service's default for a mirth/chonky_* id is 1024).
    splitter = HadesDocumentSplitter(model=model, max_length=data["model_max_length"],
                                     skip_empty_documents=False)
    splits = splitter.run(documents)["documents"]
    by_source = {document.id: [] for document in documents}
    for split in splits:
        by_source[split.meta["source_id"]].append(split)
    for document, case in zip(documents, cases):
        mine = by_source[document.id]
        assert [s.content for s in mine] == case["chunks"], case["name"]
        assert [s.meta["split_idx_start"] for s in mine] == [a for a, _ in case["spans"]]
        assert "".join(s.content for s in mine) == document.content
        theirs = haystacks_splits(document, case["chunks"])
        assert [(s.id, s.content, s.meta) for s in mine] == \
            [(s.id, s.content, s.meta) for s in theirs], case["name"]
        assert all("_split_overlap" not in s.meta for s in mine)  # chunks never overlap


def test_page_numbers_count_form_feeds(service):
    text = fixture("reference.json")["cases"][0]["text"]
    paged = "\f\f" + text[:500].replace(". ", ".\f", 3) + "\f\f\f" + text[500:900] + "\f"
    document = Document(content=paged, meta={"file": "book.pdf"})
    splits = HadesDocumentSplitter(model=DISTILBERT).run([document])["documents"]
    assert "".join(s.content for s in splits) == paged
    theirs = haystacks_splits(document, [s.content for s in splits])
    assert [(s.content, s.meta) for s in splits] == [(s.content, s.meta) for s in theirs]
    pages = [s.meta["page_number"] for s in splits]
    assert pages == sorted(pages) and pages[0] == 3 and len(set(pages)) >= 4


def test_empty_and_contentless_documents(service):
    splitter = HadesDocumentSplitter(model=DISTILBERT)
    text = "The cat sat on the mat and watched the birds outside the window."
    splits = splitter.run([Document(content=""), Document(content=text)])["documents"]
    assert "".join(s.content for s in splits) == text  # the empty one skipped
    assert splitter.run([]) == {"documents": []}
    [empty] = HadesDocumentSplitter(model=DISTILBERT, skip_empty_documents=False).run(
        [Document(content="", meta={"k": 1})])["documents"]
    assert empty.content == "" and empty.meta["page_number"] == 1 and empty.meta["k"] == 1
    with pytest.raises(ValueError, match="None"):
        splitter.run([Document(content=None)])
    with pytest.raises(TypeError):
        splitter.run("not a list of Documents")


def test_clean_up_then_chunks_of_the_cleaned_text(service):
    cases = {case["name"]: case for case in fixture("reference.json")["cases"]}
    raw, cleaned = cases["heapq-raw-newlines"], cases["heapq-cleaned"]
    splitter = HadesDocumentSplitter(model=DISTILBERT, clean="text")
    splits = splitter.run([Document(content=raw["text"])])["documents"]
    assert [s.content for s in splits] == cleaned["chunks"]
    assert [s.meta["split_idx_start"] for s in splits] == [a for a, _ in cleaned["spans"]]
    for kind in ("markdown", "TEXT"):
        with pytest.raises(ValueError, match="clean"):
            HadesDocumentSplitter(model=DISTILBERT, clean=kind)


def test_snap_to_whitespace_cuts_at_word_ends(service):
    text = fixture("reference.json")["cases"][0]["text"]
    splits = HadesDocumentSplitter(model=DISTILBERT, snap_to_whitespace=True).run(
        [Document(content=text)])["documents"]
    assert "".join(s.content for s in splits) == text
    for split in splits[:-1]:
        end = split.meta["split_idx_start"] + len(split.content)
        assert text[end - 1].isspace() or text[end].isspace(), split.content


def test_batches_and_run_async_give_the_same_splits(service):
    data = fixture("reference.json")
    documents = [Document(content=case["text"]) for case in data["cases"] if case["text"]]
    expected = HadesDocumentSplitter(model=DISTILBERT).run(documents)["documents"]
    small = HadesDocumentSplitter(model=DISTILBERT, batch_size=3)
    assert small.run(documents)["documents"] == expected

    async def main():
        splits = await small.run_async(documents)
        await small.close_async()
        return splits

    assert asyncio.run(main())["documents"] == expected
