"""What the text and the document embedder share: their parameters, and one embedding pass over a
list of texts, in batches, blocking or on asyncio."""

from typing import Any, Dict, List, Optional, Tuple

from tqdm import tqdm

from ._service import DeviceLike, HadesService, batches, l2_normalized, whole_number

__all__ = ["HadesEmbedding", "DEFAULT_EMBEDDING_MODEL"]

DEFAULT_EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"

Rows = List[List[float]]


class HadesEmbedding(HadesService):
    """An embedding model in the hades service, with sentence-transformers-haystack's options.

    :param prefix: put before each text (instructions some models want, e.g. E5's "query: ").
    :param suffix: put after each text.
    :param normalize_embeddings: True: L2-normalize each embedding (after ``truncate_dim``).
        False, the default as in sentence-transformers: the model's own modules decide, so a model
        with a Normalize module (all-MiniLM-L6-v2) still gives unit vectors, as
        ``SentenceTransformer.encode`` does.
    :param truncate_dim: keep the first ``truncate_dim`` dimensions (Matryoshka embeddings);
        None keeps all. As in sentence-transformers the cut comes after the model's own
        normalization, and only ``normalize_embeddings`` renormalizes it.
    :param truncate: cut an input over the model's sequence limit to that limit (the default, as
        sentence-transformers does); False makes such an input an error
        (``hades.InputInvalidError``) instead.
    :param pooling: override the model's pooling ("cls", "mean", "max", "mean_sqrt_len",
        "weightedmean", "lasttoken"); None: its own.
    :param batch_size: texts per request to the service.
    :param progress_bar: show a progress bar over the batches.
    """

    def __init__(self, model: str, prefix: str, suffix: str, normalize_embeddings: bool,
                 truncate_dim: Optional[int], truncate: bool, pooling: Optional[str],
                 batch_size: int, progress_bar: bool, device: DeviceLike, pin: bool,
                 dtype: Optional[str], socket_path: Optional[str], autostart: Optional[bool],
                 request_timeout: Optional[float]) -> None:
        super().__init__(model, device, pin, dtype, socket_path, autostart, request_timeout)
        if truncate_dim is not None:
            whole_number("truncate_dim", truncate_dim, 1)
        self.prefix = prefix
        self.suffix = suffix
        self.normalize_embeddings = normalize_embeddings
        self.truncate_dim = truncate_dim
        self.truncate = truncate
        self.pooling = pooling
        self.batch_size = whole_number("batch_size", batch_size, 1)
        self.progress_bar = progress_bar

    def _embedding_parameters(self) -> Dict[str, Any]:
        return {**self._service_parameters(), "prefix": self.prefix, "suffix": self.suffix,
                "normalize_embeddings": self.normalize_embeddings,
                "truncate_dim": self.truncate_dim, "truncate": self.truncate,
                "pooling": self.pooling, "batch_size": self.batch_size,
                "progress_bar": self.progress_bar}

    def _request_options(self) -> Dict[str, Any]:
        # Without a cut the service normalizes (when asked) in the same pass; with one, the
        # normalization must follow the cut, so it is done here.
        normalize = True if self.normalize_embeddings and self.truncate_dim is None else None
        return {"normalize": normalize, "truncate": self.truncate, "pooling": self.pooling}

    def _finish(self, rows: Rows) -> Rows:
        if self.truncate_dim is None:
            return [list(row) for row in rows]
        cut = [list(row[:self.truncate_dim]) for row in rows]
        return [l2_normalized(row) for row in cut] if self.normalize_embeddings else cut

    def _meta(self, model: str, tokens: int) -> Dict[str, Any]:
        return {"model": model, "usage": {"tokens": tokens}}

    def _progress(self, parts: List[List[str]]) -> Any:
        return tqdm(parts, disable=not self.progress_bar, desc="Calculating embeddings",
                    unit="batch")

    def _combine(self, results: List[Any]) -> Tuple[Rows, Dict[str, Any]]:
        rows: Rows = [row for result in results for row in result.embeddings]
        model = results[-1].model if results else self.model
        return self._finish(rows), self._meta(model, sum(result.tokens for result in results))

    def _embed_texts(self, texts: List[str]) -> Tuple[Rows, Dict[str, Any]]:
        """One embedding per text, in order, and the run's meta (model, tokens)."""
        if not self._warm:
            self.warm_up()
        client = self._blocking_client()
        return self._combine([client.embed(self.model, part, **self._request_options())
                              for part in self._progress(batches(texts, self.batch_size))])

    async def _embed_texts_async(self, texts: List[str]) -> Tuple[Rows, Dict[str, Any]]:
        """``_embed_texts`` on the asyncio client."""
        if not self._warm:
            await self.warm_up_async()
        client = self._async_client()
        return self._combine([await client.embed(self.model, part, **self._request_options())
                              for part in self._progress(batches(texts, self.batch_size))])
