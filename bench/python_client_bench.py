#!/usr/bin/env python3
"""The Python client beside the C++ client, through one running `hades serve` (issue 20).

Embeds the corpus of bench/compare.py (docstring paragraphs of Python's standard library) with
all-MiniLM-L6-v2 through the same service twice per setting: with the C++ client
(build/bench/hades_bench_compare service) and with the `hades` Python package, with 1 and 16
concurrent clients and 1 and 32 texts per request. Each client takes the next request's texts from
a shared cursor until the corpus is done, as the C++ program does; every client is its own
ModelClient (a thread each on the Python side). Per setting it prints texts/s of both and the
ratio Python / C++ (the target is >= 0.9): medians over --runs passes of each side, each pass
after a warm-up pass of its own, the two sides alternated pass by pass so that the machine's drift
reaches both; on a shared, noisy machine the best pass of each side says more than the median,
and both are printed. Then the p50/p99 latency of one short text, one call at a time. Results
also go to BUILD/bench/python-client-results.json.

    python3 bench/python_client_bench.py [--build build] [--runs 5] [--threads N]
"""

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "python"))

import hades  # noqa: E402  (the checkout's package, from the path set above)
from compare import MODEL_ID, corpus, cpu_name, median, run_json, start_service  # noqa: E402

SETTINGS = [(1, 1), (1, 32), (16, 1), (16, 32)]  # (clients, texts per request)


def python_pass(socket: str, texts: List[str], clients: int, request_texts: int) -> float:
    """Seconds for CLIENTS threads, each with its own client, to embed TEXTS in requests of
    REQUEST_TEXTS consecutive texts taken from a shared cursor."""
    cursor = iter(range(0, len(texts), request_texts))
    lock = threading.Lock()
    failures: List[BaseException] = []

    def work() -> None:
        client = hades.ModelClient(socket, autostart=False)
        while True:
            with lock:
                first = next(cursor, None)
            if first is None:
                break
            try:
                client.embed(MODEL_ID, texts[first:first + request_texts])
            except hades.HadesError as error:
                failures.append(error)
        client.close()

    threads = [threading.Thread(target=work) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, e.g. {failures[0]}")
    return seconds


def short_text_latency(socket: str, queries: List[str], calls: int = 300) -> Dict[str, float]:
    """p50/p99 milliseconds of one short text, one call at a time (as the C++ program does)."""
    client = hades.ModelClient(socket, autostart=False)
    client.embed(MODEL_ID, [queries[0]])
    times = []
    for i in range(calls):
        start = time.perf_counter()
        client.embed(MODEL_ID, [queries[i % len(queries)]])
        times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    return {"p50_ms": times[len(times) // 2], "p99_ms": times[int(len(times) * 0.99)]}


def cpp_pass(bench: Path, socket: str, corpus_path: Path, clients: int, request_texts: int,
             env: dict) -> dict:
    """One timed pass of the C++ client (the program makes a warm-up pass first, and measures
    the short-text latency after)."""
    return run_json([str(bench), "service", "--socket", socket, "--model", MODEL_ID, "--corpus",
                     str(corpus_path), "--runs", "1", "--clients", str(clients),
                     "--request-texts", str(request_texts)], env)


def measure(bench: Path, socket: str, corpus_path: Path, c: dict, args, env: dict) -> list:
    """Per setting, --runs rounds of one C++ pass and one Python pass (each after a warm-up
    pass of its own), so that the machine's drift reaches both sides alike."""
    rows = []
    texts = c["texts"]
    for clients, request_texts in SETTINGS:
        print(f"  {clients:2d} clients, {request_texts:2d} texts a request ...", flush=True)
        cpp_seconds, python_seconds, cpp_latency = [], [], None
        for _ in range(args.runs):
            cpp = cpp_pass(bench, socket, corpus_path, clients, request_texts, env)
            cpp_seconds += cpp["run_seconds"]
            cpp_latency = cpp_latency or cpp["latency"]
            python_pass(socket, texts, clients, request_texts)  # warm-up, as the C++ side
            python_seconds.append(python_pass(socket, texts, clients, request_texts))
        cpp = {"texts_per_s": len(texts) / median(cpp_seconds),
               "best_texts_per_s": len(texts) / min(cpp_seconds), "run_seconds": cpp_seconds,
               "latency": cpp_latency}
        python = {"texts_per_s": len(texts) / median(python_seconds),
                  "best_texts_per_s": len(texts) / min(python_seconds),
                  "run_seconds": python_seconds}
        rows.append({"clients": clients, "request_texts": request_texts, "cpp": cpp,
                     "python": python, "ratio": python["texts_per_s"] / cpp["texts_per_s"],
                     "best_ratio": python["best_texts_per_s"] / cpp["best_texts_per_s"]})
    rows[0]["python"]["latency"] = short_text_latency(socket, c["short"])
    return rows


def report(rows: list, c: dict, args) -> None:
    print(f"\n{cpu_name()}, {args.threads} threads; Python {platform.python_version()}; "
          f"{len(c['texts'])} texts ({c['source']}); medians of {args.runs} runs")
    print(f"{'':17} {'median texts/s':^33}   {'best pass texts/s':^33}")
    print(f"{'clients':>7} {'texts/req':>9} " + f"{'C++':>10} {'Python':>10} {'Py/C++':>10}   " * 2)
    for r in rows:
        cpp, python = r["cpp"], r["python"]
        print(f"{r['clients']:>7} {r['request_texts']:>9} {cpp['texts_per_s']:>10.1f} "
              f"{python['texts_per_s']:>10.1f} {r['ratio']:>10.3f}   "
              f"{cpp['best_texts_per_s']:>10.1f} {python['best_texts_per_s']:>10.1f} "
              f"{r['best_ratio']:>10.3f}")
    first = rows[0]
    cpp_latency, python_latency = first["cpp"]["latency"], first["python"]["latency"]
    print(f"one short text: C++ p50 {cpp_latency['p50_ms']:.2f} ms, p99 "
          f"{cpp_latency['p99_ms']:.2f} ms; Python p50 {python_latency['p50_ms']:.2f} ms, p99 "
          f"{python_latency['p99_ms']:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=str(REPO / "build"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    build = Path(args.build)
    bench = build / "bench" / "hades_bench_compare"
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), HF_HUB_OFFLINE="1",
               HF_HUB_CACHE=os.environ.get("HF_HUB_CACHE", str(build / "hf-hub")))
    os.environ.update(HF_HUB_OFFLINE="1", HF_HUB_CACHE=env["HF_HUB_CACHE"])
    c = corpus()
    with tempfile.TemporaryDirectory(prefix="hades-pybench-", dir="/tmp") as work:
        corpus_path = Path(work) / "corpus.json"
        corpus_path.write_text(json.dumps(c))
        socket = str(Path(work) / "bench.sock")
        # Every request served: admission control would refuse some of 16 clients' requests.
        server = start_service(build / "hades", Path(socket),
                               dict(env, HADES_MAX_QUEUE_DELAY="0"))
        try:
            hades.ModelClient(socket, autostart=False).load_model(MODEL_ID)
            rows = measure(bench, socket, corpus_path, c, args, env)
        finally:
            server.terminate()
            server.wait(timeout=60)
    report(rows, c, args)
    results = {"cpu": cpu_name(), "threads": args.threads, "runs": args.runs,
               "python": platform.python_version(), "texts": len(c["texts"]), "rows": rows}
    (build / "bench" / "python-client-results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
