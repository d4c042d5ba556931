"""bench/compare.py's peers: other inference engines on the same MiniLM, corpus and threads.

Each engine and precision runs in its own process in the benchmark's venv
(bench/peers_reference.py): sentence-transformers bf16 (PyTorch; fp32 is compare.py's reference
run), ONNX Runtime fp32 and int8 (dynamic quantization) and OpenVINO f32 and bf16, both engines
from one ONNX export cached under BUILD/bench/minilm-onnx. bf16 peers run where the CPU has
native bf16 (as hades's bf16).
The report gives each one's texts/s and cosine to sentence-transformers fp32 per text, and hades
at each precision against the fastest peer at that precision, in process and through the service.
"""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO / "bench" / "peers_reference.py"
# Installed into the benchmark's venv beside compare.py's PyTorch stack.
PINS = ["onnxruntime==1.32.0", "openvino==2026.4.1", "onnx==1.23.2", "onnxscript==0.7.2"]
MODULES = ["onnxruntime", "openvino", "onnx"]
# Result key, engine, precision; sentence-transformers fp32 is compare.py's own reference run.
PEERS = [("sentence_transformers_bf16", "sentence-transformers", "bf16"),
         ("onnxruntime_fp32", "onnxruntime", "fp32"),
         ("onnxruntime_int8", "onnxruntime", "int8"),
         ("openvino_fp32", "openvino", "fp32"),
         ("openvino_bf16", "openvino", "bf16")]
NAMES = {"sentence_transformers": "sentence-transformers fp32",
         "sentence_transformers_bf16": "sentence-transformers bf16",
         "onnxruntime_fp32": "ONNX Runtime fp32", "onnxruntime_int8": "ONNX Runtime int8",
         "openvino_fp32": "OpenVINO f32", "openvino_bf16": "OpenVINO bf16"}


def missing(python: Path) -> list[str]:
    """The peers' modules that PYTHON cannot import."""
    return [m for m in MODULES if subprocess.run(
        [str(python), "-c", f"import {m}"], capture_output=True).returncode != 0]


def reference_cmd(python: Path, engine: str, precision: str, folder: Path, onnx: Path,
                  corpus: Path, threads: int, runs: int, embeddings: Path) -> list[str]:
    return [str(python), str(REFERENCE), "time", engine, precision, str(folder), str(onnx),
            str(corpus), str(threads), str(runs), str(embeddings)]


def run(python: Path, folder: Path, corpus: Path, threads: int, runs: int, native_bf16: bool,
        env: dict, run_json: Callable[[list[str], dict], dict]) -> dict:
    """The peers' results by key; each writes its embeddings to BUILD/bench for the cosines."""
    work = corpus.parent
    onnx = work / "minilm-onnx"
    if not (onnx / "model-int8.onnx").exists():
        print(f"exporting the model to {onnx} (torch.onnx, then int8 by ONNX Runtime)", flush=True)
        subprocess.run([str(python), str(REFERENCE), "export", str(folder), str(onnx)], env=env,
                       check=True, capture_output=True)
    out = {}
    for key, engine, precision in PEERS:
        if precision == "bf16" and not native_bf16:
            out[key] = {"available": False, "reason": "no native bf16 on this CPU"}
            continue
        out[key] = run_json(reference_cmd(python, engine, precision, folder, onnx, corpus,
                                          threads, runs, work / f"compare-embeddings-{key}.f32"),
                            env)
    return out


def precision_groups(r: dict) -> dict[str, list[str]]:
    """The peers that ran, by the precision hades is compared at."""
    ran = {k for k, v in r["peers"].items() if v.get("available")}
    groups = {"fp32": ["sentence_transformers", "onnxruntime_fp32", "openvino_fp32"],
              "bf16": ["sentence_transformers_bf16", "openvino_bf16"],
              "int8": ["onnxruntime_int8"]}
    return {d: [k for k in keys if k == "sentence_transformers" or k in ran]
            for d, keys in groups.items()}


def peer(r: dict, key: str) -> dict:
    return r["sentence_transformers"] if key == "sentence_transformers" else r["peers"][key]


def ratios(r: dict, dtypes: list[str]) -> dict:
    """hades at each precision / the fastest peer at that precision, in process and through the
    service (other dtypes than fp32 go through the service one run only); also kept per
    precision under r["peer_ratios"]."""
    out, table = {}, {}
    for d, keys in precision_groups(r).items():
        if d not in dtypes or not keys:
            continue
        fastest = max(keys, key=lambda k: peer(r, k)["texts_per_s"])
        best = peer(r, fastest)["texts_per_s"]
        suffix = "" if d == "fp32" else "_" + d
        table[d] = {"fastest_peer": NAMES[fastest], "peer_texts_per_s": best,
                    "hades_in_process": r["hades" + suffix]["texts_per_s"] / best,
                    "hades_service": r["service" + suffix]["texts_per_s"] / best}
        out[f"throughput hades {d} / fastest {d} peer ({NAMES[fastest]})"] = (
            table[d]["hades_in_process"])
        out[f"throughput service {d} / fastest {d} peer"] = table[d]["hades_service"]
    r["peer_ratios"] = table
    return out


def rows(r: dict) -> list[tuple[str, dict]]:
    return [(NAMES[k], v) for k, v in r["peers"].items() if v.get("available")]


def left_out(r: dict) -> list[str]:
    return [f"{NAMES[k]}: {v['reason']}" for k, v in r["peers"].items() if not v.get("available")]
