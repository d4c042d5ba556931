"""bench/compare.py's ModernBERT part: chonky's chunking through hades and through transformers.

A ModernBERT-base token classifier of mirth/chonky_modernbert_base_1's shape (random weights:
bench/modernbert_reference.py makes it once under BUILD/bench) reads one document of the
benchmark's corpus in chonky's windows (1,024 tokens, overlapping by half):
  1. hades in-process, `ClassifierModel::chunk` (build/bench/hades_bench_compare chunk), per dtype,
  2. transformers fp32 on CPU with the same thread count, the same windows one per forward pass
     as chonky's ner pipeline runs them (bench/modernbert_reference.py time),
and the report gives tokens/s, the ratios, and GFLOP/s against the GEMM peak compare.py measured.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO / "bench" / "modernbert_reference.py"
TOKENIZER = REPO / "tests" / "data" / "models" / "tiny-modernbert-chonky"
DOCUMENT_CHARS = 16000  # about 4,000 tokens: 6 windows


def document(texts: list[str]) -> str:
    """The corpus's first texts, as paragraphs, up to DOCUMENT_CHARS characters."""
    out = ""
    for text in texts:
        if len(out) >= DOCUMENT_CHARS:
            break
        out += text + "\n\n"
    return out


def flops(folder: Path, lengths: list[int]) -> float:
    """Forward FLOPs of a ModernBERT token classifier over windows of these lengths: 2 per weight
    per token in the linear layers (Wqkv, Wo, the GeGLU's Wi and Wo, the head), plus QKᵀ and PV
    over the keys each query sees (every key in global layers, the sliding window in local ones)."""
    cfg = json.loads((folder / "config.json").read_text())
    h, f, layers = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    every, half = cfg["global_attn_every_n_layers"], cfg["local_attention"] // 2
    per_token = layers * 2 * (3 * h * h + h * h + h * 2 * f + f * h)
    per_token += 2 * (h * h + h * len(cfg["id2label"]))
    total = 0.0
    for n in lengths:
        local_keys = sum(min(q + half, n - 1) - max(q - half, 0) + 1 for q in range(n))
        for layer in range(layers):
            keys = n * n if layer % every == 0 else local_keys
            total += 4 * keys * h
        total += per_token * n
    return total


def run(build: Path, bench: Path, python: Path, texts: list[str], dtypes: list[str], runs: int,
        threads: int, env: dict) -> dict:
    work = build / "bench"
    folder = work / "modernbert-base-random"
    if not (folder / "model.safetensors").exists():
        print(f"writing {folder} (ModernBERT-base shape, random weights)", flush=True)
        subprocess.run([str(python), str(REFERENCE), "make", str(folder), str(TOKENIZER)],
                       env=env, check=True, capture_output=True)
    doc = work / "compare-document.txt"
    doc.write_text(document(texts))
    out = {"folder": str(folder)}
    for dtype in dtypes:
        out["hades_" + dtype] = last_json(subprocess.run(
            [str(bench), "chunk", "--model", str(folder), "--document", str(doc), "--runs",
             str(runs), "--dtype", dtype], env=env, check=True, capture_output=True, text=True))
    out["transformers"] = last_json(subprocess.run(
        [str(python), str(REFERENCE), "time", str(folder), str(doc), str(threads), str(runs)],
        env=env, check=True, capture_output=True, text=True))
    return out


def last_json(done: subprocess.CompletedProcess) -> dict:
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(r: dict, peaks: dict) -> None:
    """Prints the engines and the ratios, and adds them to R."""
    ref = r["transformers"]
    gflop = flops(Path(r["folder"]), ref["lengths"]) / 1e9
    dtypes = [k[len("hades_"):] for k in r if k.startswith("hades_")]
    for dtype in dtypes:
        if r["hades_" + dtype]["windows"] != ref["windows"]:
            raise RuntimeError(f"hades {dtype} ran {r['hades_' + dtype]['windows']} windows, "
                               f"transformers {ref['windows']}")
    print(f"\nModernBERT-base token classification (chonky's windows of 1,024 tokens, "
          f"{ref['windows']} windows, {ref['tokens']} tokens, {gflop:.0f} GFLOP per pass)")
    print(f"{'engine':40} {'tokens/s':>9} {'s/pass':>8} {'GFLOP/s':>8} {'load ms':>8} "
          f"{'peak RSS':>9}")
    rows = [(f"hades chunk {d}", r["hades_" + d]) for d in dtypes]
    rows += [("transformers fp32 (one window a pass)", ref)]
    for name, f in rows:
        f["gflops"] = gflop / f["seconds"]
        print(f"{name:40} {ref['tokens'] / f['seconds']:9.0f} {f['seconds']:8.2f} "
              f"{f['gflops']:8.1f} {f['load_ms']:8.0f} {f['peak_rss_bytes'] / 2**20:7.0f} MiB")
    ratios = {}
    for d in dtypes:
        ratios[f"ModernBERT: hades {d} / transformers fp32"] = ref["seconds"] / r["hades_" + d][
            "seconds"]
    for d in dtypes:
        if peaks.get(d):
            ratios[f"ModernBERT: hades {d} GFLOP/s / {d} GEMM peak"] = (
                r["hades_" + d]["gflops"] / peaks[d])
    ratios["ModernBERT: transformers GFLOP/s / fp32 GEMM peak"] = ref["gflops"] / peaks["fp32"]
    r["ratios"] = ratios
    for name, value in ratios.items():
        print(f"  {name:52} {value:6.2f}")
