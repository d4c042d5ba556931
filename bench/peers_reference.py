#!/usr/bin/env python3
"""The peers of bench/compare.py's MiniLM comparison; runs in the benchmark's venv, one engine and
precision per process (bench/compare_peers.py drives it).

    peers_reference.py export MODEL_DIR OUT_DIR
        OUT_DIR/model.onnx: the transformer with sentence-transformers' mean pooling and L2
        normalisation, exported once with torch.onnx (batch and sequence dynamic), and
        OUT_DIR/model-int8.onnx: its dynamic quantization (onnxruntime.quantization)
    peers_reference.py time ENGINE PRECISION MODEL_DIR ONNX_DIR CORPUS THREADS RUNS EMBEDDINGS
        ENGINE: sentence-transformers (fp32, bf16), onnxruntime (fp32, int8) or openvino (fp32,
        bf16). Prints one JSON object: load time, corpus throughput (median of RUNS passes),
        p50/p99 latency of one short text, peak RSS, or {"available": false, "reason": ...} where
        the CPU or the engine cannot run PRECISION; writes the corpus's embeddings to EMBEDDINGS
        as raw float32 rows in corpus order.

Every engine sees the corpus as sentence-transformers' `encode(texts, batch_size=32)` does: texts
sorted by length (longest first), batches of 32 padded to their longest text, truncated at the
model's max_seq_length; tokenization is inside the timed pass for all of them.
"""
from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

BATCH = 32
LATENCY_CALLS, WARMUP_CALLS = 320, 20


def max_seq_length(folder: Path) -> int:
    return json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"]


def export(folder: Path, out: Path) -> None:
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    class Pooled(torch.nn.Module):
        """The transformer, then sentence-transformers' Pooling (mean) and Normalize modules."""

        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask,
                                token_type_ids=token_type_ids).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    out.mkdir(parents=True, exist_ok=True)
    model = Pooled(AutoModel.from_pretrained(folder).eval())
    ids = torch.ones(2, 7, dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    # The TorchScript exporter takes dynamic axes by name; its ONNX runs in both peers.
    torch.onnx.export(model, (ids, torch.ones_like(ids), torch.zeros_like(ids)),
                      str(out / "model.onnx"), input_names=names, output_names=["embedding"],
                      dynamic_axes={n: {0: "batch", 1: "sequence"} for n in names},
                      opset_version=17, dynamo=False)
    # Per-channel s8 weights, u8 activations quantized per call: ONNX Runtime's documented
    # dynamic quantization for transformers on CPUs with VNNI (no range reduction needed).
    quantize_dynamic(out / "model.onnx", out / "model-int8.onnx", weight_type=QuantType.QInt8,
                     per_channel=True)


def batched(texts: list[str], tokenizer, limit: int, infer) -> np.ndarray:
    """INFER over TEXTS in sentence-transformers' batches; rows back in the texts' order."""
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    out = np.empty((len(texts), 0), dtype=np.float32)
    for start in range(0, len(order), BATCH):
        part = order[start:start + BATCH]
        tokens = tokenizer([texts[i] for i in part], padding=True, truncation=True,
                           max_length=limit, return_tensors="np")
        rows = infer({k: v.astype(np.int64) for k, v in tokens.items()})
        if out.shape[1] == 0:
            out = np.empty((len(texts), rows.shape[1]), dtype=np.float32)
        out[part] = rows
    return out


def sentence_transformers(folder: Path, precision: str, threads: int):
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    model = SentenceTransformer(str(folder), device="cpu")
    if precision == "bf16":
        model = model.to(torch.bfloat16)  # sentence-transformers' documented way to run bf16
    return (lambda texts: model.encode(texts, batch_size=BATCH, convert_to_tensor=True)
            .float().numpy()), None


def onnxruntime(folder: Path, onnx: Path, precision: str, threads: int):
    import onnxruntime as ort
    from transformers import AutoTokenizer

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    path = onnx / ("model-int8.onnx" if precision == "int8" else "model.onnx")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    tokenizer = AutoTokenizer.from_pretrained(folder)
    return (lambda texts: batched(texts, tokenizer, max_seq_length(folder),
                                  lambda feed: session.run(None, feed)[0])), None


def openvino(folder: Path, onnx: Path, precision: str, threads: int):
    import openvino as ov
    from transformers import AutoTokenizer

    core = ov.Core()
    hint = {"fp32": "f32", "bf16": "bf16"}[precision]
    if hint == "bf16" and "BF16" not in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        return None, "OpenVINO offers no bf16 on this CPU"
    # The hint is explicit for f32 too: OpenVINO defaults to bf16 on CPUs with AMX.
    compiled = core.compile_model(str(onnx / "model.onnx"), "CPU", {
        "INFERENCE_PRECISION_HINT": hint, "INFERENCE_NUM_THREADS": threads,
        "PERFORMANCE_HINT": "LATENCY"})
    request = compiled.create_infer_request()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    return (lambda texts: batched(texts, tokenizer, max_seq_length(folder),
                                  lambda feed: request.infer(feed)[0].copy())), None


def measure(encode, corpus: dict, runs: int) -> dict:
    texts = corpus["texts"]
    encode(texts)  # warm-up: first-call allocations and kernel choices
    seconds = []
    for _ in range(runs):
        t0 = time.perf_counter()
        embeddings = encode(texts)
        seconds.append(time.perf_counter() - t0)
    latency = []
    for i in range(LATENCY_CALLS):
        t0 = time.perf_counter()
        encode([corpus["short"][i % len(corpus["short"])]])
        if i >= WARMUP_CALLS:
            latency.append((time.perf_counter() - t0) * 1e3)
    latency.sort()
    median = sorted(seconds)[len(seconds) // 2]
    return {"texts_per_s": len(texts) / median, "run_seconds": seconds, "median_s": median,
            "latency": {"p50_ms": latency[len(latency) // 2],
                        "p99_ms": latency[int(0.99 * (len(latency) - 1) + 0.5)]},
            "embeddings": embeddings}


def time_engine(argv: list[str]) -> dict:
    engine, precision, folder, onnx, corpus_path, threads, runs, out = argv
    folder, onnx, threads = Path(folder), Path(onnx), int(threads)
    corpus = json.loads(Path(corpus_path).read_text())
    t0 = time.perf_counter()
    if engine == "sentence-transformers":
        encode, reason = sentence_transformers(folder, precision, threads)
    elif engine == "onnxruntime":
        encode, reason = onnxruntime(folder, onnx, precision, threads)
    else:
        encode, reason = openvino(folder, onnx, precision, threads)
    if encode is None:
        return {"available": False, "reason": reason}
    load_ms = (time.perf_counter() - t0) * 1e3
    result = measure(encode, corpus, int(runs))
    result.pop("embeddings").astype(np.float32).tofile(out)
    from transformers import AutoTokenizer
    tokens = sum(len(ids) for ids in AutoTokenizer.from_pretrained(folder)(
        corpus["texts"], truncation=True, max_length=max_seq_length(folder))["input_ids"])
    return dict(result, available=True, load_ms=load_ms, tokens=tokens,
                tokens_per_s=tokens / result.pop("median_s"),
                peak_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


if __name__ == "__main__":
    if sys.argv[1] == "export":
        export(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        print(json.dumps(time_engine(sys.argv[2:])))
