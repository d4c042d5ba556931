"""hades: the Python client of the hades model engine.

hades is a local service (``hades serve``) that keeps Hugging Face transformer models in memory and
serves embeddings, classification, reranking, token classification and chunking over HTTP/1.1 on
a Unix socket (and, when started with a listener, on TCP with an API key: ``url=``/``api_key=``,
``HADES_URL``/``HADES_API_KEY``). This package is its client, in the standard library only:

    import hades

    with hades.HaystackModelEngine() as engine:      # starts the service, stops it at the end
        engine.load_model("sentence-transformers/all-MiniLM-L6-v2")
        result = engine.embed("sentence-transformers/all-MiniLM-L6-v2", ["Hello, world!"])
        print(result.dimension, result.embeddings[0][:4])

``hades.ModelClient`` has the model methods alone; ``hades.aio`` is the asyncio twin. Errors are
``hades.HadesError``, with one subclass per stable error code.
"""

from .client import ModelClient
from .engine import HaystackModelEngine, ModelEngine
from .errors import (ERROR_CLASSES, AccessDeniedError, ConflictError, HadesError,
                     InputInvalidError, InternalError, InvalidArgumentError, InvalidModelError,
                     IoError, LoadingError, MethodNotAllowedError, ModelNotFoundError,
                     NetworkError, NotFoundError,
                     OutOfMemoryError, OverloadedError, ServiceNotRunningError,
                     ShuttingDownError, TooLargeError, UnauthorizedError,
                     UnsupportedError)
from .options import DEFAULT_SOCKET_PATH, ClientOptions, resolve_client_options
from .types import (ChunkedText, ChunkingResult, Classification, ClassificationResult,
                    ClassScore, EmbeddingResult, EntitySpan, HealthStatus, LoadedModel,
                    PullResult, RerankHit, RerankResult, ServiceStatus, SparseEmbedding,
                    SparseEmbeddingResult, StartResult, StopResult, TextChunk, TokenClassificationResult, TokenEncoding, TokenizationResult)

__version__ = "0.1.0"

__all__ = [
    "ModelEngine", "HaystackModelEngine", "ModelClient", "ClientOptions", "resolve_client_options",
    "DEFAULT_SOCKET_PATH",
    # results
    "LoadedModel", "ServiceStatus", "HealthStatus", "StartResult", "StopResult",
    "EmbeddingResult", "SparseEmbedding", "SparseEmbeddingResult", "TokenEncoding", "TokenizationResult", "ClassScore", "Classification",
    "ClassificationResult", "RerankHit", "RerankResult", "EntitySpan",
    "TokenClassificationResult", "TextChunk", "ChunkedText", "ChunkingResult", "PullResult",
    # errors
    "HadesError", "ERROR_CLASSES", "InvalidArgumentError", "NotFoundError",
    "MethodNotAllowedError", "ModelNotFoundError",
    "InvalidModelError", "UnsupportedError", "InputInvalidError", "TooLargeError", "ConflictError",
    "OutOfMemoryError", "OverloadedError", "LoadingError", "ShuttingDownError", "IoError",
    "ServiceNotRunningError", "AccessDeniedError", "UnauthorizedError", "NetworkError",
    "InternalError",
]
