"""hades.ModelEngine and hades.HaystackModelEngine: the seed's engine interface.

    engine = hades.HaystackModelEngine()         # the service at HADES_MODEL_MGR_SOCKET
    engine.start()                               # returns once the service accepts connections
    engine.load_model("sentence-transformers/all-MiniLM-L6-v2")
    print(engine.get_loaded_models())
    engine.stop()                                # returns once it has exited

or, as the seed's context manager, which starts the service if needed and stops it at the end,
also when the block raises (``stop_on_exit="if_started"`` leaves a service that was already
running alone)::

    with hades.HaystackModelEngine() as engine:
        engine.load_model("mirth/chonky_modernbert_large_1")

The service is the ``hades serve`` process on a Unix socket; the engine starts it as a daemon,
talks to it through a ModelClient and stops it with SIGTERM (include/hades/engine.hpp). An engine
given a ``url`` (or HADES_URL) reaches a service on its TCP listener instead, which runs under its
own supervisor: there ``start``/``stop``/``restart`` raise UnsupportedError, and ``with`` neither
starts nor stops it (it checks that the service answers, and closes the connections at the end).
"""

import abc
import sys
from typing import Any, List, Optional, Sequence, Union

from ._service import service_pid, start_service, stop_service
from .client import ModelClient
from .errors import HadesError, InvalidArgumentError, ServiceNotRunningError
from .options import ClientOptions
from .types import (ChunkingResult, ClassificationResult, EmbeddingResult, HealthStatus,
                    LoadedModel, PullResult, RerankResult, ServiceStatus, StartResult, StopResult,
                    TokenClassificationResult, TokenizationResult)

__all__ = ["ModelEngine", "HaystackModelEngine", "stop_policy"]

_STOP_POLICIES = ("always", "if_started", "never")


def stop_policy(stop_on_exit: Union[bool, str, None], url: str = "") -> str:
    """STOP_ON_EXIT as one of "always" (True; the seed's way), "if_started" (only a service the
    ``with`` started) and "never" (False). None: "always" on the socket, "never" over TCP (URL),
    where "always" cannot be done."""
    if stop_on_exit is None:
        return "never" if url else "always"
    if url and stop_on_exit in (True, "always"):
        raise InvalidArgumentError(f"stop_on_exit={stop_on_exit!r} cannot be done: the service at "
                                   f"{url} is stopped where it runs, not by a client")
    if stop_on_exit is True:
        return "always"
    if stop_on_exit is False:
        return "never"
    if stop_on_exit in _STOP_POLICIES:
        return str(stop_on_exit)
    raise InvalidArgumentError(f"stop_on_exit must be True, False, 'always', 'if_started' or "
                               f"'never', got {stop_on_exit!r}")


class ModelEngine(abc.ABC):
    """The engine interface of the seed (``src/model_engine/base.py``): the service's life and
    its models."""

    @abc.abstractmethod
    def start(self) -> StartResult:
        """Starts the service; returns once it accepts connections. Already running is a
        success."""

    @abc.abstractmethod
    def stop(self) -> StopResult:
        """Stops the service and waits until it has exited. Not running is a success."""

    @abc.abstractmethod
    def restart(self) -> StartResult:
        """Stop, then start."""

    @abc.abstractmethod
    def status(self) -> ServiceStatus:
        """The service's state; never raises for "not running": ``running`` is False."""

    @abc.abstractmethod
    def load_model(self, model_id: str, device: Optional[str] = None, pin: bool = False,
                   dtype: Optional[str] = None,
                   keep_alive: Union[str, float, None] = None,
                   default_prompt_name: Optional[str] = None) -> LoadedModel:
        """Loads a model (a Hugging Face id or a folder) and returns it once ready."""

    @abc.abstractmethod
    def unload_model(self, model_id: str) -> None:
        """Unloads a model."""

    @abc.abstractmethod
    def get_loaded_models(self) -> List[LoadedModel]:
        """The models the service holds."""

    @abc.abstractmethod
    def health_check(self) -> HealthStatus:
        """Whether the service answers; never raises: an unreachable service is unhealthy."""

    @abc.abstractmethod
    def embed(self, model_id: str, texts: Sequence[str], *, normalize: Optional[bool] = None,
              truncate: bool = True, pooling: Optional[str] = None, as_numpy: bool = False,
              prompt: Optional[str] = None, prompt_name: Optional[str] = None,
              dimensions: Optional[int] = None,
              truncation_direction: Optional[str] = None) -> EmbeddingResult:
        """One embedding per text (with a prompt before each, cut to DIMENSIONS)."""

    @abc.abstractmethod
    def tokenize(self, model_id: str, texts: Sequence[str], *,
                 add_special_tokens: bool = True) -> TokenizationResult:
        """The model's tokenizer on each text."""

    @abc.abstractmethod
    def classify(self, model_id: str, texts: Sequence[str],
                 pairs: Optional[Sequence[str]] = None) -> ClassificationResult:
        """One label per text (or per text pair)."""

    @abc.abstractmethod
    def rerank(self, model_id: str, query: str, documents: Sequence[str], *,
               raw_scores: bool = False, top_n: Optional[int] = None,
               return_documents: bool = False) -> RerankResult:
        """Documents by relevance to the query, best first."""

    @abc.abstractmethod
    def token_classify(self, model_id: str, texts: Sequence[str], *,
                       max_length: int = 0) -> TokenClassificationResult:
        """Labelled spans of each text."""

    @abc.abstractmethod
    def chunk(self, model_id: str, texts: Sequence[str], *, max_length: int = 0,
              clean: Optional[str] = None, snap_to_whitespace: bool = False) -> ChunkingResult:
        """Chonky's semantic chunks of each text."""


class HaystackModelEngine(ModelEngine):
    """The client-side engine of the seed: the service on a Unix socket, started on demand (or
    one reached at ``url``). Thread-safe. Keywords as ModelClient's, plus STOP_ON_EXIT for the
    ``with`` statement (see ``stop_policy``)."""

    def __init__(self, socket_path: Optional[str] = None, autostart: Optional[bool] = None, *,
                 url: Optional[str] = None, api_key: Optional[str] = None,
                 connect_timeout: Optional[float] = None, control_timeout: Optional[float] = None,
                 request_timeout: Optional[float] = None, start_timeout: Optional[float] = None,
                 stop_timeout: Optional[float] = None, overloaded_retries: Optional[int] = None,
                 hades_binary: Optional[str] = None, options: Optional[ClientOptions] = None,
                 stop_on_exit: Union[bool, str, None] = None) -> None:
        self._client = ModelClient(
            socket_path, autostart, url=url, api_key=api_key, connect_timeout=connect_timeout,
            control_timeout=control_timeout, request_timeout=request_timeout,
            start_timeout=start_timeout, stop_timeout=stop_timeout,
            overloaded_retries=overloaded_retries, hades_binary=hades_binary, options=options)
        self._stop_policy = stop_policy(stop_on_exit, self._client.url)
        self._entered: List[StartResult] = []  # a stack: `with` blocks may nest

    @property
    def client(self) -> ModelClient:
        """The ModelClient, for routes the engine interface does not name."""
        return self._client

    @property
    def socket_path(self) -> str:
        return self._client.socket_path

    @property
    def url(self) -> str:
        return self._client.url

    @property
    def address(self) -> str:
        """Where the service is: its URL, else its socket path."""
        return self._client.address

    @property
    def started(self) -> Optional[StartResult]:
        """What the innermost ``with`` block's start found (``already_running``, ``pid``); None
        outside one."""
        return self._entered[-1] if self._entered else None

    @property
    def options(self) -> ClientOptions:
        return self._client.options

    def close(self) -> None:
        """Closes idle connections (the service keeps running)."""
        self._client.close()

    def __repr__(self) -> str:
        where = f"url={self.url!r}" if self.url else f"socket_path={self.socket_path!r}"
        return f"hades.{type(self).__name__}({where})"

    # ---- the service ------------------------------------------------------------------------

    def start(self) -> StartResult:
        return start_service(self._client.options)

    def stop(self) -> StopResult:
        self._client.close()  # kept-alive connections die with the daemon
        return stop_service(self._client.options)

    def restart(self) -> StartResult:
        self.stop()
        return self.start()

    def status(self) -> ServiceStatus:
        try:
            return self._client.status()
        except ServiceNotRunningError:
            if self.url:
                return ServiceStatus(running=False, socket="")
        # A daemon may hold the socket's lock while it starts up, before it accepts connections.
        return ServiceStatus(running=False, socket=self.socket_path,
                             pid=service_pid(self._client.options) or 0)

    def health_check(self) -> HealthStatus:
        return self._client.health_check()

    def _enter(self) -> StartResult:
        if self.url:  # a remote service is not started here: it must answer already
            return StartResult(already_running=True, pid=self._client.status().pid)
        return self.start()

    def __enter__(self) -> "HaystackModelEngine":
        self._entered.append(self._enter())
        return self

    def __exit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        started = self._entered.pop()
        if self._stop_policy == "never" or (self._stop_policy == "if_started"
                                            and started.already_running):
            self._client.close()
            return
        try:
            self.stop()
        except HadesError as error:
            if exc is None:
                raise
            # The block's own exception says more; this one must not hide it.
            print(f"hades: could not stop the service at {self.address}: {error}",
                  file=sys.stderr)

    # ---- models -----------------------------------------------------------------------------

    def load_model(self, model_id: str, device: Optional[str] = None, pin: bool = False,
                   dtype: Optional[str] = None,
                   keep_alive: Union[str, float, None] = None,
                   default_prompt_name: Optional[str] = None) -> LoadedModel:
        return self._client.load_model(model_id, device, pin, dtype, keep_alive,
                                       default_prompt_name)

    def unload_model(self, model_id: str) -> None:
        self._client.unload_model(model_id)

    def get_loaded_models(self) -> List[LoadedModel]:
        return self._client.get_loaded_models()

    def embed(self, model_id: str, texts: Sequence[str], *, normalize: Optional[bool] = None,
              truncate: bool = True, pooling: Optional[str] = None, as_numpy: bool = False,
              prompt: Optional[str] = None, prompt_name: Optional[str] = None,
              dimensions: Optional[int] = None,
              truncation_direction: Optional[str] = None) -> EmbeddingResult:
        return self._client.embed(model_id, texts, normalize=normalize, truncate=truncate,
                                  pooling=pooling, as_numpy=as_numpy, prompt=prompt,
                                  prompt_name=prompt_name, dimensions=dimensions,
                                  truncation_direction=truncation_direction)

    def tokenize(self, model_id: str, texts: Sequence[str], *,
                 add_special_tokens: bool = True) -> TokenizationResult:
        return self._client.tokenize(model_id, texts, add_special_tokens=add_special_tokens)

    def classify(self, model_id: str, texts: Sequence[str],
                 pairs: Optional[Sequence[str]] = None) -> ClassificationResult:
        return self._client.classify(model_id, texts, pairs)

    def rerank(self, model_id: str, query: str, documents: Sequence[str], *,
               raw_scores: bool = False, top_n: Optional[int] = None,
               return_documents: bool = False) -> RerankResult:
        return self._client.rerank(model_id, query, documents, raw_scores=raw_scores,
                                   top_n=top_n, return_documents=return_documents)

    def token_classify(self, model_id: str, texts: Sequence[str], *,
                       max_length: int = 0) -> TokenClassificationResult:
        return self._client.token_classify(model_id, texts, max_length=max_length)

    def chunk(self, model_id: str, texts: Sequence[str], *, max_length: int = 0,
              clean: Optional[str] = None, snap_to_whitespace: bool = False) -> ChunkingResult:
        return self._client.chunk(model_id, texts, max_length=max_length, clean=clean,
                                  snap_to_whitespace=snap_to_whitespace)

    def pull(self, model_id: str, revision: Optional[str] = None, **keywords: Any) -> PullResult:
        """Downloads a model into the Hugging Face cache without loading it (ModelClient.pull)."""
        return self._client.pull(model_id, revision, **keywords)
