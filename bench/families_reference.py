#!/usr/bin/env python3
"""The reference side of bench/compare_families.py; runs in the benchmark's venv (torch,
transformers, sentence-transformers, tokenizers as bench/compare.py pins them).

    families_reference.py make SPEC.json FOLDER
        writes the family that SPEC describes (one entry of compare_families.FAMILIES, as JSON) as
        a sentence-transformers folder: transformers' AutoModel for SPEC's model_type and config,
        at a published model's shape, with seeded random weights (the real weights cannot be
        fetched here; a forward pass costs the same whatever the weights are), SPEC's tokenizer,
        and SPEC's pooling and Normalize modules; SPEC's pooling "splade" makes a SparseEncoder
        folder instead: AutoModelForMaskedLM, the Transformer of task fill-mask, SpladePooling
        (max, relu).
    families_reference.py time REFERENCE FOLDER CORPUS THREADS RUNS EMBEDDINGS
        REFERENCE's encode fp32 over the corpus (SentenceTransformer for "sentence-transformers",
        SparseEncoder for "sparse-encoder") as bench/peers_reference.py runs it (batches of 32),
        tokenization inside the timed pass: texts/s (median of RUNS after a warm-up pass), load
        time, peak RSS, and the tokenizer alone as encode calls it (texts sorted by length,
        longest first, batches of 32, truncated at max_seq_length): texts/s; writes the
        embeddings to EMBEDDINGS as raw float32 rows in corpus order (a sparse vector scattered
        over the vocabulary).
"""
from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BATCH = 32
# Moves the random MLM decoder's bias down so that, as in a trained SPLADE, tens (a query) to
# hundreds (a long passage) of the vocabulary's dimensions are active per text, not thousands.
SPLADE_BIAS_SHIFT = -2.0
# Each reference `time` runs: its class in sentence_transformers.
REFERENCES = {"sentence-transformers": "SentenceTransformer", "sparse-encoder": "SparseEncoder"}


def roberta_pipeline(path: Path):
    """A byte-level BPE vocabulary behind roberta-base's tokenizer.json pipeline: no normalizer,
    ByteLevel without prefix space, RobertaProcessing, RoBERTa's special tokens."""
    from tokenizers import AddedToken, Tokenizer, decoders, pre_tokenizers, processors

    tok = Tokenizer.from_file(str(path))
    tok.normalizer = None
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True)
    tok.decoder = decoders.ByteLevel()
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True, normalized=False)])
    tok.post_processor = processors.RobertaProcessing(
        ("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")), trim_offsets=True,
        add_prefix_space=False)
    return tok


def as_is(path: Path):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(path))


# How a SPEC's "tokenizer" recipe turns its file into the family's tokenizer.
RECIPES = {"as-is": as_is, "roberta": roberta_pipeline}


def random_model(spec: dict, vocab_size: int):
    """transformers' model of SPEC's model_type and config, seeded random weights: the bare
    encoder, or its masked-LM model for a SPLADE spec."""
    import torch
    from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM

    # A stand-in tokenizer may hold more ids than the published vocabulary.
    config = dict(spec["config"], vocab_size=max(spec["config"]["vocab_size"], vocab_size))
    config = AutoConfig.for_model(spec["model_type"], **config)
    torch.manual_seed(0)
    if spec["pooling"] != "splade":
        return AutoModel.from_config(config).eval()
    model = AutoModelForMaskedLM.from_config(config).eval()
    with torch.no_grad():
        model.get_output_embeddings().bias.add_(SPLADE_BIAS_SHIFT)
    return model


def make(spec: dict, folder: Path) -> None:
    from sentence_transformers import SentenceTransformer, SparseEncoder
    from sentence_transformers.base.modules import Normalize, Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling
    from sentence_transformers.sparse_encoder.modules import SpladePooling
    from transformers import PreTrainedTokenizerFast

    tokenizer = RECIPES[spec["tokenizer"]["recipe"]](Path(spec["tokenizer"]["file"]))
    model = random_model(spec, tokenizer.get_vocab_size())
    sparse = spec["pooling"] == "splade"
    with tempfile.TemporaryDirectory() as scratch:
        model.save_pretrained(scratch, safe_serialization=True)
        PreTrainedTokenizerFast(tokenizer_object=tokenizer,
                                model_max_length=spec["max_seq_length"],
                                padding_side=spec["tokenizer"].get("padding_side", "right"),
                                **spec["tokenizer"]["special_tokens"]).save_pretrained(scratch)
        transformer = Transformer(scratch, max_seq_length=spec["max_seq_length"],
                                  transformer_task="fill-mask" if sparse else "feature-extraction")
        if sparse:
            pooling = SpladePooling(pooling_strategy="max", activation_function="relu")
            SparseEncoder(modules=[transformer, pooling], device="cpu").save(str(folder))
            return
        modules = [transformer, Pooling(transformer.get_embedding_dimension(),
                                        pooling_mode=spec["pooling"])]
        if spec["normalize"]:
            modules.append(Normalize())
        SentenceTransformer(modules=modules, device="cpu").save(str(folder))


def median_pass(one_pass, runs: int):
    """Median seconds of RUNS passes after a warm-up pass, each pass's seconds, and what the
    warm-up pass returned."""
    result = one_pass()
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        one_pass()
        seconds.append(time.perf_counter() - start)
    return sorted(seconds)[len(seconds) // 2], seconds, result


def time_reference(reference: str, folder: Path, corpus_path: Path, threads: int, runs: int,
                   embeddings_path: Path) -> dict:
    import numpy as np
    import sentence_transformers
    import torch

    torch.set_num_threads(threads)
    start = time.perf_counter()
    model = getattr(sentence_transformers, REFERENCES[reference])(str(folder), device="cpu")
    load_ms = (time.perf_counter() - start) * 1e3
    texts = json.loads(corpus_path.read_text())["texts"]
    seconds, run_seconds, embeddings = median_pass(
        lambda: model.encode(texts, batch_size=BATCH, convert_to_tensor=True), runs)
    if embeddings.is_sparse:
        embeddings = embeddings.to_dense()
    embeddings.float().numpy().astype(np.float32).tofile(embeddings_path)
    # The tokenizer alone, as encode() calls it: sorted by length, batches of BATCH.
    by_length = sorted(texts, key=len, reverse=True)
    batches = [by_length[i:i + BATCH] for i in range(0, len(texts), BATCH)]
    tokenize_seconds, _, _ = median_pass(lambda: [model.preprocess(b) for b in batches], runs)
    return {"texts_per_s": len(texts) / seconds, "run_seconds": run_seconds,
            "tokenize_texts_per_s": len(texts) / tokenize_seconds, "load_ms": load_ms,
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "make":
        make(json.loads(Path(sys.argv[2]).read_text()), Path(sys.argv[3]))
    elif len(sys.argv) == 8 and sys.argv[1] == "time":
        print(json.dumps(time_reference(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]),
                                        int(sys.argv[5]), int(sys.argv[6]), Path(sys.argv[7]))))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
