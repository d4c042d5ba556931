"""A ranker on the hades service: ``HadesRanker``, a cross-encoder, the twin of
sentence-transformers' similarity ranker."""

from .ranker import HadesRanker

__all__ = ["HadesRanker"]
