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
  1. through hades in-process (hades_bench_compare inprocess, or sparse for SPLADE), once per
     dtype, and
  2. through the reference (sentence-transformers' SentenceTransformer, or SparseEncoder for
     SPLADE, fp32 on CPU, the same thread count, as bench/peers_reference.py runs it),
both end to end (tokenization inside the timed pass), and through each tokenizer alone. The report
gives texts/s, the ratio hades / reference per dtype and each dtype's cosine to the reference; for
sparse vectors also the fraction of texts with the same non-zero indices, the share of the
reference's top-32 indices among hades's, and the max abs difference of the values. An entry's
max_texts takes fewer texts where the reference at that shape is too slow for --texts.

--families auto (the default) takes the families this hades build can load: an entry whose
model_type hades lacks (hades_bench_compare model-types), whose tokenizer file is not in the tree,
or whose hades mode or reference has no runner yet is skipped with its reason printed. Adding a
family is one FAMILIES entry.
"""
from __future__ import annotations

import argparse
import array
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from families_reference import REFERENCES  # imports nothing heavy at module level

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO / "bench" / "families_reference.py"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"  # its tokenizer is bert-base-uncased's
ROBERTA_SPECIALS = {"bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>",
                    "cls_token": "<s>", "unk_token": "<unk>", "pad_token": "<pad>",
                    "mask_token": "<mask>"}
BERT_SPECIALS = {"cls_token": "[CLS]", "sep_token": "[SEP]", "unk_token": "[UNK]",
                 "pad_token": "[PAD]", "mask_token": "[MASK]"}
# hades_bench_compare's modes that embed a corpus (families_reference.REFERENCES: the other side).
HADES_MODES = {"inprocess", "sparse"}
# A sparse vector's active dimensions compared with the reference's: its TOP_K largest.
TOP_K = 32


@dataclass(frozen=True)
class Family:
    name: str
    shape: str  # the published model whose config this is
    model_type: str
    config: dict
    # file: repository-relative, or "hf-cache:ID/FILE" in the benchmark's Hugging Face cache;
    # recipe: families_reference.RECIPES; special_tokens: for transformers' tokenizer files;
    # padding_side (optional, right by default): as the published tokenizer pads.
    tokenizer: dict
    max_seq_length: int
    pooling: str = "mean"
    normalize: bool = True
    hades_mode: str = "inprocess"
    reference: str = "sentence-transformers"  # families_reference.REFERENCES
    note: str = ""
    # Fewer texts than --texts, where the reference at the published shape is too slow for the
    # whole corpus (0: all of them); the report gives each family's count.
    max_texts: int = 0


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
            "special_tokens": {"bos_token": "<bos>", "eos_token": "<eos>", "cls_token": "<bos>",
                               "sep_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>",
                               "mask_token": "<mask>"}}, 8192,
           note="tokenizer: the Gemma-style BPE-with-byte-fallback fixture, 3,000 pieces (256,000 "
                "in the published file): more tokens per text than the real model"),
    Family("splade", "naver/splade-cocondenser-ensembledistil (bert-base)", "bert",
           dict(BERT_BASE, vocab_size=30522, max_position_embeddings=512),
           {"file": f"hf-cache:{MINILM}/tokenizer.json", "recipe": "as-is",
            "special_tokens": BERT_SPECIALS}, 512,
           pooling="splade", normalize=False, hades_mode="sparse", reference="sparse-encoder",
           note="BertForMaskedLM and SpladePooling(max, relu); the decoder bias moved down so that "
                "tens to hundreds of dimensions are active per text, as in a trained SPLADE"),
    Family("nomic-bert", "nomic-ai/nomic-embed-text-v1.5", "nomic_bert",
           dict(BERT_BASE, vocab_size=30528, max_position_embeddings=8192, type_vocab_size=2,
                layer_norm_eps=1e-12, hidden_act="silu", pad_token_id=0,
                rope_parameters={"rope_type": "default", "rope_theta": 1000.0}),
           {"file": f"hf-cache:{MINILM}/tokenizer.json", "recipe": "as-is",
            "special_tokens": BERT_SPECIALS}, 8192,
           note="transformers' nomic_bert config (the hub's nomic_bert dialect loads the same)"),
    Family("gte", "Alibaba-NLP/gte-base-en-v1.5", "gte",
           dict(BERT_BASE, vocab_size=30528, max_position_embeddings=8192, type_vocab_size=0,
                layer_norm_eps=1e-12, pad_token_id=0, hidden_act="gelu",
                rope_parameters={"rope_type": "default", "rope_theta": 500000.0}),
           {"file": f"hf-cache:{MINILM}/tokenizer.json", "recipe": "as-is",
            "special_tokens": BERT_SPECIALS}, 8192,
           pooling="cls", note="transformers' model_type gte (the hub's 'new' loads the same); "
                               "the published NTK rope scaling left out, which costs nothing"),
    Family("qwen3", "Qwen/Qwen3-Embedding-0.6B", "qwen3",
           dict(vocab_size=151669, hidden_size=1024, intermediate_size=3072, num_hidden_layers=28,
                num_attention_heads=16, num_key_value_heads=8, head_dim=128,
                max_position_embeddings=32768, rms_norm_eps=1e-6, tie_word_embeddings=True,
                rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}),
           {"file": "tests/data/tokenizer/bpe/qwen2/tokenizer.json", "recipe": "as-is",
            "special_tokens": {"pad_token": "<|endoftext|>", "eos_token": "<|endoftext|>"},
            "padding_side": "left"}, 8192,
           pooling="lasttoken", max_texts=4,
           note="tokenizer: the Qwen2-style byte-level BPE fixture, 659 ids (151,669 in the "
                "published file): many more tokens per text than the real model"),
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


def read_rows(path: Path, dim: int) -> list:
    values = array.array("f")
    values.frombytes(path.read_bytes())
    return [values[i:i + dim] for i in range(0, len(values), dim)]


def sparse_agreement(reference: Path, other: Path, dim: int) -> dict:
    """Sparse vectors (raw float32 rows over the vocabulary) against the reference's: the
    fraction of texts whose non-zero indices are the same set, the mean fraction of the
    reference's TOP_K largest indices among the other's TOP_K, and the max abs difference of the
    values over all dimensions."""
    same_sets, top_shared, max_abs = 0, [], 0.0
    for x, y in zip(read_rows(reference, dim), read_rows(other, dim)):
        nx = {i for i, v in enumerate(x) if v != 0.0}
        ny = {i for i, v in enumerate(y) if v != 0.0}
        same_sets += nx == ny
        tx = set(sorted(nx, key=lambda i: -x[i])[:TOP_K])
        ty = set(sorted(ny, key=lambda i: -y[i])[:TOP_K])
        top_shared.append(len(tx & ty) / len(tx) if tx else float(not ty))
        max_abs = max([max_abs] + [abs(x[i] - y[i]) for i in nx | ny])
    texts = len(top_shared)
    return {"same_nonzero_indices": same_sets / texts, f"top{TOP_K}_shared": sum(top_shared) / texts,
            "max_abs_diff": max_abs, "texts": texts}


def run_family(family: Family, ctx: dict) -> dict:
    work, env, python, runs = ctx["work"], ctx["env"], ctx["python"], ctx["runs"]
    folder = make(family, python, work, env)
    run_json = ctx["run_json"]
    corpus = ctx["family_corpus"].get(family.name, ctx["corpus"])
    ref_embeddings = work / f"family-{family.name}-reference.f32"
    out = {"shape": family.shape, "note": family.note, "folder": str(folder),
           "reference_name": family.reference, "texts": len(json.loads(corpus.read_text())["texts"]),
           "reference": run_json([str(python), str(REFERENCE), "time", family.reference,
                                  str(folder), str(corpus), str(ctx["threads"]), str(runs),
                                  str(ref_embeddings)], env)}
    config = json.loads((folder / "config.json").read_text())
    sparse = family.hades_mode == "sparse"  # its rows span the vocabulary
    dim = config["vocab_size"] if sparse else config["hidden_size"]
    for dtype in ctx["dtypes"]:
        embeddings = work / f"family-{family.name}-hades-{dtype}.f32"
        out["hades_" + dtype] = run_json(
            [str(ctx["bench"]), family.hades_mode, "--model", str(folder), "--corpus",
             str(corpus), "--runs", str(runs), "--dtype", dtype, "--embeddings",
             str(embeddings), "--latency-calls", "0"], env)
        out["hades_" + dtype]["cosine_to_reference"] = ctx["cosines"](ref_embeddings, embeddings,
                                                                      dim)
        if sparse:
            out["hades_" + dtype]["sparse_to_reference"] = sparse_agreement(ref_embeddings,
                                                                            embeddings, dim)
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
    family_corpus = {}  # the families whose entry takes fewer texts
    for family in chosen:
        if family.max_texts and family.max_texts < len(ctx["texts"]):
            family_corpus[family.name] = work / f"families-corpus-{family.name}.json"
            family_corpus[family.name].write_text(json.dumps(
                {"texts": ctx["texts"][:family.max_texts], "short": ctx["short"]}))
    ctx = dict(ctx, work=work, corpus=corpus, family_corpus=family_corpus)
    results = {"texts": len(ctx["texts"]), "skipped": skipped}
    for family in chosen:
        print(f"families: {family.name} ({family.shape})", flush=True)
        results[family.name] = run_family(family, ctx)
    return results


def report(r: dict) -> None:
    """Prints each family's engines and ratios, and adds the ratios to R."""
    print(f"\nModel families ({r['texts']} texts unless the family says, end to end; tokenizer "
          "alone in its own column)")
    print(f"{'family':12} {'engine':28} {'texts/s':>9} {'tokenize/s':>11} {'x reference':>11} "
          f"{'cosine min':>11} {'mean':>9}")
    for name, f in r.items():
        if name in ("texts", "skipped"):
            continue
        ref = f["reference"]
        label = name if f["texts"] == r["texts"] else f"{name} ({f['texts']})"
        print(f"{label:12} {f.get('reference_name', 'sentence-transformers') + ' fp32':28} "
              f"{ref['texts_per_s']:9.2f} {ref['tokenize_texts_per_s']:11.0f}")
        f["ratios"] = {"tokenizer hades / reference": (f["hades_fp32"]["tokenize_texts_per_s"]
                                                       / ref["tokenize_texts_per_s"])}
        for key in [k for k in f if k.startswith("hades_")]:
            h, dtype = f[key], key[len("hades_"):]
            ratio = h["texts_per_s"] / ref["texts_per_s"]
            f["ratios"][f"throughput hades {dtype} / reference"] = ratio
            cos = h["cosine_to_reference"]
            print(f"{'':12} {'hades ' + dtype:28} {h['texts_per_s']:9.2f} "
                  f"{h['tokenize_texts_per_s']:11.0f} {ratio:11.2f} {cos['min']:11.6f} "
                  f"{cos['mean']:9.6f}")
            if "sparse_to_reference" in h:
                sp = h["sparse_to_reference"]
                print(f"{'':12} {'':28} same non-zero indices {sp['same_nonzero_indices']:.2f}, "
                      f"top-{TOP_K} shared {sp[f'top{TOP_K}_shared']:.3f}, max abs diff "
                      f"{sp['max_abs_diff']:.2e}")
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
