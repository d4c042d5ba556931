"""HadesNamedEntityExtractor: named entities from a token classifier in the hades service,
annotated as Haystack's named entity extractor annotates them."""

from dataclasses import dataclass, replace
from typing import Any, Dict, List, Optional

from haystack import ComponentError, Document, component, default_from_dict, default_to_dict
from haystack_integrations.components.embedders.hades._service import (
    DeviceLike, HadesService, batches, check_documents, whole_number)

__all__ = ["HadesNamedEntityExtractor", "NamedEntityAnnotation"]


@dataclass
class NamedEntityAnnotation:
    """One named entity in a Document's content, with the fields of Haystack's
    ``NamedEntityAnnotation`` (transformers-haystack), which this package does not import
    because it would bring in transformers and PyTorch.

    :param entity: the entity's label (e.g. "PER", "LOC").
    :param start: where it starts in the content, in characters.
    :param end: where it ends (exclusive).
    :param score: the mean probability of its tokens.
    """

    entity: str
    start: int
    end: int
    score: Optional[float] = None


@component
class HadesNamedEntityExtractor(HadesService):
    """Annotates the named entities of Documents with a token classification model the hades
    service holds (the "simple" aggregation of transformers' ner pipeline: adjacent tokens with
    the same label make one entity), as transformers-haystack's
    ``TransformersNamedEntityExtractor`` does: each returned Document carries its annotations, a
    list of ``NamedEntityAnnotation``, in ``meta["named_entities"]``.

    ```python
    from haystack import Document
    from haystack_integrations.components.extractors.hades import HadesNamedEntityExtractor

    extractor = HadesNamedEntityExtractor(model="dslim/bert-base-NER")
    documents = extractor.run([Document(content="My name is Clara and I live in Berkeley.")])
    print(HadesNamedEntityExtractor.get_stored_annotations(documents["documents"][0]))
    ```

    :param max_length: tokens per model window; 0: the model's.
    :param batch_size: Documents per request to the service.

    ``model``, ``device``, ``pin``, ``dtype``, ``socket_path``, ``autostart`` and
    ``request_timeout`` as in ``HadesService`` (``embedders/hades/_service.py``).
    """

    _METADATA_KEY = "named_entities"

    def __init__(self, *, model: str, max_length: int = 0, batch_size: int = 32,
                 device: DeviceLike = None, pin: bool = False, dtype: Optional[str] = None,
                 socket_path: Optional[str] = None, autostart: Optional[bool] = None,
                 request_timeout: Optional[float] = None) -> None:
        # Explicitly: @component rebuilds the class, which breaks the zero-argument super().
        HadesService.__init__(self, model, device, pin, dtype, socket_path, autostart,
                              request_timeout)
        self.max_length = whole_number("max_length", max_length, 0)  # 0: the model's
        self.batch_size = whole_number("batch_size", batch_size, 1)

    def to_dict(self) -> Dict[str, Any]:
        """The component as a dictionary (``Pipeline.dumps`` writes it)."""
        return default_to_dict(self, **self._service_parameters(), max_length=self.max_length,
                               batch_size=self.batch_size)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "HadesNamedEntityExtractor":
        """The component ``to_dict`` described."""
        return default_from_dict(cls, data)

    @property
    def initialized(self) -> bool:
        """Whether ``warm_up`` has loaded the model in the service."""
        return self._warm

    @classmethod
    def get_stored_annotations(cls, document: Document) -> Optional[List[NamedEntityAnnotation]]:
        """DOCUMENT's annotations, as a run stored them; None when it has none."""
        return document.meta.get(cls._METADATA_KEY)

    def _texts(self, documents: List[Document]) -> List[str]:
        check_documents(documents, "HadesNamedEntityExtractor")
        return [d.content if d.content is not None else "" for d in documents]

    def _size(self, batch_size: Optional[int]) -> int:
        return self.batch_size if batch_size is None else whole_number("batch_size", batch_size, 1)

    def _annotated(self, documents: List[Document], results: List[Any]) -> Dict[str, Any]:
        spans = [entities for result in results for entities in result.entities]
        if len(spans) != len(documents):
            raise ComponentError(f"the NER model returned annotations for {len(spans)} "
                                 f"documents, expected {len(documents)}")
        annotated = []
        for document, entities in zip(documents, spans):
            annotations = [NamedEntityAnnotation(entity=e.label, start=e.start, end=e.end,
                                                 score=e.score) for e in entities]
            annotated.append(replace(document,
                                     meta={**document.meta, self._METADATA_KEY: annotations}))
        return {"documents": annotated}

    @component.output_types(documents=List[Document])
    def run(self, documents: List[Document], batch_size: Optional[int] = None) -> Dict[str, Any]:
        """Annotates DOCUMENTS (a None content counts as "").

        :param batch_size: Documents per request; None: the component's.
        :returns: ``documents``: new Documents, in order, each as given with its annotations in
            ``meta["named_entities"]``.
        :raises hades.HadesError: the service's error (``hades.ModelNotFoundError`` for an
            unknown model, ``hades.UnsupportedError`` for a model that is not a token classifier).
        """
        texts, size = self._texts(documents), self._size(batch_size)
        if not texts:
            return {"documents": []}
        if not self._warm:
            self.warm_up()
        client = self._blocking_client()
        return self._annotated(documents, [
            client.token_classify(self.model, part, max_length=self.max_length)
            for part in batches(texts, size)])

    @component.output_types(documents=List[Document])
    async def run_async(self, documents: List[Document],
                        batch_size: Optional[int] = None) -> Dict[str, Any]:
        """``run`` on asyncio (``hades.aio``), for ``Pipeline.run_async``."""
        texts, size = self._texts(documents), self._size(batch_size)
        if not texts:
            return {"documents": []}
        if not self._warm:
            await self.warm_up_async()
        client = self._async_client()
        return self._annotated(documents, [
            await client.token_classify(self.model, part, max_length=self.max_length)
            for part in batches(texts, size)])
