"""hades.aio: the asyncio twin of the client, for code that runs in an event loop.

    async with hades.aio.HaystackModelEngine(stop_on_exit="if_started") as engine:
        await engine.load_model("sentence-transformers/all-MiniLM-L6-v2")
        result = await engine.embed("sentence-transformers/all-MiniLM-L6-v2", ["hello"])

Same names, arguments, results and errors as ``hades.ModelClient`` / ``hades.HaystackModelEngine``,
with ``async`` methods. Requests travel on asyncio's own streams (Unix-socket, or TCP with ``url``),
kept alive and reused; many tasks may share one client (within one event loop). Close it
(``await client.close()`` or ``async with``) before its loop ends: a closed loop cannot close its
streams. Starting and stopping the service take file locks and wait for a process, which have no
asyncio form: those run in a worker thread (asyncio.to_thread), as does nothing else.
"""

import asyncio
import sys
import time
from typing import Any, List, Optional, Sequence, Tuple, Union

from . import _wire
from ._connection import Endpoint, connect_error, tcp_connect_error
from ._http import Exactly, Response, Step, Until, read_response
from ._pull import ProgressCallback, pull_arguments, pull_event, pull_outcome
from ._service import check_local, find_hades_binary, service_pid, start_service, stop_service
from .client import AUTOSTART_ATTEMPTS, ClientBase
from .engine import stop_policy
from .errors import HadesError, IoError, ServiceNotRunningError
from .types import (ChunkingResult, ClassificationResult, EmbeddingResult, HealthStatus,
                    LoadedModel, PullResult, RerankResult, ServiceStatus, SparseEmbeddingResult,
                    StartResult, StopResult, TokenClassificationResult, TokenizationResult)

__all__ = ["ModelClient", "HaystackModelEngine"]

_Stream = Tuple[asyncio.StreamReader, asyncio.StreamWriter]
MAX_IDLE_CONNECTIONS = 16


class _Closed(Exception):
    """The peer closed the connection before the first byte of an answer."""


async def _connect_tcp(endpoint: Endpoint, timeout: float) -> _Stream:
    parts = endpoint.parts
    assert parts is not None
    context = endpoint.ssl_context()
    try:
        return await asyncio.wait_for(
            asyncio.open_connection(parts.host, parts.port, ssl=context,
                                    server_hostname=parts.host if context else None), timeout)
    except asyncio.TimeoutError:
        raise IoError(f"timed out waiting for a connection to {endpoint.url}") from None
    except OSError as error:
        raise tcp_connect_error(error, endpoint.url, parts.host) from None


async def _connect(endpoint: Endpoint, timeout: float) -> _Stream:
    if endpoint.tcp:
        return await _connect_tcp(endpoint, timeout)
    path = endpoint.socket_path
    deadline = time.monotonic() + timeout
    backoff = 0.001
    while True:
        try:
            return await asyncio.wait_for(asyncio.open_unix_connection(path),
                                          max(deadline - time.monotonic(), 0.001))
        except asyncio.TimeoutError:
            raise IoError(f"timed out waiting for a connection to {path}") from None
        except OSError as error:
            failure = connect_error(error, path)
            if failure is not None:
                raise failure from None
        # A full accept queue (EAGAIN) drains quickly: try again, waiting longer each time.
        if time.monotonic() + backoff >= deadline:
            raise IoError(f"timed out connecting to {path}: the service's accept queue stayed "
                          "full")
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, 0.05)


async def _read_step(reader: asyncio.StreamReader, step: Step, first: bool) -> bytes:
    try:
        if isinstance(step, Until):
            return await reader.readuntil(step.separator)
        if isinstance(step, Exactly):
            return await reader.readexactly(step.count)
        return await reader.read(step.limit + 1)
    except asyncio.IncompleteReadError as error:
        if first and not error.partial:
            raise _Closed() from None
        raise IoError("malformed HTTP response from the service: the connection closed in the "
                      "middle of the answer") from None
    except asyncio.LimitOverrunError:
        raise IoError("malformed HTTP response from the service: headers longer than 64 KiB") \
            from None
    except ConnectionResetError:
        if first:
            raise _Closed() from None
        raise IoError("the service reset the connection in the middle of its answer") from None
    except OSError as error:
        raise IoError(f"cannot read the service's answer: {error.strerror or error}") from None


async def _exchange(stream: _Stream, request: bytes) -> Optional[Response]:
    """Sends REQUEST and reads its answer; None when the peer closed without answering."""
    reader, writer = stream
    writer.write(request)
    try:
        await writer.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass  # a server may answer early and close: read what it said
    except OSError as error:
        raise IoError(f"cannot send a request: {error.strerror or error}") from None
    steps = read_response()
    try:
        step = next(steps)
        first = True
        while True:
            data = await _read_step(reader, step, first)
            first = False
            step = steps.send(data)
    except StopIteration as done:
        return done.value
    except _Closed:
        return None


def _close(stream: _Stream) -> None:
    stream[1].close()


class ModelClient(ClientBase):
    """The asyncio twin of hades.ModelClient (same keywords). Use it from one event loop."""

    def __init__(self, *args: Any, **keywords: Any) -> None:
        super().__init__(*args, **keywords)
        self._idle: List[_Stream] = []

    async def close(self) -> None:
        """Closes the idle connections; the client stays usable."""
        idle, self._idle = self._idle, []
        for stream in idle:
            _close(stream)
        for _, writer in idle:
            try:
                await writer.wait_closed()
            except OSError:
                pass

    async def __aenter__(self) -> "ModelClient":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # ---- transport --------------------------------------------------------------------------

    async def _roundtrip(self, request: bytes, what: str) -> Response:
        while True:
            reused = bool(self._idle)
            if reused:
                stream = self._idle.pop()
            else:
                stream = await _connect(self._endpoint, self._options.connect_timeout)
            try:
                response = await _exchange(stream, request)
            except BaseException:
                _close(stream)
                raise
            if response is None:
                _close(stream)
                if reused:
                    continue
                raise IoError(f"the service closed the connection without answering {what}")
            if response.keep_alive and len(self._idle) < MAX_IDLE_CONNECTIONS:
                self._idle.append(stream)
            else:
                _close(stream)
            return response

    async def _send(self, call: _wire.Call, timeout: float) -> bytes:
        what = f"{call.route} on {self.address}"
        request = self._endpoint.format_request(call.method, call.target, call.body)
        deadline = time.monotonic() + timeout
        retry = 0
        while True:
            left = deadline - time.monotonic()
            try:
                response = await asyncio.wait_for(self._roundtrip(request, what), max(left, 0))
            except asyncio.TimeoutError:
                raise IoError(f"timed out waiting for {what}") from None
            if 200 <= response.status < 300:
                return response.body
            await asyncio.sleep(_wire.delay_before_retry(response, what, retry,
                                                      self._options.overloaded_retries, deadline))
            retry += 1

    async def _run(self, call: _wire.Call) -> Any:
        timeout = self._options.control_timeout if call.control else self._options.request_timeout
        try:
            return _wire.read_answer(await self._send(call, timeout), call.route, call.parse)
        except ServiceNotRunningError:
            if call.control or not self._options.autostart:
                raise
        # The start lock makes one daemon however many clients (threads, processes) race.
        await asyncio.to_thread(start_service, self._options)
        attempt = 1
        while True:
            try:
                return _wire.read_answer(await self._send(call, timeout), call.route, call.parse)
            except ServiceNotRunningError:
                if attempt >= AUTOSTART_ATTEMPTS:
                    raise
            await asyncio.sleep(0.05 * (1 << attempt))
            attempt += 1

    async def request(self, method: str, target: str, body: Any = None) -> Any:
        """See hades.ModelClient.request."""
        return await self._run(_wire.raw_call(method, target, body))

    # ---- service ----------------------------------------------------------------------------

    async def health(self) -> HealthStatus:
        return await self._run(_wire.health_call())

    async def health_check(self) -> HealthStatus:
        try:
            return await self.health()
        except HadesError as error:
            return _wire.unhealthy(error)

    async def status(self) -> ServiceStatus:
        return await self._run(_wire.status_call())

    # ---- models (see hades.ModelClient for each method's meaning) ----------------------------

    async def load_model(self, model_id: str, device: Optional[str] = None, pin: bool = False,
                         dtype: Optional[str] = None,
                         keep_alive: Union[str, float, None] = None,
                         default_prompt_name: Optional[str] = None) -> LoadedModel:
        return await self._run(_wire.load_call(model_id, device, pin, dtype, keep_alive,
                                               default_prompt_name))

    async def unload_model(self, model_id: str) -> None:
        await self._run(_wire.unload_call(model_id))

    async def get_loaded_models(self) -> List[LoadedModel]:
        return await self._run(_wire.models_call())

    async def embed(self, model_id: str, texts: Sequence[str], *,
                    normalize: Optional[bool] = None, truncate: bool = True,
                    pooling: Optional[str] = None, as_numpy: bool = False,
                    prompt: Optional[str] = None, prompt_name: Optional[str] = None,
                    dimensions: Optional[int] = None,
                    truncation_direction: Optional[str] = None) -> EmbeddingResult:
        return await self._run(_wire.embed_call(model_id, texts, normalize, truncate, pooling,
                                                as_numpy, prompt, prompt_name, dimensions,
                                                truncation_direction))

    async def embed_sparse(self, model_id: str, texts: Sequence[str], *, truncate: bool = True,
                           prompt: Optional[str] = None, prompt_name: Optional[str] = None,
                           truncation_direction: Optional[str] = None) -> SparseEmbeddingResult:
        return await self._run(_wire.embed_sparse_call(model_id, texts, truncate, prompt,
                                                       prompt_name, truncation_direction))

    async def tokenize(self, model_id: str, texts: Sequence[str], *,
                       add_special_tokens: bool = True) -> TokenizationResult:
        return await self._run(_wire.tokenize_call(model_id, texts, add_special_tokens))

    async def classify(self, model_id: str, texts: Sequence[str],
                       pairs: Optional[Sequence[str]] = None) -> ClassificationResult:
        return await self._run(_wire.classify_call(model_id, texts, pairs))

    async def rerank(self, model_id: str, query: str, documents: Sequence[str], *,
                     raw_scores: bool = False, top_n: Optional[int] = None,
                     return_documents: bool = False) -> RerankResult:
        return await self._run(_wire.rerank_call(model_id, query, documents, raw_scores, top_n,
                                                 return_documents))

    async def token_classify(self, model_id: str, texts: Sequence[str], *,
                             max_length: int = 0) -> TokenClassificationResult:
        return await self._run(_wire.token_classify_call(model_id, texts, max_length))

    async def chunk(self, model_id: str, texts: Sequence[str], *, max_length: int = 0,
                    clean: Optional[str] = None,
                    snap_to_whitespace: bool = False) -> ChunkingResult:
        return await self._run(_wire.chunk_call(model_id, texts, max_length, clean,
                                                snap_to_whitespace))

    async def pull(self, model_id: str, revision: Optional[str] = None, *,
                   progress: Optional[ProgressCallback] = None) -> PullResult:
        """See hades.ModelClient.pull; ``hades pull`` runs as an asyncio subprocess."""
        binary = find_hades_binary(self._options.hades_binary)
        try:
            process = await asyncio.create_subprocess_exec(
                *pull_arguments(binary, model_id, revision), stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        except OSError as error:
            raise IoError(f"cannot run {binary}: {error.strerror or error}") from None
        assert process.stdout is not None and process.stderr is not None
        errors = asyncio.ensure_future(process.stderr.read())
        last = None
        async for line in process.stdout:
            last = pull_event(line.decode("utf-8", "replace"), progress) or last
        returncode = await process.wait()
        stderr = (await errors).decode("utf-8", "replace")
        return pull_outcome(model_id, returncode, last, stderr)


class HaystackModelEngine(ModelClient):
    """The asyncio twin of hades.HaystackModelEngine: ``async with`` starts the service if
    needed and stops it at the end (STOP_ON_EXIT as there)."""

    def __init__(self, socket_path: Optional[str] = None, autostart: Optional[bool] = None, *,
                 stop_on_exit: Union[bool, str, None] = None, **keywords: Any) -> None:
        super().__init__(socket_path, autostart, **keywords)
        self._stop_policy = stop_policy(stop_on_exit, self.url)
        self._entered: List[StartResult] = []

    @property
    def started(self) -> Optional[StartResult]:
        """What the innermost ``async with`` block's start found; None outside one."""
        return self._entered[-1] if self._entered else None

    @property
    def client(self) -> "HaystackModelEngine":
        """The engine itself: unlike the blocking engine, it is its own client."""
        return self

    async def start(self) -> StartResult:
        check_local(self._options, "start")
        return await asyncio.to_thread(start_service, self._options)

    async def stop(self) -> StopResult:
        check_local(self._options, "stop")
        await self.close()  # kept-alive connections die with the daemon
        return await asyncio.to_thread(stop_service, self._options)

    async def restart(self) -> StartResult:
        await self.stop()
        return await self.start()

    async def status(self) -> ServiceStatus:
        try:
            return await super().status()
        except ServiceNotRunningError:
            if self.url:
                return ServiceStatus(running=False, socket="")
            pid = await asyncio.to_thread(service_pid, self._options)
            return ServiceStatus(running=False, socket=self.socket_path, pid=pid or 0)

    async def __aenter__(self) -> "HaystackModelEngine":
        if self.url:  # a remote service is not started here: it must answer already
            started = StartResult(already_running=True, pid=(await super().status()).pid)
        else:
            started = await self.start()
        self._entered.append(started)
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        started = self._entered.pop()
        if self._stop_policy == "never" or (self._stop_policy == "if_started"
                                            and started.already_running):
            await self.close()
            return
        try:
            await self.stop()
        except HadesError as error:
            if exc is None:
                raise
            print(f"hades: could not stop the service at {self.address}: {error}",
                  file=sys.stderr)
