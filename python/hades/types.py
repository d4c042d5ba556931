"""The values the hades client takes and returns: the service's answers as small dataclasses.

They mirror the JSON of the protocol (docs/protocol.md) and the C++ client's structs
(include/hades/types.hpp) field by field, so a value read here means what the protocol says it
means. Offsets (``start``/``end``, token ``offsets``) are Unicode code-point offsets into the
input, i.e. Python ``str`` indices.
"""

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

__all__ = [
    "LoadedModel",
    "ServiceStatus",
    "HealthStatus",
    "StartResult",
    "StopResult",
    "EmbeddingResult",
    "TokenEncoding",
    "TokenizationResult",
    "ClassScore",
    "Classification",
    "ClassificationResult",
    "RerankHit",
    "RerankResult",
    "EntitySpan",
    "TokenClassificationResult",
    "TextChunk",
    "ChunkedText",
    "ChunkingResult",
    "PullResult",
]


@dataclass(frozen=True)
class LoadedModel:
    """One model held by the service (an entry of ``GET /v1/models``)."""

    id: str  #: a Hugging Face id ("org/name") or a model folder path
    state: str  #: "downloading", "loading", "ready" or "failed"
    device: str = ""  #: "cpu", "cuda:0"
    #: "embedding", "sparse-embedding", "sequence-classification", "token-classification"
    kind: str = ""
    model_type: str = ""  #: config.json's model_type: "bert", "xlm-roberta", ...
    dtype: str = ""  #: its linear layers' precision: "fp32", "int8" or "bf16"
    memory_bytes: int = 0  #: bytes its loaded weights occupy
    pinned: bool = False  #: never evicted
    error: str = ""  #: why, when state is "failed"
    progress: float = 0.0  #: while "downloading": the fraction of its bytes in the cache
    downloaded_bytes: int = 0
    total_bytes: int = 0
    dimension: int = 0  #: embedding width
    max_sequence_length: int = 0
    requests: int = 0  #: requests served
    in_flight: int = 0  #: requests running or queued now
    idle_seconds: float = 0.0  #: since its last use
    #: how long it stays after its last request (the load's ``keep_alive``, else the service's
    #: HADES_KEEP_ALIVE), in seconds; -1: until evicted
    keep_alive_seconds: float = -1.0
    #: the prompt embed requests without their own get (the load's ``default_prompt_name``, else
    #: the model's config_sentence_transformers.json one); "": none
    default_prompt_name: str = ""


@dataclass(frozen=True)
class ServiceStatus:
    """What ``status()`` reports. When the service is not running only ``running`` and
    ``socket`` are set (and ``pid`` when a daemon holds the socket's lock but does not accept
    connections yet)."""

    running: bool
    socket: str
    pid: int = 0
    version: str = ""
    uptime_seconds: float = 0.0
    device: str = ""  #: the device models load on by default
    device_note: str = ""  #: why, e.g. when cuda:0 was asked for and cpu is used
    #: the TCP listener's bound addresses ("127.0.0.1:8080", "[::1]:8080"); empty without one
    tcp_addresses: List[str] = field(default_factory=list)
    tcp_api_key: bool = False  #: whether requests on the TCP listener need the API key
    models: List[LoadedModel] = field(default_factory=list)
    limits: Dict[str, Any] = field(default_factory=dict)  #: the server's limits, as JSON values
    stats: Dict[str, Any] = field(default_factory=dict)  #: its counters, as JSON values

    def __bool__(self) -> bool:
        return self.running


@dataclass(frozen=True)
class HealthStatus:
    """What ``health_check()`` reports; an unreachable service is unhealthy, never an
    exception."""

    healthy: bool
    status: str  #: the service's word ("ok"), or "not running" / "error"
    version: str = ""
    uptime_seconds: float = 0.0
    message: str = ""  #: why it is unhealthy

    def __bool__(self) -> bool:
        return self.healthy


@dataclass(frozen=True)
class StartResult:
    """The outcome of ``start()``: ``already_running`` when a service was found on the socket."""

    already_running: bool
    pid: int


@dataclass(frozen=True)
class StopResult:
    """The outcome of ``stop()``: ``was_running`` False when there was nothing to stop."""

    was_running: bool
    pid: int


@dataclass(frozen=True)
class EmbeddingResult:
    """``embeddings``: one row per input, in input order (a list of lists of floats, or a
    float32 numpy array of shape (inputs, dimension) when asked for with ``as_numpy=True``)."""

    model: str
    dimension: int
    tokens: int  #: tokens computed, special tokens included
    embeddings: Any  # List[List[float]] or numpy.ndarray


@dataclass(frozen=True)
class SparseEmbedding:
    """One input's sparse vector over the vocabulary: its non-zero entries, indices ascending."""

    indices: List[int]
    values: List[float]


@dataclass(frozen=True)
class SparseEmbeddingResult:
    """A sparse (SPLADE) model's vectors, one per input in input order, as sentence-transformers'
    SparseEncoder.encode computes them."""

    model: str
    dimension: int  #: the vocabulary size
    tokens: int  #: tokens computed, special tokens included
    embeddings: List[SparseEmbedding]


@dataclass(frozen=True)
class TokenEncoding:
    ids: List[int]
    tokens: List[str]
    offsets: List[Tuple[int, int]]  #: [start, end) in code points
    type_ids: List[int]


@dataclass(frozen=True)
class TokenizationResult:
    model: str
    encodings: List[TokenEncoding]  #: one per input, in input order


@dataclass(frozen=True)
class ClassScore:
    label: str  #: from the model's id2label
    score: float  #: softmax probability (the sigmoid for a single-label model)


@dataclass(frozen=True)
class Classification:
    label: str  #: the best label
    score: float
    scores: List[ClassScore]  #: every label, best first


@dataclass(frozen=True)
class ClassificationResult:
    model: str
    results: List[Classification]  #: one per input, in input order


@dataclass(frozen=True)
class RerankHit:
    index: int  #: into the documents given
    score: float  #: the sigmoid of a single logit (else the last label's probability), or raw
    document: Optional[str] = None  #: the document's text, with ``return_documents=True``


@dataclass(frozen=True)
class RerankResult:
    model: str
    results: List[RerankHit]  #: every document, most relevant first


@dataclass(frozen=True)
class EntitySpan:
    """Adjacent tokens with the same predicted label (never "O")."""

    label: str
    score: float  #: mean probability of its tokens
    start: int  #: [start, end) in code points of the input
    end: int


@dataclass(frozen=True)
class TokenClassificationResult:
    model: str
    entities: List[List[EntitySpan]]  #: per input, by start


@dataclass(frozen=True)
class TextChunk:
    text: str
    start: int  #: [start, end) in code points of the (cleaned) input
    end: int
    score: float  #: of the separator that ends the chunk; 0 for the last


@dataclass(frozen=True)
class ChunkedText:
    chunks: List[TextChunk]  #: concatenated, they are the (cleaned) input exactly
    windows: int  #: model windows the text needed
    tokens: int


@dataclass(frozen=True)
class ChunkingResult:
    model: str
    results: List[ChunkedText]  #: one per input, in input order


@dataclass(frozen=True)
class PullResult:
    """The outcome of ``pull()``: the model's snapshot folder in the Hugging Face cache."""

    model: str
    path: str
