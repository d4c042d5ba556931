"""Embedders on the hades service: ``HadesTextEmbedder`` (a query) and ``HadesDocumentEmbedder``
(Documents), the sentence-transformers embedders' twins."""

from .document_embedder import HadesDocumentEmbedder
from .text_embedder import HadesTextEmbedder

__all__ = ["HadesDocumentEmbedder", "HadesTextEmbedder"]
