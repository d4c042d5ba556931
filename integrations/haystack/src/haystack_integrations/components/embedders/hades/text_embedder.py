"""HadesTextEmbedder: one text's embedding from an embedding model in the hades service."""

from typing import Any, Dict, List, Optional

from haystack import component, default_from_dict, default_to_dict

from ._embedding import DEFAULT_EMBEDDING_MODEL, HadesEmbedding
from ._service import DeviceLike

__all__ = ["HadesTextEmbedder"]


@component
class HadesTextEmbedder(HadesEmbedding):
    """Embeds a string (a query) with a model the hades service holds; the twin of
    sentence-transformers-haystack's ``SentenceTransformersTextEmbedder``, same parameter names
    and the same vectors for the same model, without PyTorch in the process.

    ```python
    from haystack_integrations.components.embedders.hades import HadesTextEmbedder

    embedder = HadesTextEmbedder(model="sentence-transformers/all-MiniLM-L6-v2")
    print(embedder.run("I love pizza!")["embedding"][:4])
    ```

    Parameters as in ``HadesEmbedding`` (``_embedding.py``) and ``HadesService``
    (``_service.py``): ``model``, ``prefix``, ``suffix``, ``normalize_embeddings``,
    ``truncate_dim``, ``truncate``, ``pooling``, ``batch_size``, ``progress_bar``, ``device``,
    ``pin``, ``dtype``, ``socket_path``, ``autostart``, ``request_timeout``.
    """

    def __init__(self, *, model: str = DEFAULT_EMBEDDING_MODEL, prefix: str = "",
                 suffix: str = "", normalize_embeddings: bool = False,
                 truncate_dim: Optional[int] = None, truncate: bool = True,
                 pooling: Optional[str] = None, batch_size: int = 32, progress_bar: bool = True,
                 device: DeviceLike = None, pin: bool = False, dtype: Optional[str] = None,
                 socket_path: Optional[str] = None, autostart: Optional[bool] = None,
                 request_timeout: Optional[float] = None) -> None:
        # Explicitly: @component rebuilds the class, which breaks the zero-argument super().
        HadesEmbedding.__init__(
            self, model, prefix, suffix, normalize_embeddings, truncate_dim, truncate, pooling,
            batch_size, progress_bar, device, pin, dtype, socket_path, autostart, request_timeout)

    def to_dict(self) -> Dict[str, Any]:
        """The component as a dictionary (``Pipeline.dumps`` writes it)."""
        return default_to_dict(self, **self._embedding_parameters())

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "HadesTextEmbedder":
        """The component ``to_dict`` described."""
        return default_from_dict(cls, data)

    def _text(self, text: str) -> str:
        if not isinstance(text, str):
            raise TypeError("HadesTextEmbedder expects a string as input; to embed a list of "
                            "Documents use HadesDocumentEmbedder.")
        return self.prefix + text + self.suffix

    @component.output_types(embedding=List[float], meta=Dict[str, Any])
    def run(self, text: str) -> Dict[str, Any]:
        """Embeds TEXT.

        :returns: ``embedding``, a list of floats, and ``meta``: the ``model`` and
            ``usage.tokens``, the tokens the model ran.
        :raises hades.HadesError: the service's error (``hades.ModelNotFoundError`` for an
            unknown model, ``hades.ServiceNotRunningError`` when no service runs, ...).
        """
        rows, meta = self._embed_texts([self._text(text)])
        return {"embedding": rows[0], "meta": meta}

    @component.output_types(embedding=List[float], meta=Dict[str, Any])
    async def run_async(self, text: str) -> Dict[str, Any]:
        """``run`` on asyncio (``hades.aio``), for ``Pipeline.run_async``."""
        rows, meta = await self._embed_texts_async([self._text(text)])
        return {"embedding": rows[0], "meta": meta}
