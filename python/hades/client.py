"""hades.ModelClient: the service's routes as typed methods, over its Unix socket or TCP.

    client = hades.ModelClient()                 # HADES_MODEL_MGR_SOCKET or the default
    client.load_model("sentence-transformers/all-MiniLM-L6-v2")
    result = client.embed("sentence-transformers/all-MiniLM-L6-v2", ["hello"])

    remote = hades.ModelClient(url="http://10.0.0.7:8080", api_key=key)   # or HADES_URL

The Python twin of include/hades/client.hpp. With autostart on (HADES_RUNTIME_AUTOSTART=1, the
default) a model call that finds no service on the socket starts one — at most one per socket
however many clients race — and retries; ``health()`` and ``status()`` never start one, and
nothing starts a service reached over TCP. An ``overloaded`` answer is retried after its
Retry-After, ``overloaded_retries`` times, before OverloadedError. One client may be used from
many threads at once; it keeps idle connections for reuse.
"""

import subprocess
import tempfile
import time
from typing import Any, List, Optional, Sequence, Union

from . import _wire
from ._connection import ConnectionPool, Endpoint
from ._pull import ProgressCallback, pull_arguments, pull_event, pull_outcome
from ._service import find_hades_binary, start_service
from .errors import HadesError, IoError, ServiceNotRunningError
from .options import ClientOptions, resolve_client_options
from .types import (ChunkingResult, ClassificationResult, EmbeddingResult, HealthStatus,
                    LoadedModel, PullResult, RerankResult, ServiceStatus, SparseEmbeddingResult,
                    TokenClassificationResult, TokenizationResult)

__all__ = ["ModelClient", "ClientBase", "make_options"]

# After an autostart, a request that still finds no service is tried this often, with backoff.
AUTOSTART_ATTEMPTS = 6


def make_options(options: Optional[ClientOptions], **fields: Any) -> ClientOptions:
    """OPTIONS (or the defaults) with each field given as a keyword that is not None, resolved
    from the environment."""
    base = options or ClientOptions()
    given = {name: value for name, value in fields.items() if value is not None}
    return resolve_client_options(ClientOptions(**{**base.__dict__, **given}))


class ClientBase:
    """What the blocking and the asyncio client share: their options, from keywords, an
    ``options`` object and the environment, in that order."""

    def __init__(self, socket_path: Optional[str] = None, autostart: Optional[bool] = None, *,
                 url: Optional[str] = None, api_key: Optional[str] = None,
                 connect_timeout: Optional[float] = None, control_timeout: Optional[float] = None,
                 request_timeout: Optional[float] = None, start_timeout: Optional[float] = None,
                 stop_timeout: Optional[float] = None, overloaded_retries: Optional[int] = None,
                 hades_binary: Optional[str] = None,
                 options: Optional[ClientOptions] = None) -> None:
        self._options = make_options(
            options, socket_path=socket_path, autostart=autostart, url=url, api_key=api_key,
            connect_timeout=connect_timeout, control_timeout=control_timeout,
            request_timeout=request_timeout, start_timeout=start_timeout,
            stop_timeout=stop_timeout, overloaded_retries=overloaded_retries,
            hades_binary=hades_binary)
        self._endpoint = Endpoint(self._options)

    @property
    def options(self) -> ClientOptions:
        """The resolved options."""
        return self._options

    @property
    def socket_path(self) -> str:
        """The service's Unix socket; "" when it is reached over TCP."""
        return str(self._options.socket_path or "")

    @property
    def url(self) -> str:
        """The service's TCP URL; "" when it is reached on its Unix socket."""
        return str(self._options.url or "")

    @property
    def address(self) -> str:
        """Where the service is: its URL, else its socket path."""
        return str(self._endpoint)

    def __repr__(self) -> str:
        where = f"url={self.url!r}" if self.url else f"socket_path={self.socket_path!r}"
        return f"{type(self).__module__}.{type(self).__name__}({where})"


class ModelClient(ClientBase):
    """A client of the hades service on one socket, or at one URL (``url``, with ``api_key``).
    Thread-safe; ``close()`` (or ``with``) drops its idle connections — it never stops the
    service — and a client that is collected closes them too. Timeouts are in seconds (see
    ClientOptions); a keyword left None comes from OPTIONS, then the environment."""

    def __init__(self, *args: Any, **keywords: Any) -> None:
        super().__init__(*args, **keywords)
        self._pool = ConnectionPool(self._endpoint, self._options.connect_timeout)

    def close(self) -> None:
        """Closes the idle connections; the client stays usable."""
        self._pool.close()

    def __enter__(self) -> "ModelClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---- transport --------------------------------------------------------------------------

    def _send(self, method: str, target: str, body: bytes, deadline: float) -> bytes:
        what = f"{method} {target} on {self.address}"
        retry = 0
        while True:
            response = self._pool.roundtrip(method, target, body, deadline)
            if 200 <= response.status < 300:
                return response.body
            time.sleep(_wire.delay_before_retry(response, what, retry,
                                                self._options.overloaded_retries, deadline))
            retry += 1

    def _call(self, method: str, target: str, body: bytes, *, control: bool = False) -> bytes:
        """The body of a successful answer to METHOD TARGET. CONTROL calls (health, status) have
        the short timeout and never start a service."""
        timeout = self._options.control_timeout if control else self._options.request_timeout
        try:
            return self._send(method, target, body, time.monotonic() + timeout)
        except ServiceNotRunningError:
            if control or not self._options.autostart:
                raise
        # Under the socket's start lock: however many clients get here at once, one daemon starts.
        start_service(self._options)
        attempt = 1
        while True:
            try:
                return self._send(method, target, body, time.monotonic() + timeout)
            except ServiceNotRunningError:
                if attempt >= AUTOSTART_ATTEMPTS:
                    raise
            time.sleep(0.05 * (1 << attempt))
            attempt += 1

    def _run(self, call: _wire.Call) -> Any:
        return _wire.read_answer(self._call(call.method, call.target, call.body,
                                            control=call.control), call.route, call.parse)

    def request(self, method: str, target: str, body: Any = None) -> Any:
        """Any route: METHOD TARGET with BODY (a JSON-able value, or bytes already encoded);
        returns the decoded JSON answer. Autostarts like the model calls."""
        return self._run(_wire.raw_call(method, target, body))

    # ---- service ----------------------------------------------------------------------------

    def health(self) -> HealthStatus:
        """GET /health; ServiceNotRunningError when no service runs."""
        return self._run(_wire.health_call())

    def health_check(self) -> HealthStatus:
        """Like ``health()``, but an unreachable service is unhealthy rather than an error."""
        try:
            return self.health()
        except HadesError as error:
            return _wire.unhealthy(error)

    def status(self) -> ServiceStatus:
        """GET /v1/status; ServiceNotRunningError when no service runs."""
        return self._run(_wire.status_call())

    # ---- models -----------------------------------------------------------------------------

    def load_model(self, model_id: str, device: Optional[str] = None, pin: bool = False,
                   dtype: Optional[str] = None,
                   keep_alive: Union[str, float, None] = None,
                   default_prompt_name: Optional[str] = None) -> LoadedModel:
        """Loads MODEL_ID (a Hugging Face id or a model folder) and returns it once ready.
        DEVICE: the service's default when None; PIN: never evicted; DTYPE: "fp32" (default),
        "int8", "bf16" or "auto"; KEEP_ALIVE: how long it stays after its last request, seconds
        or a duration as Ollama writes it ("5m", "30s", "1h"; 0: unloaded after each request;
        -1: until evicted), None: the service's HADES_KEEP_ALIVE (default: until evicted);
        DEFAULT_PROMPT_NAME: the prompt (a key of the model's config_sentence_transformers.json
        prompts) that embed requests without their own get from now on, in place of the
        config's default_prompt_name; None: as it was."""
        return self._run(_wire.load_call(model_id, device, pin, dtype, keep_alive,
                                         default_prompt_name))

    def unload_model(self, model_id: str) -> None:
        """Unloads MODEL_ID; ModelNotFoundError when it is not loaded."""
        self._run(_wire.unload_call(model_id))

    def get_loaded_models(self) -> List[LoadedModel]:
        """The models the service holds."""
        return self._run(_wire.models_call())

    def embed(self, model_id: str, texts: Sequence[str], *, normalize: Optional[bool] = None,
              truncate: bool = True, pooling: Optional[str] = None, as_numpy: bool = False,
              prompt: Optional[str] = None, prompt_name: Optional[str] = None,
              dimensions: Optional[int] = None,
              truncation_direction: Optional[str] = None) -> EmbeddingResult:
        """One embedding per text, in order. NORMALIZE None: as the model's configuration says;
        TRUNCATE False: an input over the model's limit is InputInvalidError; POOLING None: the
        model's own. AS_NUMPY: the rows as a float32 numpy array (numpy must be installed).
        PROMPT (a text) or PROMPT_NAME (a key of the model's config_sentence_transformers.json
        prompts) goes before each text, as sentence-transformers' encode puts it; with neither,
        the model's default_prompt_name applies. DIMENSIONS: the first N values of each row
        (Matryoshka), normalized again when the rows are normalized; None: all.
        TRUNCATION_DIRECTION: "right" (None: the default) or "left", which keeps each input's
        last tokens (its special tokens stay)."""
        return self._run(_wire.embed_call(model_id, texts, normalize, truncate, pooling,
                                          as_numpy, prompt, prompt_name, dimensions,
                                          truncation_direction))

    def embed_sparse(self, model_id: str, texts: Sequence[str], *, truncate: bool = True,
                     prompt: Optional[str] = None, prompt_name: Optional[str] = None,
                     truncation_direction: Optional[str] = None) -> SparseEmbeddingResult:
        """A sparse (SPLADE) model's vector per text, in order, as sentence-transformers'
        SparseEncoder.encode computes it: the non-zero entries over the vocabulary. TRUNCATE,
        PROMPT, PROMPT_NAME and TRUNCATION_DIRECTION as for embed. A dense model is
        UnsupportedError here, as a sparse one is for embed."""
        return self._run(_wire.embed_sparse_call(model_id, texts, truncate, prompt, prompt_name,
                                                 truncation_direction))

    def tokenize(self, model_id: str, texts: Sequence[str], *,
                 add_special_tokens: bool = True) -> TokenizationResult:
        """The model's tokenizer on each text: ids, tokens, code-point offsets, type ids."""
        return self._run(_wire.tokenize_call(model_id, texts, add_special_tokens))

    def classify(self, model_id: str, texts: Sequence[str],
                 pairs: Optional[Sequence[str]] = None) -> ClassificationResult:
        """One label per text, or per (text, pair) when PAIRS (one per text) is given."""
        return self._run(_wire.classify_call(model_id, texts, pairs))

    def rerank(self, model_id: str, query: str, documents: Sequence[str], *,
               raw_scores: bool = False, top_n: Optional[int] = None,
               return_documents: bool = False) -> RerankResult:
        """DOCUMENTS ordered by relevance to QUERY (a cross-encoder), best first. RAW_SCORES: the
        model's raw logit instead of its sigmoid. TOP_N: only the N best; None: all.
        RETURN_DOCUMENTS: each hit's ``document`` is its text (else None)."""
        return self._run(_wire.rerank_call(model_id, query, documents, raw_scores, top_n,
                                           return_documents))

    def token_classify(self, model_id: str, texts: Sequence[str], *,
                       max_length: int = 0) -> TokenClassificationResult:
        """Labelled spans per text (the ner pipeline's "simple" aggregation). MAX_LENGTH 0: the
        model's window."""
        return self._run(_wire.token_classify_call(model_id, texts, max_length))

    def chunk(self, model_id: str, texts: Sequence[str], *, max_length: int = 0,
              clean: Optional[str] = None, snap_to_whitespace: bool = False) -> ChunkingResult:
        """Chonky's semantic chunks of each text; they concatenate to the (cleaned) text. CLEAN:
        None/"none", "text", "html" or "xml"; SNAP_TO_WHITESPACE moves cuts inside a word to its
        end. MAX_LENGTH 0: the model's window."""
        return self._run(_wire.chunk_call(model_id, texts, max_length, clean,
                                          snap_to_whitespace))

    def pull(self, model_id: str, revision: Optional[str] = None, *,
             progress: Optional[ProgressCallback] = None) -> PullResult:
        """Downloads MODEL_ID ("org/name") into this machine's Hugging Face cache without loading
        it, with ``hades pull`` (no service needed; one reached over TCP loads from its own).
        PROGRESS receives each of its JSON events."""
        binary = find_hades_binary(self._options.hades_binary)
        arguments = pull_arguments(binary, model_id, revision)
        # stderr to a file: a pipe read only at the end could fill and stall the download.
        with tempfile.TemporaryFile("w+") as errors:
            try:
                process = subprocess.Popen(arguments, stdin=subprocess.DEVNULL,
                                           stdout=subprocess.PIPE, stderr=errors, text=True)
            except OSError as error:
                raise IoError(f"cannot run {binary}: {error.strerror or error}") from None
            last = None
            with process:
                for line in process.stdout or ():
                    last = pull_event(line, progress) or last
            errors.seek(0)
            return pull_outcome(model_id, process.returncode, last, errors.read())
