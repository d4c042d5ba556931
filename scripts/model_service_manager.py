#!/usr/bin/env python3
"""The seed's command line, in Python, on the `hades` package: the verbs of the `hades` program with
the same output, the same `--json` and `--jsonl` and the same exit codes (tools/hades/*.cpp).

    python scripts/model_service_manager.py start | load MODEL | list | status | unload MODEL | stop
    python scripts/model_service_manager.py restart | health | embed MODEL TEXT... | tokenize ...
    python scripts/model_service_manager.py classify | rerank | chunk | pull MODEL | demo | serve

Exit status: 0 ok, 1 error (printed as `hades: error [CODE]: MESSAGE`), 2 usage, 3 `status` when
the service is not running. Runs from a checkout without installing the package. `serve` runs the
`hades` program itself ($HADES_BIN, else PATH), since the service is that program.
"""

import argparse
import decimal
import json
import math
import os
import shutil
import struct
import sys
from typing import Any, Callable, Dict, Iterator, List, NoReturn, Optional, Sequence, Tuple

# In a checkout the package beside this script comes first, so that the two always match (an
# installed hades of another version would not); elsewhere, the installed one.
CHECKOUT_PACKAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python")
if os.path.isfile(os.path.join(CHECKOUT_PACKAGE, "hades", "__init__.py")):
    sys.path.insert(0, os.path.normpath(CHECKOUT_PACKAGE))
import hades  # noqa: E402 (after the path it may come from)

from hades._service import find_hades_binary  # the same search as the package's autostart

CHECKOUT_BINARY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "hades")

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_RUNNING = 3  # LSB: `status` of a service that is not running
DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


# ---- output as the C++ program writes it ----------------------------------------------------

def print_json(value: Any) -> None:
    """VALUE as one line of JSON, as nlohmann::json dumps it: keys sorted, no spaces, UTF-8."""
    print(json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False))


def as_float32(value: float) -> float:
    """VALUE through a C float, as the C++ program holds scores before printing them."""
    return struct.unpack("f", struct.pack("f", value))[0]


def float_text(value: float) -> str:
    """A float of the wire (the shortest decimal of a float32) as std::to_chars writes a float:
    those digits in fixed or scientific notation, whichever is shorter (fixed on a tie)."""
    if not math.isfinite(value):
        return json.dumps(value)
    sign, digit_tuple, exponent = decimal.Decimal(repr(value)).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    minus = "-" if sign else ""
    if digits == "0":
        return minus + "0"
    point = len(digits) + int(exponent)  # digits before the decimal point
    if exponent >= 0:
        fixed = digits + "0" * int(exponent)
    elif point > 0:
        fixed = digits[:point] + "." + digits[point:]
    else:
        fixed = "0." + "0" * -point + digits
    power = point - 1
    scientific = (digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
                  + f"e{'-' if power < 0 else '+'}{abs(power):02d}")
    return minus + (fixed if len(fixed) <= len(scientific) else scientific)


def human_bytes(size: int) -> str:
    """"86.7 MiB"."""
    units = ["B", "KiB", "MiB", "GiB", "TiB"]
    value, unit = float(size), 0
    while value >= 1024.0 and unit + 1 < len(units):
        value /= 1024.0
        unit += 1
    return f"{value:.0f} {units[unit]}" if unit == 0 else f"{value:.1f} {units[unit]}"


def human_duration(seconds: float) -> str:
    """"12.3s", "3m 12s", "2h 5m", "1d 4h"."""
    total = int(seconds)
    if total < 60:
        return f"{seconds:.1f}s"
    if total < 3600:
        return f"{total // 60}m {total % 60}s"
    if total < 86400:
        return f"{total // 3600}h {total % 3600 // 60}m"
    return f"{total // 86400}d {total % 86400 // 3600}h"


def pad(text: str, width: int) -> str:
    """TEXT left-aligned in WIDTH bytes, as printf's %-*s counts them."""
    return text + " " * max(0, width - len(text.encode("utf-8")))


def print_models_table(models: Sequence[hades.LoadedModel], indent: str = "") -> None:
    if not models:
        print(f"{indent}no models loaded")
        return
    width = max([5] + [len(m.id.encode("utf-8")) for m in models])
    print(f"{indent}{pad('MODEL', width)}  {'STATE':<11}  {'DEVICE':<7}  {'DTYPE':<5}  "
          f"{'TYPE':<11}  {'TASK':<23}  {'MEMORY':>10}  {'PINNED':<6}  {'REQUESTS':>8}  {'IDLE':<8}  KEEP ALIVE")
    for m in models:
        keep_alive = ("forever" if m.keep_alive_seconds < 0
                      else human_duration(m.keep_alive_seconds))
        print(f"{indent}{pad(m.id, width)}  {m.state:<11}  {m.device:<7}  {m.dtype:<5}  "
              f"{m.model_type or '-':<11}  {m.kind or '-':<23}  {human_bytes(m.memory_bytes):>10}  {'yes' if m.pinned else 'no':<6}  "
              f"{m.requests:>8}  {human_duration(m.idle_seconds):<8}  {keep_alive}")
        if m.default_prompt_name:
            print(f"{indent}  default prompt: {m.default_prompt_name}")
        if m.error:
            print(f"{indent}  error: {m.error}")
        if m.state == "downloading":
            print(f"{indent}  downloading: {100.0 * m.progress:.0f}% "
                  f"({human_bytes(m.downloaded_bytes)} of {human_bytes(m.total_bytes)})")


def model_json(m: hades.LoadedModel) -> Dict[str, Any]:
    out: Dict[str, Any] = {
        "id": m.id, "state": m.state, "device": m.device, "kind": m.kind,
        "model_type": m.model_type, "dtype": m.dtype,
        "memory_bytes": m.memory_bytes, "pinned": m.pinned, "dimension": m.dimension,
        "max_sequence_length": m.max_sequence_length, "requests": m.requests,
        "in_flight": m.in_flight, "idle_seconds": m.idle_seconds,
        "keep_alive": m.keep_alive_seconds}
    if m.default_prompt_name:
        out["default_prompt_name"] = m.default_prompt_name
    if m.error:
        out["error"] = m.error
    if m.state == "downloading":
        out.update(progress=m.progress, downloaded_bytes=m.downloaded_bytes,
                   total_bytes=m.total_bytes)
    return out


def status_json(status: hades.ServiceStatus) -> Dict[str, Any]:
    if not status.running:
        out: Dict[str, Any] = {"running": False, "socket": status.socket}
        if status.pid:
            out["pid"] = status.pid  # a daemon that is still starting
        return out
    return {"running": True, "pid": status.pid, "socket": status.socket,
            "version": status.version, "uptime_seconds": status.uptime_seconds,
            "device": status.device, "device_note": status.device_note,
            "tcp": {"addresses": status.tcp_addresses, "api_key": status.tcp_api_key},
            "models": [model_json(m) for m in status.models], "limits": status.limits,
            "stats": status.stats}


# Where no service runs yet, the limits of the one a client would start: `hades serve`'s defaults.
DEFAULT_MAX_INPUTS = 1024
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024


def request_limits(client: hades.ModelClient) -> Tuple[int, int]:
    """The service's max_inputs and max_body_bytes, as GET /v1/status reports them."""
    try:
        limits = client.status().limits
    except hades.ServiceNotRunningError:
        limits = {}
    return (int(limits.get("max_inputs") or DEFAULT_MAX_INPUTS),
            int(limits.get("max_body_bytes") or DEFAULT_MAX_BODY_BYTES))


def json_bytes(text: str) -> int:
    """TEXT's bytes in a request body: as JSON, with the comma before it."""
    return len(json.dumps(text, ensure_ascii=False).encode("utf-8", "replace")) + 1


def stdin_lines(max_bytes: int) -> Iterator[str]:
    """Stdin's lines without their ends, each read no further than MAX_BYTES."""
    number = 0
    while True:
        line = sys.stdin.buffer.readline(max_bytes + 1)
        if not line:
            return
        number += 1
        body = line[:-1] if line.endswith(b"\n") else line
        if len(body) > max_bytes:
            raise hades.TooLargeError(f"line {number} of stdin is over {max_bytes} bytes, the "
                                      "largest request body the service takes")
        yield body.decode("utf-8").removesuffix("\r")


def text_batches(texts: List[str], model: str,
                 client: hades.ModelClient) -> Iterator[Tuple[int, List[str], bool]]:
    """TEXTS, or stdin's lines when TEXTS is just "-", as (first index, texts, last) per request:
    at most the service's max_inputs texts and max_body_bytes of JSON each
    (tools/hades/text_batches.cpp)."""
    max_inputs, max_body = request_limits(client)
    source = stdin_lines(max_body) if texts == ["-"] else iter(texts)
    envelope = json_bytes(model) + json_bytes(os.path.abspath(model)) + 1024
    held = next(source, None)
    if held is None and texts == ["-"]:
        raise hades.InvalidArgumentError("no texts on stdin")
    first = 0
    while held is not None:
        batch, size = [], envelope
        while held is not None and len(batch) < max(max_inputs, 1):
            if size + json_bytes(held) > max_body:
                if not batch:
                    raise hades.TooLargeError(
                        f"text {first + 1} takes {json_bytes(held)} bytes as JSON; the service "
                        f"takes requests of at most {max_body} bytes")
                break
            size += json_bytes(held)
            batch.append(held)
            held = next(source, None)
        yield first, batch, held is None
        first += len(batch)


def print_json_item(index: int, head: str, item: str) -> None:
    """An item of --json's one object, whose array grows as answers come (HEAD before the first)."""
    sys.stdout.write((head if index == 0 else ",") + item)


def json_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# ---- service verbs (tools/hades/service_commands.cpp) ---------------------------------------

def engine_of(args: argparse.Namespace, **keywords: Any) -> hades.HaystackModelEngine:
    return hades.HaystackModelEngine(socket_path=args.socket or None, **keywords)


def run_start(args: argparse.Namespace) -> int:
    engine = engine_of(args)
    started = engine.start()
    if args.json:
        print_json({"started": not started.already_running,
                    "already_running": started.already_running, "pid": started.pid,
                    "socket": engine.socket_path})
    elif started.already_running:
        print(f"already running (pid {started.pid})")
    else:
        print(f"started (pid {started.pid}) on {engine.socket_path}")
    return 0


def run_stop(args: argparse.Namespace) -> int:
    engine = engine_of(args)
    stopped = engine.stop()
    if args.json:
        print_json({"stopped": stopped.was_running, "was_running": stopped.was_running,
                    "pid": stopped.pid, "socket": engine.socket_path})
    elif stopped.was_running:
        print(f"stopped (pid {stopped.pid})")
    else:
        print(f"not running ({engine.socket_path})")
    return 0


def run_restart(args: argparse.Namespace) -> int:
    engine = engine_of(args)
    stopped = engine.stop()
    started = engine.start()
    if args.json:
        print_json({"stopped_pid": stopped.pid, "pid": started.pid, "socket": engine.socket_path})
    else:
        print(f"restarted (pid {started.pid}) on {engine.socket_path}")
    return 0


def print_status(status: hades.ServiceStatus) -> None:
    print(f"hades is running (pid {status.pid})")
    print(f"  socket   {status.socket}")
    print(f"  uptime   {human_duration(status.uptime_seconds)}")
    print(f"  version  {status.version}")
    note = f" — {status.device_note}" if status.device_note else ""
    print(f"  device   {status.device}{note}")
    for address in status.tcp_addresses:
        print(f"  tcp      {address} "
              f"({'API key required' if status.tcp_api_key else 'no API key'})")
    label = "limits"
    for name in sorted(status.limits):
        value = json.dumps(status.limits[name], ensure_ascii=False)
        print(f"  {label:<8} {name:<20} {'none' if value == 'null' else value}")
        label = ""
    print(f"  models   {len(status.models)} loaded")
    print_models_table(status.models, "    ")


def run_status(args: argparse.Namespace) -> int:
    engine = engine_of(args)
    status = engine.status()
    if args.json:
        print_json(status_json(status))
    elif status.running:
        print_status(status)
    elif status.pid:
        print(f"hades is starting (pid {status.pid}) on {status.socket}, not accepting "
              "connections yet")
    else:
        print(f"hades is not running ({status.socket or engine.address})")
    return 0 if status.running else EXIT_NOT_RUNNING


def run_load(args: argparse.Namespace) -> int:
    model = engine_of(args).load_model(args.model, device=args.device or None, pin=args.pin,
                                       dtype=args.dtype or None,
                                       keep_alive=args.keep_alive or None,
                                       default_prompt_name=args.default_prompt_name or None)
    if args.json:
        print_json({"model": model_json(model)})
    else:
        print(f"loaded {model.id}: {model.state} on {model.device}, {model.dtype}, "
              f"{human_bytes(model.memory_bytes)}{', pinned' if model.pinned else ''}")
    return 0


def run_unload(args: argparse.Namespace) -> int:
    engine_of(args).unload_model(args.model)
    if args.json:
        print_json({"model": args.model, "unloaded": True})
    else:
        print(f"unloaded {args.model}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    models = engine_of(args).get_loaded_models()
    if args.json:
        print_json({"models": [model_json(m) for m in models]})
    else:
        print_models_table(models)
    return 0


def run_health(args: argparse.Namespace) -> int:
    # Through the client rather than health_check(): an unreachable service is an error, exit 1.
    health = engine_of(args).client.health()
    if args.json:
        print_json({"status": health.status, "version": health.version,
                    "uptime_seconds": health.uptime_seconds})
    else:
        print(f"{health.status}: hades {health.version}, up "
              f"{human_duration(health.uptime_seconds)}")
    if not health.healthy:
        raise hades.InternalError(health.message)
    return 0


# ---- model verbs (tools/hades/runtime_commands.cpp, task_commands.cpp) ----------------------

def floats_json(row: Sequence[float]) -> str:
    """A row as the C++ program writes it: each float in its shortest form."""
    return "[" + ",".join(float_text(x) for x in row) + "]"


def run_embed(args: argparse.Namespace) -> int:
    engine = engine_of(args)
    # A model loaded in another dtype is a conflict naming it, not a silent switch.
    if args.dtype:
        engine.load_model(args.model, dtype=args.dtype)
    table = not args.json and not args.jsonl
    model, dimension, tokens, count = "", 0, 0, 0
    for first, texts, last in text_batches(args.texts, args.model, engine.client):
        result = engine.embed(args.model, texts, normalize=False if args.no_normalize else None,
                              truncate=not args.no_truncate, pooling=args.pooling or None,
                              prompt=args.prompt, prompt_name=args.prompt_name or None,
                              dimensions=args.dimensions or None)
        model, dimension = result.model, result.dimension
        tokens, count = tokens + result.tokens, count + len(result.embeddings)
        if table and first == 0 and last:  # one request: the summary first, as it always was
            print(f"{model}: {count} embeddings of {dimension} dimensions ({tokens} tokens)")
        for i, row in enumerate(result.embeddings, start=first):
            if args.jsonl:
                print(f'{{"index":{i},"embedding":{floats_json(row)}}}')
            elif args.json:
                print_json_item(i, f'{{"model":{json.dumps(model, ensure_ascii=False)},'
                                '"embeddings":[', floats_json(row))
            else:
                values = "".join(f" {x:8.5f}" for x in row[:6])
                print(f"[{i + 1}]{values}{' …' if len(row) > 6 else ''}  {texts[i - first]}")
        sys.stdout.flush()
    if args.json:
        print(f'],"dimension":{dimension},"usage":{{"tokens":{tokens}}}}}')
    elif table and not (first == 0 and last):
        print(f"{model}: {count} embeddings of {dimension} dimensions ({tokens} tokens)")
    return 0


def run_tokenize(args: argparse.Namespace) -> int:
    engine, model = engine_of(args), ""
    for first, texts, _ in text_batches(args.texts, args.model, engine.client):
        result = engine.tokenize(args.model, texts, add_special_tokens=not args.no_special_tokens)
        model = result.model
        for i, e in enumerate(result.encodings, start=first):
            encoding = {"ids": e.ids, "tokens": e.tokens, "offsets": [list(o) for o in e.offsets],
                        "type_ids": e.type_ids}
            if args.jsonl:
                print_json(dict(encoding, index=i))
            elif args.json:
                print_json_item(i, '{"encodings":[', json_text(encoding))
            else:
                print(f"[{i + 1}] {texts[i - first] if i - first < len(texts) else ''}")
                shown = "".join(f" {e.tokens[j] if j < len(e.tokens) else '?'}({token_id})"
                                for j, token_id in enumerate(e.ids))
                print(f"    {len(e.ids)} tokens:{shown}")
        sys.stdout.flush()
    if args.json:
        print(f'],"model":{json.dumps(model, ensure_ascii=False)}}}')
    return 0


def run_classify(args: argparse.Namespace) -> int:
    client = hades.ModelClient(socket_path=args.socket or None)
    for first, texts, _ in text_batches(args.texts, args.model, client):
        result = client.classify(args.model, texts)
        for i, c in enumerate(result.results, start=first):
            if not args.json and not args.jsonl:
                print(f"[{i + 1}] {c.label:<16} {c.score:.4f}   {texts[i - first]}")
                continue
            scores = [{"label": s.label, "score": as_float32(s.score)} for s in c.scores]
            one = {"label": c.label, "score": as_float32(c.score), "scores": scores}
            if args.jsonl:
                print_json(dict(one, index=i))
            else:
                print_json_item(i, f'{{"model":{json.dumps(result.model, ensure_ascii=False)},'
                                '"results":[', json_text(one))
        sys.stdout.flush()
    if args.json:
        print("]}")
    return 0


def run_rerank(args: argparse.Namespace) -> int:
    if len(args.query_and_documents) < 2:
        raise hades.InvalidArgumentError("rerank needs QUERY DOC...")
    query, documents = args.query_and_documents[0], args.query_and_documents[1:]
    result = hades.ModelClient(socket_path=args.socket or None).rerank(
        args.model, query, documents, raw_scores=args.raw_scores)
    if args.json:
        print_json({"model": result.model, "results": [
            {"index": r.index, "score": as_float32(r.score)} for r in result.results]})
        return 0
    for r in result.results:
        print(f"{r.score:.4f}  [{r.index + 1}] {documents[r.index]}")
    return 0


def read_document(file: Optional[str]) -> str:
    if not file or file == "-":
        return sys.stdin.buffer.read().decode("utf-8", "surrogateescape")
    try:
        with open(file, "rb") as document:
            return document.read().decode("utf-8", "surrogateescape")
    except OSError:
        raise hades.NotFoundError(f"{file}: cannot open the file to chunk") from None


def run_chunk(args: argparse.Namespace) -> int:
    client = hades.ModelClient(socket_path=args.socket or None)
    result = client.chunk(args.model, [read_document(args.file)], max_length=args.max_length,
                          clean=args.clean, snap_to_whitespace=args.snap)
    chunks = result.results[0].chunks
    if args.json:
        print_json({"model": result.model, "chunks": [
            {"text": c.text, "start": c.start, "end": c.end, "score": as_float32(c.score)}
            for c in chunks]})
        return 0
    for i, c in enumerate(chunks):
        print(f"──── chunk {i + 1} [{c.start}, {c.end}) ────\n{c.text}")
    return 0


def run_pull(args: argparse.Namespace) -> int:
    # `hades pull` does the download; its events pass through as they come.
    def show(event: Dict[str, Any]) -> None:
        if args.json:
            print_json(event)
            sys.stdout.flush()
        elif event.get("event") == "start":
            print(f"pulling {event.get('model')} (commit {str(event.get('commit'))[:12]}): "
                  f"{event.get('files_total')} files, "
                  f"{human_bytes(int(event.get('total_bytes') or 0))}", file=sys.stderr)
        elif event.get("event") == "file_done":
            print(f"  {event.get('file')} ({event.get('files_done')}/{event.get('files_total')}, "
                  f"{human_bytes(int(event.get('done_bytes') or 0))} of "
                  f"{human_bytes(int(event.get('total_bytes') or 0))})", file=sys.stderr)
        elif event.get("event") == "done":
            print(f"received {human_bytes(int(event.get('transferred_bytes') or 0))}",
                  file=sys.stderr)

    result = hades.ModelClient(socket_path=None, autostart=False).pull(
        args.model, args.revision, progress=lambda e: None if e.get("event") == "ready"
        else show(e))
    if args.json:
        print_json({"event": "ready", "model": args.model, "path": result.path})
    else:
        print(result.path)
    return 0


# ---- demo (tools/hades/runtime_commands.cpp) ------------------------------------------------

DEMO_TEXTS = [
    "The cat sits outside on the warm stones.",
    "A cat is lying in the sun in the garden.",
    "A man is playing a guitar on stage.",
    "The band performed their new song live.",
    "I love eating pasta with tomato sauce.",
    "Spaghetti with fresh tomatoes is my favourite dinner.",
    "The stock market fell sharply this morning.",
]
DEMO_DOCUMENT = (
    "The lighthouse keeper had lived alone on the island for eleven years. Every evening he "
    "climbed the stairs and lit the lamp. One morning a letter arrived on the supply boat. It "
    "was from his daughter, who wrote that she was coming to visit in the spring. He read it "
    "twice, folded it carefully and put it in his coat pocket.")


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    norms = math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
    return dot / max(norms, 1e-12)


def print_similarity_table(texts: Sequence[str], rows: Sequence[Sequence[float]]) -> None:
    print("\n" + " " * 4 + "".join(f" {'[' + str(j + 1) + ']':>6}" for j in range(len(texts))))
    for i, text in enumerate(texts):
        cells = "".join(f" {cosine(rows[i], rows[j]):6.3f}" for j in range(len(texts)))
        print(f"{'[' + str(i + 1) + ']':<4}{cells}   {text}")


def demo_chunk(engine: hades.HaystackModelEngine, args: argparse.Namespace) -> None:
    model = engine.load_model(args.chunk_model)
    note = f": {args.chunk_note}" if args.chunk_note else ""
    print(f"\nchunking model {model.id} ({model.kind}, {human_bytes(model.memory_bytes)}){note}")
    for chunk in engine.chunk(args.chunk_model, [DEMO_DOCUMENT]).results[0].chunks:
        print(f"  | {chunk.text}")


def run_demo(args: argparse.Namespace) -> int:
    # Stops the service at the end, also on an error — unless it was running before the demo.
    with engine_of(args, stop_on_exit="if_started") as engine:
        started = engine.started
        assert started is not None
        if started.already_running:
            print(f"service already running (pid {started.pid}) on {engine.socket_path}; the "
                  "demo leaves it running")
        else:
            print(f"service started (pid {started.pid}) on {engine.socket_path}")
        model = engine.load_model(args.model)
        print(f"model   {model.id} ({model.state} on {model.device}, "
              f"{human_bytes(model.memory_bytes)})")
        result = engine.embed(args.model, DEMO_TEXTS)
        print(f"embedded {len(DEMO_TEXTS)} sentences ({result.tokens} tokens) into "
              f"{result.dimension} dimensions; cosine similarities:")
        print_similarity_table(DEMO_TEXTS, result.embeddings)
        if args.chunk_model:
            demo_chunk(engine, args)
        print("\nloaded models:")
        print_models_table(engine.get_loaded_models(), "  ")
        if not started.already_running:
            print(f"\nservice stopped (pid {engine.stop().pid})")
    return 0


def run_serve(args: argparse.Namespace) -> NoReturn:
    """The service in the foreground is the `hades` program itself."""
    binary = find_hades_binary()
    os.execv(binary, [binary, "serve"] + args.serve_arguments)


# ---- the command line -----------------------------------------------------------------------

class Parser(argparse.ArgumentParser):
    """argparse with the C++ program's usage errors: the message, a hint, exit status 2."""

    def error(self, message: str) -> NoReturn:
        print(f"{message}\nRun with --help for more information.", file=sys.stderr)
        sys.exit(EXIT_USAGE)


SOCKET_HELP = "socket path (default: $HADES_MODEL_MGR_SOCKET, else /tmp/hades_model_mgr.sock)"
DTYPES = ["fp32", "int8", "bf16", "auto"]


def add_verb(verbs: Any, name: str, help_text: str, run: Callable[[argparse.Namespace], int],
             client: bool = True) -> argparse.ArgumentParser:
    verb = verbs.add_parser(name, help=help_text, description=help_text)
    if client:
        verb.add_argument("--socket", default="", help=SOCKET_HELP)
        verb.add_argument("--json", action="store_true", help="print JSON instead of a table")
    verb.set_defaults(run=run)
    return verb


def add_jsonl_flag(verb: argparse.ArgumentParser) -> None:
    verb.add_argument("--jsonl", action="store_true",
                      help="print one JSON object per input, as results come")


def add_service_verbs(verbs: Any) -> None:
    add_verb(verbs, "start", "Start the service in the background; returns once it accepts",
             run_start)
    add_verb(verbs, "stop", "Stop the service (SIGTERM; requests in flight finish first)",
             run_stop)
    add_verb(verbs, "restart", "Stop, then start the service", run_restart)
    add_verb(verbs, "status", "Show the service: pid, socket, uptime, device, models, limits "
             "(exit 3: not running)", run_status)
    add_verb(verbs, "list", "List the loaded models", run_list)
    add_verb(verbs, "health", "Check that the service answers", run_health)
    load = add_verb(verbs, "load", "Load a model (a Hugging Face id or a model folder)", run_load)
    load.add_argument("model", help="model id or folder")
    load.add_argument("--device", default="", help="device (default: the service's)")
    load.add_argument("--pin", action="store_true", help="never evict this model")
    load.add_argument("--dtype", choices=DTYPES, default="",
                      help="linear layers' precision: fp32 (default), int8, bf16, auto (bf16 "
                      "where the CPU has it, else fp32)")
    load.add_argument("--keep-alive", default="",
                      help="how long it stays after its last request: 5m, 30s, 1h, 0 (unload "
                      "after each request), -1 (forever; default: the service's "
                      "$HADES_KEEP_ALIVE)")
    load.add_argument("--default-prompt-name", default="",
                      help="the prompt (a name in the model's config_sentence_transformers.json "
                      "prompts, e.g. query) that embed requests without their own get")
    unload = add_verb(verbs, "unload", "Unload a model", run_unload)
    unload.add_argument("model", help="model id or folder")


def add_model_verbs(verbs: Any) -> None:
    demo = add_verb(verbs, "demo", "Through the service: embed a few sentences and print their "
                    "cosine similarities", run_demo)
    demo.add_argument("--model", default=DEFAULT_MODEL,
                      help="model id (in the Hugging Face cache) or folder")
    demo.add_argument("--chunk-model", default="",
                      help="a token-classification model (chonky) to chunk a document with")
    demo.add_argument("--chunk-note", default="", help="a line about the chunking model")
    embed = add_verb(verbs, "embed", "Embed TEXTs (or stdin lines with -) with MODEL", run_embed)
    embed.add_argument("model", help="model id or folder")
    embed.add_argument("texts", nargs="+", help="texts to embed, or - for stdin")
    embed.add_argument("--pooling", default="", help="cls|mean|max|mean_sqrt_len|weightedmean|"
                       "lasttoken (default: the model's)")
    embed.add_argument("--no-normalize", action="store_true", help="do not L2-normalize")
    embed.add_argument("--dtype", choices=DTYPES, default="",
                       help="load MODEL first with this precision: fp32, int8, bf16, auto")
    embed.add_argument("--no-truncate", action="store_true",
                       help="fail on inputs longer than the model's limit")
    embed.add_argument("--prompt", default=None,
                       help="text put before each input (default: the model's prompt)")
    embed.add_argument("--prompt-name", default="",
                       help="the prompt of this name in the model's "
                       "config_sentence_transformers.json, e.g. query")
    embed.add_argument("--dimensions", type=int, default=0,
                       help="keep the first N values of each embedding (Matryoshka), normalized "
                       "again")
    add_jsonl_flag(embed)
    tokenize = add_verb(verbs, "tokenize", "Tokenize TEXTs (or stdin lines with -) as MODEL does",
                        run_tokenize)
    tokenize.add_argument("model", help="model id or folder")
    tokenize.add_argument("texts", nargs="+", help="texts to tokenize, or - for stdin")
    tokenize.add_argument("--no-special-tokens", action="store_true",
                          help="leave out [CLS], [SEP] and the like")
    add_jsonl_flag(tokenize)


def add_task_verbs(verbs: Any) -> None:
    classify = add_verb(verbs, "classify", "Classify TEXTs (or stdin lines with -)", run_classify)
    classify.add_argument("model", help="model id or folder")
    classify.add_argument("texts", nargs="+", help="texts, or - for stdin")
    add_jsonl_flag(classify)
    rerank = add_verb(verbs, "rerank", "Rank DOCs by relevance to QUERY (cross-encoder)",
                      run_rerank)
    rerank.add_argument("model", help="model id or folder")
    rerank.add_argument("query_and_documents", nargs="+", help="QUERY DOC...")
    rerank.add_argument("--raw-scores", action="store_true",
                        help="the model's logits instead of probabilities")
    chunk = add_verb(verbs, "chunk", "Split a document into chunks with a chonky model",
                     run_chunk)
    chunk.add_argument("model", help="model id or folder")
    chunk.add_argument("file", nargs="?", default="-",
                       help="the document, or - (default) for stdin")
    chunk.add_argument("--max-length", type=int, default=0, help="window length in tokens")
    chunk.add_argument("--clean", choices=["none", "text", "html", "xml"], default=None,
                       help="clean the text first as chonky's MarkupRemover: text, html or xml")
    chunk.add_argument("--snap", action="store_true",
                       help="move cuts that fall inside a word to the end of the word")
    pull = add_verb(verbs, "pull", "Download a model from the Hugging Face hub into its cache "
                    "(without loading it)", run_pull, client=False)
    pull.add_argument("model", help="model id, ORG/NAME")
    pull.add_argument("--revision", default="main", help="branch, tag or commit (main)")
    pull.add_argument("--json", action="store_true", help="print progress events as JSON lines")
    serve = add_verb(verbs, "serve", "Run the service in the foreground until SIGTERM or SIGINT "
                     "(Ctrl-C)", run_serve, client=False)
    serve.add_argument("serve_arguments", nargs=argparse.REMAINDER,
                       help="the options of `hades serve`")


def make_parser() -> Parser:
    parser = Parser(prog="model_service_manager.py", description="hades — a local model engine "
                    "for embeddings, classification and chunking")
    parser.add_argument("--version", action="version", version=f"hades {hades.__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="SUBCOMMAND")
    add_model_verbs(verbs)
    add_service_verbs(verbs)
    add_task_verbs(verbs)
    return parser


def use_the_checkouts_build() -> None:
    """In a checkout with neither $HADES_BIN nor `hades` on PATH, the build's own program (as
    the shell alias scripts/model_service_manager runs it)."""
    if ("HADES_BIN" not in os.environ and shutil.which("hades") is None
            and os.access(CHECKOUT_BINARY, os.X_OK)):
        os.environ["HADES_BIN"] = os.path.normpath(CHECKOUT_BINARY)


def main(argv: Optional[List[str]] = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    use_the_checkouts_build()
    try:
        if arguments[:1] == ["serve"]:
            # Everything after `serve` belongs to `hades serve`, --help included.
            run_serve(argparse.Namespace(serve_arguments=arguments[1:]))
        parser = make_parser()
        args = parser.parse_args(arguments)
        if args.verb is None:
            parser.error("A subcommand is required")
        return args.run(args)
    except hades.HadesError as error:
        print(f"hades: error [{error.code}]: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # the edge, as the C++ main: every failure is exit status 1
        print(f"hades: internal error: {error}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
