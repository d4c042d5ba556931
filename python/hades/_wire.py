"""The JSON of the protocol (docs/protocol.md): request bodies out, typed answers in.

Shared by the blocking and the asyncio client. A malformed answer becomes IoError naming the route,
an error answer the HadesError subclass of its code; neither escapes as KeyError or
JSONDecodeError.
"""

import json
import os
import time
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, TypeVar, Union

from .errors import (HadesError, InputInvalidError, InvalidArgumentError, IoError, code_for_status,
                     error_for_code)
from ._http import Response
from .types import (ChunkedText, ChunkingResult, Classification, ClassificationResult,
                    ClassScore, EmbeddingResult, EntitySpan, HealthStatus, LoadedModel,
                    RerankHit, RerankResult, ServiceStatus, SparseEmbedding, SparseEmbeddingResult,
                    TextChunk, TokenClassificationResult, TokenEncoding, TokenizationResult)

T = TypeVar("T")

_LOADED_MODEL_FIELDS = {
    "id": str, "state": str, "device": str, "kind": str, "model_type": str, "dtype": str,
    "memory_bytes": int, "pinned": bool, "error": str, "progress": float, "downloaded_bytes": int,
    "total_bytes": int,
    "dimension": int, "max_sequence_length": int, "requests": int, "in_flight": int,
    "idle_seconds": float, "default_prompt_name": str,
}
# Fields whose JSON name is not their name here (include/hades/types.hpp's names).
_LOADED_MODEL_RENAMED = {"keep_alive": ("keep_alive_seconds", float)}


# ---- requests -------------------------------------------------------------------------------

def model_reference(model_id: str) -> str:
    """A model id as the service must see it: a local folder named by a relative path becomes
    absolute, since the service runs from "/" (a folder comes first, as in Hugging Face's
    from_pretrained); anything else travels as it is."""
    if not isinstance(model_id, str) or not model_id:
        raise InvalidArgumentError(f"a model id must be a non-empty string, got {model_id!r}")
    if model_id.startswith("/") or not os.path.isdir(model_id):
        return model_id
    return os.path.normpath(os.path.abspath(model_id))


def text_list(texts: Sequence[str], what: str = "texts") -> List[str]:
    """TEXTS as a list of strings; one string alone is one text, not its characters."""
    if isinstance(texts, str):
        return [texts]
    out = list(texts)
    for text in out:
        if not isinstance(text, str):
            raise InvalidArgumentError(f"{what} must be strings, got {type(text).__name__}")
    return out


def dump(body: Dict[str, Any]) -> bytes:
    """BODY as JSON bytes. JSON text must be UTF-8, so a str that cannot be encoded (a lone
    surrogate) is refused here with the code the service gives such input."""
    try:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError as error:
        raise InputInvalidError(f"an input is not valid UTF-8: {error}") from None


KeepAlive = Union[str, int, float, None]


def load_body(model_id: str, device: Optional[str], pin: bool, dtype: Optional[str],
              keep_alive: KeepAlive = None, default_prompt_name: Optional[str] = None) -> bytes:
    body: Dict[str, Any] = {"model": model_reference(model_id), "pin": bool(pin)}
    if device:
        body["device"] = device
    if dtype:
        body["dtype"] = dtype
    if keep_alive is not None and keep_alive != "":
        if isinstance(keep_alive, bool) or not isinstance(keep_alive, (str, int, float)):
            raise InvalidArgumentError(f"keep_alive must be seconds or a duration such as '5m', "
                                       f"got {keep_alive!r}")
        body["keep_alive"] = keep_alive
    if default_prompt_name is not None:
        body["default_prompt_name"] = _string("default_prompt_name", default_prompt_name)
    return dump(body)


def embed_body(model_id: str, texts: Sequence[str], normalize: Optional[bool], truncate: bool,
               pooling: Optional[str], prompt: Optional[str] = None,
               prompt_name: Optional[str] = None, dimensions: Optional[int] = None,
               truncation_direction: Optional[str] = None) -> bytes:
    body: Dict[str, Any] = {"model": model_reference(model_id), "inputs": text_list(texts)}
    if normalize is not None:
        body["normalize"] = bool(normalize)
    body["truncate"] = bool(truncate)
    if truncation_direction is not None:
        body["truncation_direction"] = _string("truncation_direction", truncation_direction)
    if pooling:
        body["pooling"] = pooling
    if prompt is not None:  # "" is a prompt too: none, over the model's default prompt
        body["prompt"] = _string("prompt", prompt)
    if prompt_name is not None:
        body["prompt_name"] = _string("prompt_name", prompt_name)
    if dimensions is not None:
        body["dimensions"] = _whole_number("dimensions", dimensions)
    return dump(body)


def _string(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{name} must be a string, got {type(value).__name__}")
    return value


def _whole_number(name: str, value: Any) -> int:
    """VALUE as an int, when it is one (not a bool, not a float); the service checks its range."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(f"{name} must be a whole number, got {value!r}")
    return int(value)


def inputs_body(model_id: str, texts: Sequence[str], **options: Any) -> bytes:
    """{"model", "inputs"} and each OPTION that is not None."""
    body: Dict[str, Any] = {"model": model_reference(model_id), "inputs": text_list(texts)}
    body.update((name, value) for name, value in options.items() if value is not None)
    return dump(body)


def rerank_body(model_id: str, query: str, documents: Sequence[str], raw_scores: bool,
                top_n: Optional[int] = None, return_documents: bool = False) -> bytes:
    if not isinstance(query, str):
        raise InvalidArgumentError(f"the query must be a string, got {type(query).__name__}")
    body: Dict[str, Any] = {"model": model_reference(model_id), "query": query,
                            "documents": text_list(documents, "documents")}
    if raw_scores:
        body["raw_scores"] = True
    if top_n is not None:
        body["top_n"] = _whole_number("top_n", top_n)
    if return_documents:
        body["return_documents"] = True
    return dump(body)


class Call(NamedTuple):
    """One route's request and how to read its answer: what both clients send for a method."""

    method: str
    target: str
    body: bytes
    parse: Callable[[Dict[str, Any]], Any]
    control: bool = False  # health and status: the short timeout, never an autostart

    @property
    def route(self) -> str:
        return f"{self.method} {self.target}"


def health_call() -> Call:
    return Call("GET", "/health", b"", parse_health, control=True)


def status_call() -> Call:
    return Call("GET", "/v1/status", b"", parse_status, control=True)


def load_call(model_id: str, device: Optional[str], pin: bool, dtype: Optional[str],
              keep_alive: KeepAlive = None, default_prompt_name: Optional[str] = None) -> Call:
    body = load_body(model_id, device, pin, dtype, keep_alive, default_prompt_name)
    return Call("POST", "/v1/models/load", body, lambda v: loaded_model(v["model"]))


def unload_call(model_id: str) -> Call:
    return Call("POST", "/v1/models/unload", dump({"model": model_reference(model_id)}),
                lambda v: None)


def models_call() -> Call:
    return Call("GET", "/v1/models", b"", parse_models)


def embed_call(model_id: str, texts: Sequence[str], normalize: Optional[bool], truncate: bool,
               pooling: Optional[str], as_numpy: bool, prompt: Optional[str] = None,
               prompt_name: Optional[str] = None, dimensions: Optional[int] = None,
               truncation_direction: Optional[str] = None) -> Call:
    body = embed_body(model_id, texts, normalize, truncate, pooling, prompt, prompt_name,
                      dimensions, truncation_direction)
    return Call("POST", "/v1/embed", body, lambda v: parse_embedding(v, as_numpy))


def embed_sparse_call(model_id: str, texts: Sequence[str], truncate: bool,
                      prompt: Optional[str] = None, prompt_name: Optional[str] = None,
                      truncation_direction: Optional[str] = None) -> Call:
    body = embed_body(model_id, texts, None, truncate, None, prompt, prompt_name, None,
                      truncation_direction)
    return Call("POST", "/v1/embed-sparse", body, parse_sparse_embedding)


def tokenize_call(model_id: str, texts: Sequence[str], add_special_tokens: bool) -> Call:
    return Call("POST", "/v1/tokenize",
                inputs_body(model_id, texts, add_special_tokens=bool(add_special_tokens)),
                parse_tokenization)


def classify_call(model_id: str, texts: Sequence[str], pairs: Optional[Sequence[str]]) -> Call:
    pair_list = text_list(pairs, "pairs") if pairs else None
    return Call("POST", "/v1/classify", inputs_body(model_id, texts, pairs=pair_list),
                parse_classification)


def rerank_call(model_id: str, query: str, documents: Sequence[str], raw_scores: bool,
                top_n: Optional[int] = None, return_documents: bool = False) -> Call:
    return Call("POST", "/v1/rerank",
                rerank_body(model_id, query, documents, raw_scores, top_n, return_documents),
                parse_rerank)


def token_classify_call(model_id: str, texts: Sequence[str], max_length: int) -> Call:
    return Call("POST", "/v1/token-classify",
                inputs_body(model_id, texts, max_length=max_length or None),
                parse_token_classification)


def chunk_call(model_id: str, texts: Sequence[str], max_length: int, clean: Optional[str],
               snap_to_whitespace: bool) -> Call:
    body = inputs_body(model_id, texts, max_length=max_length or None, clean=clean,
                       snap_to_whitespace=True if snap_to_whitespace else None)
    return Call("POST", "/v1/chunk", body, parse_chunking)


def raw_call(method: str, target: str, body: Any) -> Call:
    """Any route with BODY (a JSON-able value, bytes already encoded, or None); the answer as
    decoded JSON."""
    if body is None:
        data = b""
    elif isinstance(body, (bytes, bytearray)):
        data = bytes(body)
    else:
        data = dump(body)
    return Call(method, target, data, lambda v: v)


# ---- answers --------------------------------------------------------------------------------

def error_from_response(response: Response, what: str) -> HadesError:
    """The exception an error answer stands for: its code and message when it has the
    protocol's shape, else one from its status naming WHAT."""
    retry_after = _retry_after(response)
    try:
        value = json.loads(response.body)
        error = value["error"]
        code, message = error.get("code", ""), error.get("message")
        if not isinstance(code, str) or not code:
            code = code_for_status(response.status)
        if not isinstance(message, str):
            message = "(no message)"
        return error_for_code(code, message, response.status, retry_after)
    except (ValueError, TypeError, KeyError, AttributeError):
        text = response.body[:200].decode("utf-8", "replace")
        return error_for_code(code_for_status(response.status),
                              f"the service answered {what} with HTTP {response.status}: '{text}'",
                              response.status, retry_after)


def _retry_after(response: Response) -> Optional[float]:
    text = response.header("retry-after")
    return float(text) if text.isdigit() and len(text) < 4 else None


def delay_before_retry(response: Response, what: str, retry: int, retries: int,
                       deadline: float) -> float:
    """For an error RESPONSE to WHAT: the seconds to wait before sending the request again, the
    RETRY-th retry of at most RETRIES, or its error raised. Only ``overloaded`` is retried, after
    its Retry-After (else a backoff), while the DEADLINE allows."""
    error = error_from_response(response, what)
    if error.code != "overloaded" or retry >= retries:
        raise error
    seconds = _retry_after(response)
    delay = seconds if seconds is not None else 0.1 * (1 << min(retry, 5))
    if time.monotonic() + delay >= deadline:
        raise error
    return delay


def read_answer(body: bytes, route: str, read: Callable[[Dict[str, Any]], T]) -> T:
    """READ applied to the JSON object BODY; anything malformed is an IoError naming ROUTE."""
    try:
        value = json.loads(body)
    except ValueError:
        raise IoError(f"the service's answer to {route} is not JSON: "
                      f"'{body[:200].decode('utf-8', 'replace')}'") from None
    if not isinstance(value, dict):
        raise IoError(f"the service's answer to {route} is not a JSON object")
    try:
        return read(value)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
        raise IoError(f"unexpected answer from the service to {route}: "
                      f"{type(error).__name__}: {error}") from None


def loaded_model(m: Dict[str, Any]) -> LoadedModel:
    values = {name: kind(m[name]) for name, kind in _LOADED_MODEL_FIELDS.items()
              if m.get(name) is not None}
    values.update((name, kind(m[wire])) for wire, (name, kind) in _LOADED_MODEL_RENAMED.items()
                  if m.get(wire) is not None)
    return LoadedModel(**values)


def parse_models(v: Dict[str, Any]) -> List[LoadedModel]:
    return [loaded_model(m) for m in v.get("models") or []]


def parse_health(v: Dict[str, Any]) -> HealthStatus:
    status = str(v.get("status", ""))
    healthy = status == "ok"
    return HealthStatus(healthy=healthy, status=status, version=str(v.get("version", "")),
                        uptime_seconds=float(v.get("uptime_seconds") or 0.0),
                        message="" if healthy else f"the service reports status '{status}'")


def unhealthy(error: HadesError) -> HealthStatus:
    """The health of a service that could not be asked: "not running" or "error"."""
    status = "not running" if error.code == "connection_refused" else "error"
    return HealthStatus(healthy=False, status=status, message=str(error))


def parse_status(v: Dict[str, Any]) -> ServiceStatus:
    tcp = v.get("tcp")
    if not isinstance(tcp, dict):
        tcp = {}  # a service from before the TCP listener
    return ServiceStatus(
        running=bool(v.get("running", True)), socket=str(v.get("socket", "")),
        pid=int(v.get("pid") or 0), version=str(v.get("version", "")),
        uptime_seconds=float(v.get("uptime_seconds") or 0.0), device=str(v.get("device", "")),
        device_note=str(v.get("device_note") or ""),
        tcp_addresses=[str(a) for a in tcp.get("addresses") or []],
        tcp_api_key=bool(tcp.get("api_key", False)), models=parse_models(v),
        limits=dict(v.get("limits") or {}), stats=dict(v.get("stats") or {}))


def parse_embedding(v: Dict[str, Any], as_numpy: bool = False) -> EmbeddingResult:
    rows = v["embeddings"]
    if not isinstance(rows, list):
        raise TypeError("embeddings is not a list")
    if as_numpy:
        import numpy  # only when asked for: the package itself needs the standard library only

        rows = numpy.asarray(rows, dtype=numpy.float32)
    dimension = v.get("dimension")
    if dimension is None:
        dimension = len(rows[0]) if len(rows) else 0
    usage = v.get("usage") or {}
    return EmbeddingResult(model=str(v.get("model", "")), dimension=int(dimension),
                           tokens=int(usage.get("tokens") or 0), embeddings=rows)


def parse_sparse_embedding(v: Dict[str, Any]) -> SparseEmbeddingResult:
    rows = v["embeddings"]
    if not isinstance(rows, list):
        raise TypeError("embeddings is not a list")
    usage = v.get("usage") or {}
    return SparseEmbeddingResult(
        model=str(v.get("model", "")), dimension=int(v.get("dimension") or 0),
        tokens=int(usage.get("tokens") or 0),
        embeddings=[SparseEmbedding(indices=[int(i) for i in row["indices"]],
                                    values=[float(x) for x in row["values"]]) for row in rows])


def parse_tokenization(v: Dict[str, Any]) -> TokenizationResult:
    encodings = [TokenEncoding(ids=list(e.get("ids") or []), tokens=list(e.get("tokens") or []),
                               offsets=[(int(a), int(b)) for a, b in e.get("offsets") or []],
                               type_ids=list(e.get("type_ids") or []))
                 for e in v["encodings"]]
    return TokenizationResult(model=str(v.get("model", "")), encodings=encodings)


def parse_classification(v: Dict[str, Any]) -> ClassificationResult:
    results = [Classification(label=str(r["label"]), score=float(r["score"]),
                              scores=[ClassScore(str(s["label"]), float(s["score"]))
                                      for s in r["scores"]])
               for r in v["results"]]
    return ClassificationResult(model=str(v.get("model", "")), results=results)


def parse_rerank(v: Dict[str, Any]) -> RerankResult:
    hits = [RerankHit(index=int(r["index"]), score=float(r["score"]),
                      document=_document_text(r.get("document"))) for r in v["results"]]
    return RerankResult(model=str(v.get("model", "")), results=hits)


def _document_text(document: Any) -> Optional[str]:
    """A result's {"text": ...} (return_documents) as its text; None when it has none."""
    if document is None:
        return None
    return str(document["text"])


def parse_token_classification(v: Dict[str, Any]) -> TokenClassificationResult:
    entities = [[EntitySpan(label=str(e["label"]), score=float(e["score"]), start=int(e["start"]),
                            end=int(e["end"])) for e in spans]
                for spans in v["results"]]
    return TokenClassificationResult(model=str(v.get("model", "")), entities=entities)


def parse_chunking(v: Dict[str, Any]) -> ChunkingResult:
    results = [ChunkedText(chunks=[TextChunk(text=str(c["text"]), start=int(c["start"]),
                                             end=int(c["end"]), score=float(c.get("score") or 0))
                                   for c in r["chunks"]],
                           windows=int(r.get("windows") or 0), tokens=int(r.get("tokens") or 0))
               for r in v["results"]]
    return ChunkingResult(model=str(v.get("model", "")), results=results)
