"""HadesDocumentSplitter: Documents cut where a chonky model in the hades service sees a paragraph
end."""

from copy import deepcopy
from typing import Any, Dict, List, Optional

from haystack import Document, component, default_from_dict, default_to_dict, logging
from haystack_integrations.components.embedders.hades._service import (
    DeviceLike, HadesService, batches, check_documents, whole_number)

__all__ = ["HadesDocumentSplitter"]

logger = logging.getLogger(__name__)

DEFAULT_CHUNKER_MODEL = "mirth/chonky_modernbert_large_1"
_CLEAN_KINDS = (None, "none", "text", "html", "xml")


def _leading_page_breaks(text: str) -> int:
    """How many pages past the one its first character lies on a split starts: the form feeds it
    opens with, unless it holds nothing else (an empty page stays on its own page). This is
    Haystack's page_number rule for splits (haystack/components/preprocessors/_page_numbers.py)."""
    count = len(text) - len(text.lstrip("\f"))
    return 0 if count == len(text) else count


@component
class HadesDocumentSplitter(HadesService):
    """Splits Documents into semantic chunks with a chonky model (``mirth/chonky_*``: a token
    classifier that marks paragraph ends) held by the hades service: chonky's
    ``ParagraphSplitter`` as a Haystack preprocessor, with ``DocumentSplitter``'s output.

    ```python
    from haystack import Document
    from haystack_integrations.components.preprocessors.hades import HadesDocumentSplitter

    splitter = HadesDocumentSplitter(model="mirth/chonky_modernbert_large_1")
    splits = splitter.run([Document(content=long_text)])["documents"]
    ```

    Each split carries the source Document's meta and, as ``DocumentSplitter`` writes them,
    ``source_id`` (the source's id), ``split_id`` (its rank in the source), ``split_idx_start``
    (where it starts in the source's content, in characters) and ``page_number`` (1 plus the form
    feeds "\\f" before it). The splits of a Document concatenate to its content exactly; they do not
    overlap, so no ``_split_overlap`` is written. With ``clean`` they concatenate to the cleaned
    content instead, which ``split_idx_start`` and ``page_number`` then index.

    :param max_length: tokens per model window (windows overlap by half, as chonky's); 0: the
        model's (the tokenizer's ``model_max_length``; 1024 for ``mirth/chonky_modernbert_*`` and
        ``mirth/chonky_mmbert_*``).
    :param clean: the clean-up chonky's README asks for before splitting: None or "none" (off),
        "text" (newlines and tabs to spaces, whitespace runs collapsed, stripped), "html" or
        "xml" (the document's text as BeautifulSoup's ``get_text()`` gives it, then as "text").
    :param snap_to_whitespace: move a cut that falls inside a word to the end of that word.
    :param skip_empty_documents: leave out Documents whose content is "" (with a warning), as
        ``DocumentSplitter`` does; False gives such a Document one empty split.
    :param batch_size: Documents per request to the service.

    ``model``, ``device``, ``pin``, ``dtype``, ``socket_path``, ``autostart`` and
    ``request_timeout`` as in ``HadesService`` (``embedders/hades/_service.py``).
    """

    def __init__(self, *, model: str = DEFAULT_CHUNKER_MODEL, max_length: int = 0,
                 clean: Optional[str] = None, snap_to_whitespace: bool = False,
                 skip_empty_documents: bool = True, batch_size: int = 8,
                 device: DeviceLike = None, pin: bool = False, dtype: Optional[str] = None,
                 socket_path: Optional[str] = None, autostart: Optional[bool] = None,
                 request_timeout: Optional[float] = None) -> None:
        # Explicitly: @component rebuilds the class, which breaks the zero-argument super().
        HadesService.__init__(self, model, device, pin, dtype, socket_path, autostart,
                              request_timeout)
        if clean not in _CLEAN_KINDS:
            raise ValueError(f"clean must be one of {_CLEAN_KINDS}, got {clean!r}")
        self.max_length = whole_number("max_length", max_length, 0)  # 0: the model's
        self.clean = clean
        self.snap_to_whitespace = snap_to_whitespace
        self.skip_empty_documents = skip_empty_documents
        self.batch_size = whole_number("batch_size", batch_size, 1)

    def to_dict(self) -> Dict[str, Any]:
        """The component as a dictionary (``Pipeline.dumps`` writes it)."""
        return default_to_dict(
            self, **self._service_parameters(), max_length=self.max_length, clean=self.clean,
            snap_to_whitespace=self.snap_to_whitespace,
            skip_empty_documents=self.skip_empty_documents, batch_size=self.batch_size)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "HadesDocumentSplitter":
        """The component ``to_dict`` described."""
        return default_from_dict(cls, data)

    def _sources(self, documents: List[Document]) -> List[Document]:
        """The Documents to split: checked, the empty ones left out when asked."""
        check_documents(documents, "HadesDocumentSplitter")
        sources = []
        for document in documents:
            if document.content is None:
                raise ValueError(f"HadesDocumentSplitter only splits text documents, but the "
                                 f"content of document {document.id} is None.")
            if document.content == "" and self.skip_empty_documents:
                logger.warning("Document ID {doc_id} has an empty content. Skipping this "
                               "document.", doc_id=document.id)
                continue
            sources.append(document)
        return sources

    def _options(self) -> Dict[str, Any]:
        return {"max_length": self.max_length, "clean": self.clean,
                "snap_to_whitespace": self.snap_to_whitespace}

    @staticmethod
    def _splits(source: Document, chunks: List[Any]) -> List[Document]:
        """SOURCE's splits, one per chunk (``hades.TextChunk``), with DocumentSplitter's meta."""
        splits = []
        page = 1
        for number, chunk in enumerate(chunks):
            meta = deepcopy(source.meta)
            meta["source_id"] = source.id
            meta["page_number"] = page + _leading_page_breaks(chunk.text)
            meta["split_id"] = number
            meta["split_idx_start"] = chunk.start
            splits.append(Document(content=chunk.text, meta=meta))
            # The chunks tile the (cleaned) text, so the form feeds before the next chunk are
            # the ones before this chunk plus its own.
            page += chunk.text.count("\f")
        return splits

    def _collect(self, sources: List[Document], results: List[Any]) -> Dict[str, List[Document]]:
        chunked = [text for result in results for text in result.results]
        return {"documents": [split for source, text in zip(sources, chunked)
                              for split in self._splits(source, text.chunks)]}

    @component.output_types(documents=List[Document])
    def run(self, documents: List[Document]) -> Dict[str, List[Document]]:
        """Splits DOCUMENTS.

        :returns: ``documents``: the splits of each Document, in order.
        :raises TypeError: when the input is not a list of Documents.
        :raises ValueError: when a Document's content is None.
        :raises hades.HadesError: the service's error (``hades.ModelNotFoundError`` for an
            unknown model, ``hades.UnsupportedError`` for a model that is not a token classifier).
        """
        sources = self._sources(documents)
        if not sources:
            return {"documents": []}
        if not self._warm:
            self.warm_up()
        client = self._blocking_client()
        return self._collect(sources, [
            client.chunk(self.model, [d.content for d in part], **self._options())
            for part in batches(sources, self.batch_size)])

    @component.output_types(documents=List[Document])
    async def run_async(self, documents: List[Document]) -> Dict[str, List[Document]]:
        """``run`` on asyncio (``hades.aio``), for ``Pipeline.run_async``."""
        sources = self._sources(documents)
        if not sources:
            return {"documents": []}
        if not self._warm:
            await self.warm_up_async()
        client = self._async_client()
        return self._collect(sources, [
            await client.chunk(self.model, [d.content for d in part], **self._options())
            for part in batches(sources, self.batch_size)])
