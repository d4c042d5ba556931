"""HadesDocumentEmbedder: Documents with their embeddings from an embedding model in the hades
service."""

from dataclasses import replace
from typing import Any, Dict, List, Optional

from haystack import Document, component, default_from_dict, default_to_dict

from ._embedding import DEFAULT_EMBEDDING_MODEL, HadesEmbedding
from ._service import DeviceLike, check_documents

__all__ = ["HadesDocumentEmbedder"]


@component
class HadesDocumentEmbedder(HadesEmbedding):
    """Embeds Documents with a model the hades service holds, for indexing pipelines (then a
    ``DocumentWriter``); the twin of sentence-transformers-haystack's
    ``SentenceTransformersDocumentEmbedder``, same parameter names and the same vectors for the
    same model, without PyTorch in the process.

    ```python
    from haystack import Document
    from haystack_integrations.components.embedders.hades import HadesDocumentEmbedder

    embedder = HadesDocumentEmbedder(model="sentence-transformers/all-MiniLM-L6-v2")
    documents = embedder.run([Document(content="I love pizza!")])["documents"]
    print(documents[0].embedding[:4])
    ```

    :param meta_fields_to_embed: meta fields whose values are embedded before the content (those
        a Document lacks, or holds as None, are left out).
    :param embedding_separator: what joins those values and the content.

    The other parameters as in ``HadesEmbedding`` (``_embedding.py``) and ``HadesService``
    (``_service.py``); ``batch_size`` Documents go in one request.
    """

    def __init__(self, *, model: str = DEFAULT_EMBEDDING_MODEL, prefix: str = "",
                 suffix: str = "", normalize_embeddings: bool = False,
                 truncate_dim: Optional[int] = None, truncate: bool = True,
                 pooling: Optional[str] = None, batch_size: int = 32, progress_bar: bool = True,
                 meta_fields_to_embed: Optional[List[str]] = None,
                 embedding_separator: str = "\n", device: DeviceLike = None, pin: bool = False,
                 dtype: Optional[str] = None, socket_path: Optional[str] = None,
                 autostart: Optional[bool] = None,
                 request_timeout: Optional[float] = None) -> None:
        # Explicitly: @component rebuilds the class, which breaks the zero-argument super().
        HadesEmbedding.__init__(
            self, model, prefix, suffix, normalize_embeddings, truncate_dim, truncate, pooling,
            batch_size, progress_bar, device, pin, dtype, socket_path, autostart, request_timeout)
        self.meta_fields_to_embed = list(meta_fields_to_embed or [])
        self.embedding_separator = embedding_separator

    def to_dict(self) -> Dict[str, Any]:
        """The component as a dictionary (``Pipeline.dumps`` writes it)."""
        return default_to_dict(self, **self._embedding_parameters(),
                               meta_fields_to_embed=self.meta_fields_to_embed,
                               embedding_separator=self.embedding_separator)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "HadesDocumentEmbedder":
        """The component ``to_dict`` described."""
        return default_from_dict(cls, data)

    def _texts(self, documents: List[Document]) -> List[str]:
        texts = []
        for document in check_documents(documents, "HadesDocumentEmbedder (HadesTextEmbedder "
                                                   "embeds a string)"):
            values = [str(document.meta[key]) for key in self.meta_fields_to_embed
                      if document.meta.get(key) is not None]
            body = self.embedding_separator.join([*values, document.content or ""])
            texts.append(self.prefix + body + self.suffix)
        return texts

    @component.output_types(documents=List[Document], meta=Dict[str, Any])
    def run(self, documents: List[Document]) -> Dict[str, Any]:
        """Embeds DOCUMENTS.

        :returns: ``documents``: new Documents, in order, each as given with its ``embedding``
            set; ``meta``: the ``model`` and ``usage.tokens``, the tokens the model ran.
        :raises hades.HadesError: the service's error (``hades.ModelNotFoundError`` for an
            unknown model, ...).
        """
        texts = self._texts(documents)
        if not texts:
            return {"documents": [], "meta": self._meta(self.model, 0)}
        rows, meta = self._embed_texts(texts)
        return {"documents": [replace(d, embedding=row) for d, row in zip(documents, rows)],
                "meta": meta}

    @component.output_types(documents=List[Document], meta=Dict[str, Any])
    async def run_async(self, documents: List[Document]) -> Dict[str, Any]:
        """``run`` on asyncio (``hades.aio``), for ``Pipeline.run_async``."""
        texts = self._texts(documents)
        if not texts:
            return {"documents": [], "meta": self._meta(self.model, 0)}
        rows, meta = await self._embed_texts_async(texts)
        return {"documents": [replace(d, embedding=row) for d, row in zip(documents, rows)],
                "meta": meta}
