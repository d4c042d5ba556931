"""A preprocessor on the hades service: ``HadesDocumentSplitter``, chonky's semantic chunking."""

from .document_splitter import HadesDocumentSplitter

__all__ = ["HadesDocumentSplitter"]
