"""HadesRanker: Documents ordered by a cross-encoder in the hades service."""

from dataclasses import dataclass, replace
from typing import Any, Dict, List, Optional

from haystack import Document, component, default_from_dict, default_to_dict
from haystack_integrations.components.embedders.hades._service import (
    DeviceLike, HadesService, batches, check_documents, whole_number)

__all__ = ["HadesRanker"]

DEFAULT_RANKER_MODEL = "cross-encoder/ms-marco-MiniLM-L6-v2"


def _deduplicated(documents: List[Document]) -> List[Document]:
    """One Document per id, the one with the highest score where they differ, in the order the
    ids first come (as Haystack's rankers deduplicate)."""
    best: Dict[str, Document] = {}
    for document in documents:
        kept = best.get(document.id)
        score = float("-inf") if document.score is None else document.score
        if kept is None or score > (float("-inf") if kept.score is None else kept.score):
            best[document.id] = document
    return list(best.values())


@dataclass(frozen=True)
class _Ranking:
    """One run's inputs, settled: what goes to the service and what comes back."""

    query: str
    documents: List[Document]
    texts: List[str]
    top_k: int
    raw_scores: bool
    score_threshold: Optional[float]


@component
class HadesRanker(HadesService):
    """Orders Documents by their relevance to a query with a cross-encoder the hades service
    holds; the twin of sentence-transformers-haystack's ``SentenceTransformersSimilarityRanker``,
    same parameter names and the same scores for the same model, without PyTorch in the process.

    ```python
    from haystack import Document
    from haystack_integrations.components.rankers.hades import HadesRanker

    ranker = HadesRanker(model="cross-encoder/ms-marco-MiniLM-L6-v2")
    documents = [Document(content="Paris"), Document(content="Berlin")]
    print(ranker.run(query="City in Germany", documents=documents)["documents"][0].content)
    ```

    :param top_k: the most Documents a run returns.
    :param query_prefix: / :param query_suffix: put around the query (instructions some rankers
        want, e.g. bge's).
    :param document_prefix: / :param document_suffix: put around each Document's text.
    :param meta_fields_to_embed: meta fields whose values go before each Document's content.
    :param embedding_separator: what joins those values and the content.
    :param scale_score: True: scores are the sigmoid of the model's logit (probabilities in
        [0, 1]); False: the raw logit, as ``CrossEncoder.predict`` gives without an activation.
    :param score_threshold: only Documents scoring at least this are returned.
    :param batch_size: Documents per request to the service.

    ``model``, ``device``, ``pin``, ``dtype``, ``socket_path``, ``autostart`` and
    ``request_timeout`` as in ``HadesService`` (``embedders/hades/_service.py``).
    """

    def __init__(self, *, model: str = DEFAULT_RANKER_MODEL, top_k: int = 10,
                 query_prefix: str = "", query_suffix: str = "", document_prefix: str = "",
                 document_suffix: str = "", meta_fields_to_embed: Optional[List[str]] = None,
                 embedding_separator: str = "\n", scale_score: bool = True,
                 score_threshold: Optional[float] = None, batch_size: int = 32,
                 device: DeviceLike = None, pin: bool = False, dtype: Optional[str] = None,
                 socket_path: Optional[str] = None, autostart: Optional[bool] = None,
                 request_timeout: Optional[float] = None) -> None:
        # Explicitly: @component rebuilds the class, which breaks the zero-argument super().
        HadesService.__init__(self, model, device, pin, dtype, socket_path, autostart,
                              request_timeout)
        self.top_k = whole_number("top_k", top_k, 1)
        self.query_prefix = query_prefix
        self.query_suffix = query_suffix
        self.document_prefix = document_prefix
        self.document_suffix = document_suffix
        self.meta_fields_to_embed = list(meta_fields_to_embed or [])
        self.embedding_separator = embedding_separator
        self.scale_score = scale_score
        self.score_threshold = score_threshold
        self.batch_size = whole_number("batch_size", batch_size, 1)

    def to_dict(self) -> Dict[str, Any]:
        """The component as a dictionary (``Pipeline.dumps`` writes it)."""
        return default_to_dict(
            self, **self._service_parameters(), top_k=self.top_k, query_prefix=self.query_prefix,
            query_suffix=self.query_suffix, document_prefix=self.document_prefix,
            document_suffix=self.document_suffix, meta_fields_to_embed=self.meta_fields_to_embed,
            embedding_separator=self.embedding_separator, scale_score=self.scale_score,
            score_threshold=self.score_threshold, batch_size=self.batch_size)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "HadesRanker":
        """The component ``to_dict`` described."""
        return default_from_dict(cls, data)

    def _document_text(self, document: Document) -> str:
        values = [str(document.meta[key]) for key in self.meta_fields_to_embed
                  if document.meta.get(key) is not None]
        body = self.embedding_separator.join([*values, document.content or ""])
        return self.document_prefix + body + self.document_suffix

    def _plan(self, query: str, documents: List[Document], top_k: Optional[int],
              scale_score: Optional[bool], score_threshold: Optional[float]) -> _Ranking:
        check_documents(documents, "HadesRanker")
        unique = _deduplicated(documents)
        return _Ranking(
            query=self.query_prefix + query + self.query_suffix, documents=unique,
            texts=[self._document_text(d) for d in unique],
            top_k=self.top_k if top_k is None else whole_number("top_k", top_k, 1),
            raw_scores=not (self.scale_score if scale_score is None else scale_score),
            score_threshold=self.score_threshold if score_threshold is None else score_threshold)

    def _ranked(self, plan: _Ranking, results: List[Any]) -> Dict[str, List[Document]]:
        """The Documents of PLAN scored by RESULTS, one RerankResult per batch of PLAN's texts,
        best first, then cut by the threshold and top_k."""
        scores = [0.0] * len(plan.documents)
        for number, result in enumerate(results):
            for hit in result.results:  # its index counts from its batch's first text
                scores[number * self.batch_size + hit.index] = hit.score
        # Ties keep the input order, as a stable sort of the cross-encoder's scores does.
        order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
        ranked = [replace(plan.documents[i], score=scores[i]) for i in order]
        if plan.score_threshold is not None:
            ranked = [d for d in ranked if d.score >= plan.score_threshold]
        return {"documents": ranked[:plan.top_k]}

    @component.output_types(documents=List[Document])
    def run(self, query: str, documents: List[Document], top_k: Optional[int] = None,
            scale_score: Optional[bool] = None,
            score_threshold: Optional[float] = None) -> Dict[str, List[Document]]:
        """Ranks DOCUMENTS by relevance to QUERY; duplicates (by id) are ranked once, keeping the
        one with the highest score.

        :param top_k: / :param scale_score: / :param score_threshold: override the component's.
        :returns: ``documents``: new Documents with ``score`` set, most relevant first.
        :raises ValueError: when ``top_k`` is not above 0.
        :raises hades.HadesError: the service's error (``hades.ModelNotFoundError`` for an
            unknown model, ``hades.UnsupportedError`` for a model that is not a cross-encoder).
        """
        plan = self._plan(query, documents, top_k, scale_score, score_threshold)
        if not plan.documents:
            return {"documents": []}
        if not self._warm:
            self.warm_up()
        client = self._blocking_client()
        return self._ranked(plan, [client.rerank(self.model, plan.query, part,
                                                 raw_scores=plan.raw_scores)
                                   for part in batches(plan.texts, self.batch_size)])

    @component.output_types(documents=List[Document])
    async def run_async(self, query: str, documents: List[Document], top_k: Optional[int] = None,
                        scale_score: Optional[bool] = None,
                        score_threshold: Optional[float] = None) -> Dict[str, List[Document]]:
        """``run`` on asyncio (``hades.aio``), for ``Pipeline.run_async``."""
        plan = self._plan(query, documents, top_k, scale_score, score_threshold)
        if not plan.documents:
            return {"documents": []}
        if not self._warm:
            await self.warm_up_async()
        client = self._async_client()
        return self._ranked(plan, [await client.rerank(self.model, plan.query, part,
                                                       raw_scores=plan.raw_scores)
                                   for part in batches(plan.texts, self.batch_size)])
