#!/usr/bin/env python3
"""hades beside sentence-transformers, on one machine, in one run (`make bench-compare`).

Runs the same real-prose corpus through
  1. hades in-process (the runtime API; build/bench/hades_bench_compare inprocess), once per
     --dtypes entry (linear layers in fp32, bf16 where the CPU has it, int8), each in its own
     process, with each text's cosine to fp32's embedding,
  2. hades through a running `hades serve`, with many concurrent clients (... service); for each
     --dtypes entry beside fp32 another service with the model at that dtype, one pass, for its
     short-text latency over the socket,
  3. sentence-transformers with PyTorch fp32 on CPU, with the same thread count, and the peers
     (bench/compare_peers.py; --no-peers leaves them out): sentence-transformers bf16, ONNX
     Runtime fp32 and int8, OpenVINO f32 and bf16, each in its own process, with each text's
     cosine to sentence-transformers fp32,
  4. a ModernBERT-base token classifier of chonky's shape over one document in chonky's windows,
     through hades (per dtype) and through transformers fp32 (bench/compare_modernbert.py;
     --no-modernbert leaves it out),
  5. each model family hades loads (XLM-RoBERTa, RoBERTa, ...) at a published model's shape beside
     its reference, end to end and tokenizer alone (bench/compare_families.py; --families picks
     them, --no-families leaves them out),
measures the machine's GEMM peaks (fp32, bf16, int8) with oneDNN at the model's shapes in the
same run, and prints per engine: texts/s, tokens/s, p50/p99 latency of one short text, load time,
peak RSS, the ratios hades / sentence-transformers and hades / the fastest peer at each precision,
and the model's end-to-end FLOP/s as a fraction of the GEMM peak at its precision.

The corpus is the docstrings of Python's standard library (real prose that ships with every
Python, so nothing is downloaded): paragraphs of a few words to several hundred tokens.
Figures are medians over --runs passes; the machine is shared and noisy, so the ratios are what
count. Results go to BUILD/bench/compare-results.json as well.

    python3 bench/compare.py [--build build] [--threads 2] [--runs 5] [--venv DIR] [--dtypes auto|fp32,bf16,int8]
"""
from __future__ import annotations

import argparse
import array
import importlib
import inspect
import json
import math
import os
import pkgutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import compare_families
import compare_modernbert
import compare_peers

REPO = Path(__file__).resolve().parent.parent
ST_PINS = ["torch==2.15.0", "transformers==5.24.0", "sentence-transformers==6.2.0",
           "tokenizers==0.23.3", "numpy==2.4.6"]
MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
STDLIB = ["argparse", "asyncio", "collections", "concurrent.futures", "contextlib", "csv",
          "dataclasses", "datetime", "decimal", "email", "fractions", "functools", "heapq",
          "http.client", "http.server", "importlib", "inspect", "io", "itertools", "json",
          "logging", "multiprocessing", "os", "pathlib", "pickle", "queue", "random", "re",
          "shutil", "socket", "socketserver", "sqlite3", "statistics", "string", "subprocess",
          "tarfile", "tempfile", "textwrap", "threading", "typing", "unittest", "urllib.parse",
          "uuid", "zipfile"]


def corpus(limit: int = 1000) -> dict:
    """Docstring paragraphs of the standard library, in a fixed order; every third text joins
    the paragraphs of one docstring, so that lengths reach past 256 tokens."""
    texts, seen = [], set()
    for name in STDLIB:
        module = importlib.import_module(name)
        objects = [module] + [obj for _, obj in sorted(vars(module).items())
                              if inspect.isclass(obj) or inspect.isfunction(obj)]
        for obj in objects:
            doc = inspect.getdoc(obj) or ""
            paragraphs = [" ".join(p.split()) for p in doc.split("\n\n")]
            paragraphs = [p for p in paragraphs if len(p.split()) >= 3 and p not in seen]
            seen.update(paragraphs)
            if len(paragraphs) > 2 and len(texts) % 3 == 0:
                texts.append(" ".join(paragraphs))
            texts.extend(paragraphs)
    texts = texts[:limit]
    queries = [t for t in texts if 3 <= len(t.split()) <= 10][:100]
    return {"source": "Python %s standard library docstrings" % sys.version.split()[0],
            "texts": texts, "short": queries}


def st_python(venv: Path, own: bool, peers: bool) -> Path:
    """The venv's python; OWN (BUILD/bench-venv) is created, or completed with the peers' pins,
    from PyPI. A venv named by --venv is used as it is: it must have the peers' packages."""
    python = venv / "bin" / "python"
    pins = ST_PINS + (compare_peers.PINS if peers else [])
    if own and not python.exists():
        print(f"creating {venv} with {' '.join(pins)} (from PyPI; large)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *pins], check=True)
    if peers and compare_peers.missing(python):
        if not own:
            sys.exit(f"{venv} lacks {', '.join(compare_peers.missing(python))}: pip install "
                     f"{' '.join(compare_peers.PINS)} there, or pass --no-peers")
        subprocess.run([str(python), "-m", "pip", "install", "-q", *compare_peers.PINS],
                       check=True)
    return python


def model_flops(folder: Path, lengths: list[int]) -> float:
    """Forward FLOPs of a BERT encoder over sequences of these lengths: 2 per weight per token in
    the linear layers, plus QKᵀ and PV (4 · L² · hidden per layer)."""
    cfg = json.loads((folder / "config.json").read_text())
    h, f, layers = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    linear = 4 * h * h + 2 * h * f
    return float(sum(2 * linear * n + 4 * n * n * h for n in lengths) * layers)


def run_json(cmd: list[str], env: dict) -> dict:
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def start_service(hades: Path, socket: Path, env: dict) -> subprocess.Popen:
    server = subprocess.Popen([str(hades), "serve", "--socket", str(socket)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        if socket.exists():
            return server
        time.sleep(0.05)
    server.kill()
    raise RuntimeError("hades serve did not start")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=str(REPO / "build"))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--dtypes", default="auto",
                    help="precisions of hades in-process, comma-separated; fp32 comes first "
                    "(auto: fp32, bf16 where the CPU has it natively, int8)")
    ap.add_argument("--venv", default=None, help="a venv with sentence-transformers (default: "
                    "BUILD/bench-venv, created with the pinned packages)")
    ap.add_argument("--no-peers", dest="peers", action="store_false",
                    help="leave out ONNX Runtime, OpenVINO and sentence-transformers bf16")
    ap.add_argument("--no-modernbert", dest="modernbert", action="store_false",
                    help="leave out the ModernBERT chunking comparison")
    ap.add_argument("--no-families", dest="families", action="store_const", const="",
                    help="leave out the model families (bench/compare_families.py)")
    ap.add_argument("--families", default="auto",
                    help="the families to run: auto (those hades loads), all, or names")
    ap.add_argument("--family-texts", type=int, default=300,
                    help="texts of the corpus each family runs")
    ap.add_argument("--record", action="store_true",
                    help="also write the run to bench/results/ (UTC time, CPU, ISA, commit)")
    args = ap.parse_args()
    build = Path(args.build)
    bench = build / "bench" / "hades_bench_compare"
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), HF_HUB_OFFLINE="1",
               HF_HUB_CACHE=os.environ.get("HF_HUB_CACHE", str(build / "hf-hub")))
    snapshot_ref = Path(env["HF_HUB_CACHE"]) / ("models--" + MODEL_ID.replace("/", "--"))
    folder = snapshot_ref / "snapshots" / (snapshot_ref / "refs" / "main").read_text().strip()
    work = build / "bench"
    corpus_path = work / "compare-corpus.json"
    c = corpus()
    corpus_path.write_text(json.dumps(c))
    python = st_python(Path(args.venv) if args.venv else build / "bench-venv",
                       own=args.venv is None, peers=args.peers)

    print(f"corpus: {len(c['texts'])} texts ({c['source']}); {args.threads} threads; "
          f"{args.runs} runs", flush=True)
    results = {"gemm": run_json([str(bench), "gemm"], env)}
    hidden = json.loads((folder / "config.json").read_text())["hidden_size"]
    dtypes = ["fp32"] + [d for d in dtype_list(args.dtypes, results["gemm"]) if d != "fp32"]
    for dtype in dtypes:
        embeddings = work / f"compare-embeddings-{dtype}.f32"
        results[hades_key(dtype)] = run_json(
            [str(bench), "inprocess", "--model", MODEL_ID, "--corpus", str(corpus_path), "--runs",
             str(args.runs), "--dtype", dtype, "--embeddings", str(embeddings)], env)
        results[hades_key(dtype)]["cosine_to_fp32"] = cosines(
            work / "compare-embeddings-fp32.f32", embeddings, hidden)
        results[hades_key(dtype)]["embeddings_file"] = str(embeddings)
    for dtype in dtypes:
        # fp32 with every run; another dtype for its short-text latency over the socket, one run.
        runs = args.runs if dtype == "fp32" else 1
        results[service_key(dtype)] = run_service(build, bench, corpus_path, dtype, runs, args, env)
    run_references(results, python, folder, corpus_path, args, env)
    st_cosines(results, work, hidden)
    for key in [k for k in results if k.startswith("service")]:  # tokens as the in-process pass
        results[key]["tokens_per_s"] = (results[key]["texts_per_s"] * results["hades"]["tokens"]
                                        / len(c["texts"]))
    if args.modernbert:
        results["modernbert"] = compare_modernbert.run(build, bench, python, c["texts"], dtypes,
                                                       args.runs, args.threads, env)
    if args.families:
        results["families"] = compare_families.run(
            {"build": build, "bench": bench, "python": python,
             "texts": c["texts"][:args.family_texts], "short": c["short"], "dtypes": dtypes,
             "runs": args.runs, "threads": args.threads, "env": env, "run_json": run_json,
             "cosines": cosines}, args.families)
    report(results, folder, c, args, python)
    if args.modernbert:
        gemm = results["gemm"]
        compare_modernbert.report(results["modernbert"], {
            "fp32": gemm["fp32"]["peak_gflops"],
            "bf16": gemm["bf16"]["peak_gflops"] if gemm["bf16"] else None,
            "int8": gemm["int8"]["peak_gflops"]})
    if args.families:
        compare_families.report(results["families"])
    (work / "compare-results.json").write_text(json.dumps(results, indent=1))
    if args.record:
        print(f"recorded: {record(results)}")


def run_references(results: dict, python: Path, folder: Path, corpus_path: Path, args,
                   env: dict) -> None:
    """sentence-transformers fp32 (the reference of every cosine) and the peers, in the venv."""
    work = corpus_path.parent
    results["sentence_transformers"] = run_json(compare_peers.reference_cmd(
        python, "sentence-transformers", "fp32", folder, folder, corpus_path, args.threads,
        args.runs, work / "compare-embeddings-sentence_transformers.f32"), env)
    if args.peers:
        results["peers"] = compare_peers.run(python, folder, corpus_path, args.threads,
                                             args.runs, bool(results["gemm"]["bf16"]), env,
                                             run_json)


def st_cosines(results: dict, work: Path, hidden: int) -> None:
    """Each hades dtype's and each peer's cosine to sentence-transformers fp32, per text."""
    for key in [k for k in results if k.startswith("hades")] + list(results.get("peers", {})):
        engine = results[key] if key.startswith("hades") else results["peers"][key]
        if engine.get("available", True):
            engine["cosine_to_st_fp32"] = cosines(
                work / "compare-embeddings-sentence_transformers.f32",
                Path(engine.pop("embeddings_file", work / f"compare-embeddings-{key}.f32")),
                hidden)


def dtype_list(spec: str, gemm: dict) -> list[str]:
    if spec == "auto":
        return ["fp32"] + (["bf16"] if gemm["bf16"] else []) + ["int8"]
    return [d for d in spec.split(",") if d]


def cosines(reference: Path, other: Path, dim: int) -> dict:
    """Cosine of each text's embedding to float32's (raw float32 rows of DIM): min and mean."""
    a, b = array.array("f"), array.array("f")
    a.frombytes(reference.read_bytes())
    b.frombytes(other.read_bytes())
    values = []
    for i in range(0, len(a), dim):
        x, y = a[i:i + dim], b[i:i + dim]
        dot = sum(p * q for p, q in zip(x, y))
        norm = math.sqrt(sum(p * p for p in x) * sum(q * q for q in y))
        values.append(dot / norm if norm > 0 else 1.0)
    return {"min": min(values), "mean": sum(values) / len(values), "texts": len(values),
            "below_0.999": sum(v < 0.999 for v in values)}


def hades_key(dtype: str) -> str:
    return "hades" if dtype == "fp32" else "hades_" + dtype


def service_key(dtype: str) -> str:
    return "service" if dtype == "fp32" else "service_" + dtype


def run_service(build: Path, bench: Path, corpus_path: Path, dtype: str, runs: int, args,
                env: dict) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        socket = Path(tmp) / "bench.sock"
        # Throughput with every request served: admission control (HADES_MAX_QUEUE_DELAY) would
        # refuse some of 16 clients' requests on a busy machine.
        server = start_service(build / "hades", socket, dict(env, HADES_MAX_QUEUE_DELAY="0"))
        try:
            return run_json(
                [str(bench), "service", "--socket", str(socket), "--model", MODEL_ID, "--corpus",
                 str(corpus_path), "--runs", str(runs), "--clients", str(args.clients),
                 "--dtype", dtype], env)
        finally:
            server.terminate()
            server.wait(timeout=60)


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def report(r: dict, folder: Path, c: dict, args, python: Path) -> None:
    flops = model_flops(folder, r["hades"]["lengths"])
    peak = r["gemm"]["fp32"]["peak_gflops"]
    lower = [k[len("hades_"):] for k in r if k.startswith("hades_")]
    rows = [("hades in-process", r["hades"])]
    rows += [(f"hades in-process {d}", r["hades_" + d]) for d in lower]
    rows += [(f"hades service, {args.clients} clients", r["service"])]
    rows += [(f"hades service {d}, {args.clients} clients (1 run)", r["service_" + d])
             for d in lower]
    rows += [("sentence-transformers fp32", r["sentence_transformers"])]
    rows += compare_peers.rows(r) if "peers" in r else []
    print(f"\n{'engine':40} {'texts/s':>9} {'tokens/s':>9} {'GFLOP/s':>8} {'p50 ms':>7} "
          f"{'p99 ms':>7} {'load ms':>8} {'peak RSS':>9}")
    for name, f in rows:
        gflops = flops * f["texts_per_s"] / len(c["texts"]) / 1e9
        f["gflops"] = gflops
        print(f"{name:40} {f['texts_per_s']:9.1f} {f['tokens_per_s']:9.0f} {gflops:8.1f} "
              f"{f['latency']['p50_ms']:7.2f} {f['latency']['p99_ms']:7.2f} {f['load_ms']:8.0f} "
              f"{f['peak_rss_bytes'] / 2**20:7.0f} MiB")
    r["ratios"] = ratios = engine_ratios(r, peak, lower) | peer_ratios(r, lower)
    gemm = r["gemm"]
    print(f"\nGEMM peaks (oneDNN, {gemm['isa']}, M=2048 at the model's shapes), GFLOP/s: "
          f"fp32 {peak:.1f}, bf16 "
          + ("%.1f" % gemm["bf16"]["peak_gflops"] if gemm["bf16"] else "n/a (no native bf16)")
          + f", int8 (u8·s8→s32) {gemm['int8']['peak_gflops']:.1f}")
    for line in compare_peers.left_out(r) if "peers" in r else []:
        print(f"  left out: {line}")
    for name, value in ratios.items():
        print(f"  {name:66} {value:8.6f}" if name.startswith("cosine") else
              f"  {name:66} {value:6.2f}")
    r["machine"] = {"cpu": cpu_name(), "threads": args.threads, "runs": args.runs,
                    "corpus": c["source"], "texts": len(c["texts"]),
                    "st_python": str(python)}


def engine_ratios(r: dict, peak: float, lower: list[str]) -> dict:
    """hades against sentence-transformers fp32 and against itself at fp32, per dtype."""
    st = r["sentence_transformers"]
    ratios = {
        "throughput hades / sentence-transformers": r["hades"]["texts_per_s"] / st["texts_per_s"],
        "throughput service / in-process": r["service"]["texts_per_s"] / r["hades"]["texts_per_s"],
        "p50 latency sentence-transformers / hades": st["latency"]["p50_ms"]
        / r["hades"]["latency"]["p50_ms"],
        "hades GFLOP/s / fp32 GEMM peak": r["hades"]["gflops"] / peak,
        "sentence-transformers GFLOP/s / fp32 GEMM peak": st["gflops"] / peak,
    }
    for d in lower:
        h = r["hades_" + d]
        ratios[f"throughput hades {d} / sentence-transformers"] = h["texts_per_s"] / st["texts_per_s"]
        ratios[f"throughput hades {d} / hades fp32"] = h["texts_per_s"] / r["hades"]["texts_per_s"]
        # CPU seconds per pass: steadier than wall time when other work shares the machine.
        ratios[f"CPU time per pass hades fp32 / {d}"] = (median(r["hades"]["run_cpu_seconds"])
                                                         / median(h["run_cpu_seconds"]))
        ratios[f"p50 latency hades fp32 / {d}"] = (r["hades"]["latency"]["p50_ms"]
                                                   / h["latency"]["p50_ms"])
        if r["gemm"].get(d):
            ratios[f"hades {d} GFLOP/s / {d} GEMM peak"] = h["gflops"] / r["gemm"][d]["peak_gflops"]
        ratios[f"cosine to fp32 over the corpus, {d}: min"] = h["cosine_to_fp32"]["min"]
        ratios[f"cosine to fp32 over the corpus, {d}: mean"] = h["cosine_to_fp32"]["mean"]
        ratios[f"p50 CPU time per short text hades fp32 / {d}"] = (
            r["hades"]["latency"]["cpu_p50_ms"] / h["latency"]["cpu_p50_ms"])
    return ratios


def peer_ratios(r: dict, lower: list[str]) -> dict:
    """hades per precision / the fastest peer at it, and every engine's cosine to
    sentence-transformers fp32 (min over the corpus)."""
    ratios = compare_peers.ratios(r, ["fp32"] + lower) if "peers" in r else {}
    engines = [(f"hades {d}", r[hades_key(d)]) for d in ["fp32"] + lower]
    engines += compare_peers.rows(r) if "peers" in r else []
    for name, f in engines:
        for stat in ("min", "mean"):
            ratios[f"cosine to sentence-transformers fp32, {name}: {stat}"] = (
                f["cosine_to_st_fp32"][stat])
    return ratios


# The ISA extensions that decide which kernels run (oneDNN's and hades's own).
ISA_FLAGS = ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni",
             "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_int8", "amx_tile"]


def cpu_isa() -> list[str]:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            return [f for f in ISA_FLAGS if f in flags]
    return []


def record(results: dict, name: str = "compare") -> Path:
    """Writes RESULTS with the machine and the commit to bench/results/NAME-STAMP.json (its
    README: the format)."""
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip() != ""
    stamp = time.strftime("%Y-%m-%dT%H%M%SZ", time.gmtime())
    out = REPO / "bench" / "results" / f"{name}-{stamp}.json"
    out.write_text(json.dumps({"date": stamp, "cpu": cpu_name(), "isa": cpu_isa(),
                               "commit": commit + ("-dirty" if dirty else ""),
                               "command": " ".join(sys.argv), "results": results},
                              indent=1) + "\n")
    return out


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


if __name__ == "__main__":
    main()
