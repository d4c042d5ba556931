#!/usr/bin/env python3
"""Each model family hades loads, at a published model's shape, beside its reference
implementation (issue 25); bench/compare.py runs it (`make bench-compare`; --no-families leaves it
out), or alone:

    python3 bench/compare_families.py [--build build] [--families auto|all|NAME,...] [--texts 300]
                                      [--runs 3] [--threads N] [--dtypes auto] [--venv DIR] [--record]

FAMILIES holds one entry per family: the published model whose shape it takes, its config.json
(model_type and sizes, as transformers writes them), its tokenizer, its sentence-transformers
modules, how hades runs it and which reference runs it. bench/families_reference.py makes each
once under BUILD/bench/families/ with random weights (a forward pass costs the same whatever the
weights are), then the first --texts texts of compare.py's corpus go
  1. through hades in-process (hades_bench_compare inprocess), once per dtype, and
  2. through the reference (sentence-transformers fp32 on CPU, the same thread count,
     bench/peers_reference.py),
both end to end (tokenization inside the timed pass), and through each tokenizer alone. The report
gives texts/s, the ratio hades / reference per dtype and each dtype's cosine to the reference.

--families auto (the default) takes the families this hades build can load: an entry whose
model_type hades lacks (hades_bench_compare model-types), whose tokenizer file is not in the tree,
or whose hades mode or reference has no runner yet is skipped with its reason printed. Adding a
family is one FAMILIES entry.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO / "bench" / "families_reference.py"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"  # its tokenizer is bert-base-uncased's
ROBERTA_SPECIALS = {"bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>",
                    "cls_token": "<s>", "unk_token": "<unk>", "pad_token": "<pad>",
                    "mask_token": "<mask>"}
BERT_SPECIALS = {"cls_token": "[CLS]", "sep_token": "[SEP]", "unk_token": "[UNK]",
                 "pad_token": "[PAD]", "mask_token": "[MASK]"}
# What exists to run each side: hades_bench_compare's modes, families_reference.py's references.
HADES_MODES = {"inprocess"}
REFERENCES = {"sentence-transformers"}


@dataclass(frozen=True)
class Family:
    name: str
    shape: str  # the published model whose config this is
    model_type: str
    config: dict
    # file: repository-relative, or "hf-cache:ID/FILE" in the benchmark's Hugging Face cache;
    # recipe: families_reference.RECIPES; special_tokens: for transformers' tokenizer files.
    tokenizer: dict
    max_seq_length: int
    pooling: str = "mean"
    normalize: bool = True
    hades_mode: str = "inprocess"
    reference: str = "sentence-transformers"
    note: str = ""


BERT_BASE = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                 intermediate_size=3072)
ROBERTA_BASE = dict(BERT_BASE, max_position_embeddings=514, type_vocab_size=1, layer_norm_eps=1e-5,
                    pad_token_id=1, bos_token_id=0, eos_token_id=2)
FAMILIES = [
    Family("xlm-roberta", "intfloat/multilingual-e5-base", "xlm-roberta",
           dict(ROBERTA_BASE, vocab_size=250002),
           {"file": "tests/data/tokenizer/unigram/xlmr/tokenizer.json", "recipe": "as-is",
            "special_tokens": ROBERTA_SPECIALS}, 512,
           note="tokenizer: XLM-R's pipeline with the real nmt_nfkc charsmap but 3,002 pieces "
                "(250,002 in the published file, which cannot be fetched here): more tokens "
                "per text than the real model"),
    Family("roberta", "roberta-base (all-distilroberta-v1 has 6 of its layers)", "roberta",
           dict(ROBERTA_BASE, vocab_size=50265),
           {"file": "tests/data/tokenizer/bpe/olmo/tokenizer.json", "recipe": "roberta",
            "special_tokens": ROBERTA_SPECIALS}, 512,
           note="tokenizer: the OLMo GPT-NeoX byte-level BPE (50k pieces, as GPT-2's) behind "
                "roberta-base's pipeline and special tokens"),
    Family("mmbert", "jhu-clsp/mmBERT-small", "modernbert",
           dict(vocab_size=256000, hidden_size=384, intermediate_size=1152, num_hidden_layers=22,
                num_attention_heads=6, max_position_embeddings=8192, global_attn_every_n_layers=3,
                local_attention=128, global_rope_theta=160000.0, local_rope_theta=160000.0,
                pad_token_id=0, bos_token_id=2, eos_token_id=1, cls_token_id=2, sep_token_id=1),
           {"file": "tests/data/tokenizer/bpe/gemma/tokenizer.json", "recipe": "as-is",
            "special_tokens": {"cls_token": "<bos>", "sep_token": "<eos>", "pad_token": "<pad>",
                               "unk_token": "<unk>", "mask_token": "<mask>"}}, 8192,
           note="waits for the Gemma tokenizer (BPE with byte fallback) and its fixture"),
    Family("splade", "naver/splade-cocondenser-ensembledistil (bert-base)", "bert",
           dict(BERT_BASE, vocab_size=30522, max_position_embeddings=512),
           {"file": f"hf-cache:{MINILM}/tokenizer.json", "recipe": "as-is",
            "special_tokens": BERT_SPECIALS}, 512,
           pooling="splade", normalize=False, hades_mode="sparse", reference="sparse-encoder",
           note="waits for ForMaskedLM heads, sparse pooling and SparseEncoder as the reference"),
    Family("nomic-bert", "nomic-ai/nomic-embed-text-v1.5", "nomic_bert",
           dict(BERT_BASE, vocab_size=30528, max_position_embeddings=8192, type_vocab_size=2,
                layer_norm_eps=1e-12, hidden_act="silu"),
           {"file": f"hf-cache:{MINILM}/tokenizer.json", "recipe": "as-is",
            "special_tokens": BERT_SPECIALS}, 8192,
           note="waits for NomicBert; transformers' nomic_bert is the reference"),
    Family("gte", "Alibaba-NLP/gte-base-en-v1.5", "gte",
           dict(BERT_BASE, vocab_size=30528, max_position_embeddings=8192, type_vocab_size=0,
                layer_norm_eps=1e-12, pad_token_id=0),
           {"file": f"hf-cache:{MINILM}/tokenizer.json", "recipe": "as-is",
            "special_tokens": BERT_SPECIALS}, 8192,
           pooling="cls", note="waits for GTE; transformers' gte is the reference"),
    Family("qwen3", "Qwen/Qwen3-Embedding-0.6B", "qwen3",
           dict(vocab_size=151669, hidden_size=1024, intermediate_size=3072, num_hidden_layers=28,
                num_attention_heads=16, num_key_value_heads=8, head_dim=128,
                max_position_embeddings=32768, rope_theta=1000000.0, rms_norm_eps=1e-6,
                tie_word_embeddings=True),
           {"file": "tests/data/tokenizer/bpe/qwen2/tokenizer.json", "recipe": "as-is",
            "special_tokens": {"pad_token": "<|endoftext|>", "eos_token": "<|im_end|>"}}, 8192,
           pooling="lasttoken", note="waits for Qwen3 and its Qwen2-style tokenizer fixture"),
]


def tokenizer_path(family: Family, env: dict) -> Path:
    spec = family.tokenizer["file"]
    if not spec.startswith("hf-cache:"):
        return REPO / spec
    model, _, name = spec[len("hf-cache:"):].rpartition("/")
    repo = Path(env["HF_HUB_CACHE"]) / ("models--" + model.replace("/", "--"))
    ref = repo / "refs" / "main"
    return repo / "snapshots" / ref.read_text().strip() / name if ref.exists() else ref


def unavailable(family: Family, model_types: list[str], env: dict) -> str | None:
    """Why this build cannot run FAMILY, or None."""
    if family.model_type not in model_types:
        return f"hades has no architecture for model_type '{family.model_type}'"
    if not tokenizer_path(family, env).exists():
        return f"its tokenizer {family.tokenizer['file']} is not here"
    if family.hades_mode not in HADES_MODES:
        return f"hades_bench_compare has no '{family.hades_mode}' mode"
    if family.reference not in REFERENCES:
        return f"no runner for the '{family.reference}' reference"
    return None


def select(spec: str, model_types: list[str], env: dict) -> tuple[list[Family], dict]:
    """The families to run and the reasons of those left out."""
    by_name = {f.name: f for f in FAMILIES}
    names = list(by_name) if spec in ("auto", "all") else [n for n in spec.split(",") if n]
    unknown = [n for n in names if n not in by_name]
    if unknown:
        sys.exit(f"unknown families {unknown}; FAMILIES has {list(by_name)}")
    chosen, skipped = [], {}
    for name in names:
        reason = unavailable(by_name[name], model_types, env)
        if reason:
            skipped[name] = reason + (f" ({by_name[name].note})" if by_name[name].note else "")
        else:
            chosen.append(by_name[name])
    return chosen, skipped


def make(family: Family, python: Path, work: Path, env: dict) -> Path:
    folder = work / "families" / family.name
    if (folder / "modules.json").exists():
        return folder
    print(f"writing {folder} ({family.shape} shape, random weights)", flush=True)
    spec = dict(asdict(family), tokenizer=dict(family.tokenizer,
                                               file=str(tokenizer_path(family, env))))
    spec_path = work / f"family-{family.name}.json"
    spec_path.write_text(json.dumps(spec))
    subprocess.run([str(python), str(REFERENCE), "make", str(spec_path), str(folder)], env=env,
                   check=True, capture_output=True)
    return folder


def run_family(family: Family, ctx: dict) -> dict:
    work, env, python, runs = ctx["work"], ctx["env"], ctx["python"], ctx["runs"]
    folder = make(family, python, work, env)
    run_json = ctx["run_json"]
    ref_embeddings = work / f"family-{family.name}-reference.f32"
    out = {"shape": family.shape, "note": family.note, "folder": str(folder),
           "reference": run_json([str(python), str(REFERENCE), "time", str(folder),
                                  str(ctx["corpus"]), str(ctx["threads"]), str(runs),
                                  str(ref_embeddings)], env)}
    dim = json.loads((folder / "config.json").read_text())["hidden_size"]
    for dtype in ctx["dtypes"]:
        embeddings = work / f"family-{family.name}-hades-{dtype}.f32"
        out["hades_" + dtype] = run_json(
            [str(ctx["bench"]), family.hades_mode, "--model", str(folder), "--corpus",
             str(ctx["corpus"]), "--runs", str(runs), "--dtype", dtype, "--embeddings",
             str(embeddings), "--latency-calls", "0"], env)
        out["hades_" + dtype]["cosine_to_reference"] = ctx["cosines"](ref_embeddings, embeddings,
                                                                      dim)
    return out


def run(ctx: dict, spec: str) -> dict:
    """CTX: build, bench (hades_bench_compare), python (the reference venv), texts, short, dtypes,
    runs, threads, env, run_json and cosines (compare.py's). Returns the results by family."""
    work = Path(ctx["build"]) / "bench"
    model_types = ctx["run_json"]([str(ctx["bench"]), "model-types"], ctx["env"])["model_types"]
    chosen, skipped = select(spec, model_types, ctx["env"])
    for name, reason in skipped.items():
        print(f"families: skipped {name}: {reason}", flush=True)
    corpus = work / "families-corpus.json"
    corpus.write_text(json.dumps({"texts": ctx["texts"], "short": ctx["short"]}))
    ctx = dict(ctx, work=work, corpus=corpus)
    results = {"texts": len(ctx["texts"]), "skipped": skipped}
    for family in chosen:
        print(f"families: {family.name} ({family.shape})", flush=True)
        results[family.name] = run_family(family, ctx)
    return results


def report(r: dict) -> None:
    """Prints each family's engines and ratios, and adds the ratios to R."""
    print(f"\nModel families ({r['texts']} texts, end to end; tokenizer alone in its own column)")
    print(f"{'family':12} {'engine':28} {'texts/s':>9} {'tokenize/s':>11} {'x reference':>11} "
          f"{'cosine min':>11} {'mean':>9}")
    for name, f in r.items():
        if name in ("texts", "skipped"):
            continue
        ref = f["reference"]
        print(f"{name:12} {'sentence-transformers fp32':28} {ref['texts_per_s']:9.1f} "
              f"{ref['tokenize_texts_per_s']:11.0f}")
        f["ratios"] = {"tokenizer hades / reference": (f["hades_fp32"]["tokenize_texts_per_s"]
                                                       / ref["tokenize_texts_per_s"])}
        for key in [k for k in f if k.startswith("hades_")]:
            h, dtype = f[key], key[len("hades_"):]
            ratio = h["texts_per_s"] / ref["texts_per_s"]
            f["ratios"][f"throughput hades {dtype} / reference"] = ratio
            cos = h["cosine_to_reference"]
            print(f"{'':12} {'hades ' + dtype:28} {h['texts_per_s']:9.1f} "
                  f"{h['tokenize_texts_per_s']:11.0f} {ratio:11.2f} {cos['min']:11.6f} "
                  f"{cos['mean']:9.6f}")
    for name, reason in r["skipped"].items():
        print(f"  skipped {name}: {reason}")


def main() -> None:
    import compare  # the corpus, venv, cosines and recording of the MiniLM comparison

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=str(REPO / "build"))
    ap.add_argument("--families", default="auto", help="auto, all, or names from FAMILIES")
    ap.add_argument("--texts", type=int, default=300, help="texts of the corpus to run")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dtypes", default="auto", help="as compare.py's")
    ap.add_argument("--venv", default=None, help="as compare.py's")
    ap.add_argument("--record", action="store_true", help="also write the run to bench/results/")
    args = ap.parse_args()
    build = Path(args.build)
    bench = build / "bench" / "hades_bench_compare"
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), HF_HUB_OFFLINE="1",
               HF_HUB_CACHE=os.environ.get("HF_HUB_CACHE", str(build / "hf-hub")))
    python = compare.st_python(Path(args.venv) if args.venv else build / "bench-venv",
                               own=args.venv is None, peers=False)
    c = compare.corpus()
    dtypes = compare.dtype_list(args.dtypes, compare.run_json([str(bench), "gemm"], env))
    results = run({"build": build, "bench": bench, "python": python,
                   "texts": c["texts"][:args.texts], "short": c["short"], "dtypes": dtypes,
                   "runs": args.runs, "threads": args.threads, "env": env,
                   "run_json": compare.run_json, "cosines": compare.cosines}, args.families)
    report(results)
    if args.record:
        print(f"recorded: {compare.record({'families': results}, 'families')}")


if __name__ == "__main__":
    main()
