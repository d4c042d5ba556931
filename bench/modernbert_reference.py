#!/usr/bin/env python3
"""The transformers side of bench/compare.py's ModernBERT comparison; runs in the benchmark's venv.

    modernbert_reference.py make FOLDER TOKENIZER_FOLDER
        writes a ModernBertForTokenClassification of ModernBERT-base's shape (the shape of
        mirth/chonky_modernbert_base_1: 22 layers, hidden 768, labels "O" and "separator",
        windows of 1,024 tokens) with seeded random weights, and TOKENIZER_FOLDER's ModernBERT
        tokenizer files. The real weights are not on PyPI and the hub is out of reach; a forward
        pass costs the same whatever the weights are.
    modernbert_reference.py time FOLDER DOCUMENT THREADS RUNS
        chonky's windows of DOCUMENT (the tokenizer's model_max_length, overlapping by half, each
        with its own special tokens, as hades's chunk() cuts them) through transformers fp32 on
        CPU, one window per forward pass as chonky's ner pipeline runs them, with the predicted
        label per token; prints one JSON object: seconds per pass (median of RUNS after a
        warm-up pass), windows, tokens, load time, peak RSS.
"""
from __future__ import annotations

import json
import resource
import shutil
import sys
import time
from pathlib import Path

import torch
from tokenizers import Tokenizer
from transformers import ModernBertConfig, ModernBertForTokenClassification

WINDOW = 1024
TOKENIZER_FILES = ["tokenizer.json", "special_tokens_map.json", "tokenizer_config.json"]


def make(folder: Path, tokenizer_folder: Path) -> None:
    tokenizer_config = json.loads((tokenizer_folder / "tokenizer_config.json").read_text())
    special = {name: tokenizer_config.get(name) for name in ("cls_token", "sep_token", "pad_token")}
    tokenizer = Tokenizer.from_file(str(tokenizer_folder / "tokenizer.json"))
    config = ModernBertConfig(
        vocab_size=50368, hidden_size=768, intermediate_size=1152, num_hidden_layers=22,
        num_attention_heads=12, max_position_embeddings=8192, global_attn_every_n_layers=3,
        local_attention=128, hidden_activation="gelu", norm_eps=1e-5, attention_bias=False,
        mlp_bias=False, norm_bias=False, classifier_bias=False, classifier_activation="gelu",
        cls_token_id=tokenizer.token_to_id(special["cls_token"]),
        sep_token_id=tokenizer.token_to_id(special["sep_token"]),
        pad_token_id=tokenizer.token_to_id(special["pad_token"]),
        id2label={0: "O", 1: "separator"}, label2id={"O": 0, "separator": 1})
    torch.manual_seed(0)
    model = ModernBertForTokenClassification(config).eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    for name in TOKENIZER_FILES:
        shutil.copyfile(tokenizer_folder / name, folder / name)
    tokenizer_config["model_max_length"] = WINDOW
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=1))


def windows(folder: Path, document: str) -> list[list[int]]:
    max_length = json.loads((folder / "tokenizer_config.json").read_text())["model_max_length"]
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=max_length, stride=max_length // 2)
    first = tokenizer.encode(document)
    return [e.ids for e in [first] + list(first.overflowing)]


def time_passes(folder: Path, document_path: Path, threads: int, runs: int) -> dict:
    torch.set_num_threads(threads)
    start = time.perf_counter()
    model = ModernBertForTokenClassification.from_pretrained(folder, torch_dtype=torch.float32)
    model.eval()
    load_ms = (time.perf_counter() - start) * 1e3
    inputs = [torch.tensor([ids]) for ids in windows(folder, document_path.read_text())]

    def one_pass() -> int:
        separators = 0
        with torch.inference_mode():
            for ids in inputs:
                logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
                separators += int((logits.argmax(-1) == 1).sum())
        return separators

    one_pass()  # warm-up
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        one_pass()
        seconds.append(time.perf_counter() - start)
    return {"seconds": sorted(seconds)[len(seconds) // 2], "run_seconds": seconds,
            "windows": len(inputs), "tokens": sum(int(ids.shape[1]) for ids in inputs),
            "lengths": [int(ids.shape[1]) for ids in inputs], "load_ms": load_ms,
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "make":
        make(Path(sys.argv[2]), Path(sys.argv[3]))
    elif len(sys.argv) == 6 and sys.argv[1] == "time":
        print(json.dumps(time_passes(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]),
                                     int(sys.argv[5]))))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
