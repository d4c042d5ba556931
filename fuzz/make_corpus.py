#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora (fuzz/corpus/NAME/) from the fixtures in tests/data.

Seeds are small on purpose (a few KB per harness): real configs, tokenizer.json files cut down to a
few hundred vocabulary entries, small safetensors files, requests of every route. Run from the
repository root; the output is committed, so run it again only when the fixtures change.
"""
import base64
import json
import struct
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
OUT = ROOT / "fuzz" / "corpus"


def write(target, name, data):
    folder = OUT / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def safetensors(tensors, metadata=None):
    """tensors: [(name, dtype, shape, raw bytes)] → a file as the reference writer lays it out."""
    header, data = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def safetensors_seeds():
    f32 = struct.pack("<6f", 0.5, -1.0, 2.0, 0.0, 3.5, -0.25)
    write("safetensors", "f32_matrix", safetensors(
        [("encoder.layer.0.attention.self.query.weight", "F32", [2, 3], f32)], {"format": "pt"}))
    write("safetensors", "mixed_dtypes", safetensors([
        ("a", "F32", [2], f32[:8]), ("b", "F16", [2, 2], bytes(8)), ("c", "BF16", [3], bytes(6)),
        ("ids", "I64", [1], struct.pack("<q", 7)), ("mask", "BOOL", [2], b"\x01\x00")]))
    write("safetensors", "scalar_and_empty", safetensors(
        [("scalar", "F32", [], f32[:4]), ("empty", "F32", [0, 4], b"")]))
    # The real header of a fixture model, with its data section cut short (invalid on purpose).
    real = (DATA / "models" / "tiny-bert-h32-a2-l2-gelu" / "model.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", real[:8])
    write("safetensors", "fixture_header_truncated", real[: 8 + n + 64])


def config_seeds():
    for folder in ["tiny-bertcls-h32-a2-l2-seqcls", "tiny-bertcls-h32-a2-l2-tokcls",
                   "tiny-bert-h32-a2-l2-gelu", "tiny-distilbert-d32-h4-l2-gelu-seqcls",
                   "tiny-distilbert-d32-h4-l2-gelu", "tiny-modernbert-h24-a2-l5-w8-seqcls",
                   "tiny-modernbert-h32-a4-l4-w16-classic-tokcls", "tiny-xlmr-h32-a4-l2-gelu-seqcls",
                   "tiny-xlmr-h36-a3-l1-gelu-new-pad3-tokcls",
                   "tiny-roberta-h32-a4-l2-gelu-tokcls", "tiny-st6-qwen3",
                   "tiny-nomic-h16-a2-l2-swiglu-seqcls", "tiny-nomic-h16-a2-l2-swiglu-hub",
                   "tiny-gte-h16-a2-l2-geglu-seqcls", "tiny-gte-h16-a2-l2-geglu-hub"]:
        write("model_config", folder, (DATA / "models" / folder / "config.json").read_bytes())


def cut_wordpiece(path, keep):
    t = json.loads(path.read_text())
    t["model"]["vocab"] = {k: v for k, v in t["model"]["vocab"].items() if v < keep}
    t["added_tokens"] = [a for a in t["added_tokens"] if a["id"] < keep]
    return json.dumps(t, ensure_ascii=False)


def cut_bpe(path, keep, merges):
    t = json.loads(path.read_text())
    t["model"]["vocab"] = {k: v for k, v in t["model"]["vocab"].items() if v < keep}
    return cut_bpe_merges(t, merges)


def cut_bpe_merges(t, merges):
    """The first MERGES merges whose tokens the cut vocabulary still holds."""
    vocab = t["model"]["vocab"]
    ids = set(vocab.values())
    kept = []
    for merge in t["model"]["merges"]:
        a, b = merge if isinstance(merge, list) else merge.split(" ", 1)
        if a in vocab and b in vocab and a + b in vocab:
            kept.append(merge)
    t["model"]["merges"] = kept[:merges]
    t["added_tokens"] = [a for a in t["added_tokens"] if a["id"] in ids]
    return json.dumps(t, ensure_ascii=False)


def cut_byte_fallback(path, pieces, merges):
    """A SentencePiece BPE (Gemma-style): its vocabulary ends with the single characters, so the
    specials and the 256 byte tokens, the Latin single characters and the first PIECES longer
    pieces are kept, and the merges among them."""
    t = json.loads(path.read_text())
    vocab = t["model"]["vocab"]
    longer = [k for k in vocab if len(k) > 1 and not k.startswith("<")][:pieces]
    kept = {k: v for k, v in vocab.items()
            if k.startswith("<") or (len(k) == 1 and ord(k) < 0x250) or k in longer}
    t["model"]["vocab"] = kept
    return cut_bpe_merges(t, merges)


def cut_unigram(path, keep, charsmap_from=None):
    """The first KEEP pieces (and the byte tokens among the rest, a few of them); the charsmap of
    CHARSMAP_FROM (a small one) instead of the file's own."""
    t = json.loads(path.read_text())
    vocab = t["model"]["vocab"]
    t["model"]["vocab"] = vocab[:keep] + [v for v in vocab[keep:] if v[0].startswith("<0x")][:40]
    t["added_tokens"] = [a for a in t["added_tokens"] if a["id"] < keep]
    if charsmap_from is not None:
        small = json.loads(charsmap_from.read_text())["normalizer"]
        normalizer = t["normalizer"]
        steps = normalizer["normalizers"] if normalizer["type"] == "Sequence" else [normalizer]
        for step in steps:
            if step["type"] == "Precompiled":
                step["precompiled_charsmap"] = small["precompiled_charsmap"]
    return json.dumps(t, ensure_ascii=False)


def rules_charsmap():
    """The small charsmap blob of the spm-rules fixture (tools/fixtures/gen_unigram_fixtures.py)."""
    path = DATA / "tokenizer" / "unigram" / "spm-rules" / "tokenizer.json"
    return base64.b64decode(json.loads(path.read_text())["normalizer"]["precompiled_charsmap"])


def charsmap_seeds():
    """precompiled_charsmap: [u16 little-endian text length][UTF-8 text][charsmap blob]."""
    blob = rules_charsmap()
    texts = ["\ufb01x \uff21\u0301 ss", "a\u200bb \ud55c\uad6d \u2460\u3000\t", "plain ascii"]
    for i, text in enumerate(texts):
        raw = text.encode()
        write("precompiled_charsmap", f"rules_{i}", struct.pack("<H", len(raw)) + raw + blob)
    raw = texts[0].encode()
    write("precompiled_charsmap", "rules_truncated", struct.pack("<H", len(raw)) + raw + blob[:300])
    flipped = bytearray(blob)
    flipped[8] ^= 0x40  # a unit of the trie: its offset or label changes
    write("precompiled_charsmap", "rules_flipped", struct.pack("<H", len(raw)) + raw + flipped)


def tokenizer_json_seeds():
    tok = DATA / "tokenizer"
    write("tokenizer_json", "wordpiece_uncased", cut_wordpiece(tok / "bert-uncased" / "tokenizer.json", 120))
    write("tokenizer_json", "wordpiece_nfkc", cut_wordpiece(tok / "nfkc-replace-digits" / "tokenizer.json", 120))
    write("tokenizer_json", "wordpiece_seq_nfd", cut_wordpiece(tok / "seq-nfd-whitespace" / "tokenizer.json", 120))
    write("tokenizer_json", "bpe_split", cut_bpe(tok / "bpe" / "synthetic-split" / "tokenizer.json", 120, 40))
    write("tokenizer_json", "bpe_affix", cut_bpe(tok / "bpe" / "synthetic-affix" / "tokenizer.json", 120, 40))
    write("tokenizer_json", "bpe_bytelevel", cut_bpe(tok / "bpe" / "modernbert" / "tokenizer.json", 300, 40))
    # Gemma-style BPE with byte fallback (mmBERT's): the 256 byte tokens, Latin characters, pieces.
    write("tokenizer_json", "bpe_byte_fallback",
          cut_byte_fallback(tok / "bpe" / "gemma" / "tokenizer.json", 150, 80))
    write("tokenizer_json", "bpe_byte_fallback_legacy",
          cut_byte_fallback(tok / "bpe" / "gemma-legacy" / "tokenizer.json", 150, 80))
    write("tokenizer_json", "bpe_qwen2", cut_bpe(tok / "bpe" / "qwen2" / "tokenizer.json", 300, 40))
    rules = tok / "unigram" / "spm-rules" / "tokenizer.json"
    write("tokenizer_json", "unigram_rules", cut_unigram(rules, 150))
    write("tokenizer_json", "unigram_first", cut_unigram(tok / "unigram" / "spm-first" / "tokenizer.json", 150, rules))


def tokenize_seeds():
    texts = json.loads((DATA / "tokenizer" / "corpus.json").read_text())
    texts = texts if isinstance(texts, list) else next(iter(texts.values()))
    picked = [t for t in texts if isinstance(t, str) and 0 < len(t.encode()) < 200][:12]
    for i, text in enumerate(picked):
        write("tokenize", f"corpus_{i:02d}", bytes([i * 21 % 256]) + text.encode())
    write("tokenize", "invalid_utf8", b"\x03abc\xff\xfe def \xc3")


REQUESTS = {
    "embed": {"model": "org/name", "inputs": ["first text", "second"], "normalize": True,
              "pooling": "mean", "truncate": True, "truncation_direction": "left"},
    "tokenize": {"model": "org/name", "inputs": "one text", "add_special_tokens": False},
    "load": {"model": "org/name@main", "pin": True, "default_prompt_name": "query"},
    "classify": {"model": "org/name", "inputs": ["a", "b"], "pairs": ["c", "d"]},
    "rerank": {"model": "org/name", "query": "q", "documents": ["d1", "d2"]},
    "chunk": {"model": "org/name", "inputs": ["a long document"], "max_length": 128},
    "unload": {"model": "org/name"},
    "openai_embed": {"model": "org/name", "input": ["a", "b"], "encoding_format": "base64",
                     "dimensions": 8, "user": "u"},
    "tei_embed": {"inputs": "a", "normalize": False, "truncate": True,
                  "truncation_direction": "Right", "dimensions": 4},
    "openai_embed_ids": {"model": "org/name", "input": [[101, 7592, 102], [101, 102]]},
    "tei_embed_ids": {"inputs": [101, 7592, 102], "truncate": True, "truncation_direction": "Left"},
    "tei_rerank": {"query": "q", "texts": ["a", "b"], "raw_scores": True, "return_text": True},
    "tei_predict": {"inputs": [["a", "b"], ["c", "d"]], "raw_scores": False},
    "tei_tokenize": {"inputs": ["a b"], "add_special_tokens": False},
    "tei_decode": {"ids": [[101, 7592, 102]], "skip_special_tokens": True},
}
ROUTES = {"embed": "/v1/embed", "tokenize": "/v1/tokenize", "load": "/v1/models/load",
          "classify": "/v1/classify", "rerank": "/v1/rerank", "chunk": "/v1/chunk",
          "unload": "/v1/models/unload", "openai_embed": "/v1/embeddings", "tei_embed": "/embed",
          "openai_embed_ids": "/v1/embeddings", "tei_embed_ids": "/embed",
          "tei_rerank": "/rerank", "tei_predict": "/predict", "tei_tokenize": "/tokenize",
          "tei_decode": "/decode"}
SELECTORS = {"embed": 0, "tokenize": 1, "load": 2, "classify": 3, "rerank": 4, "chunk": 5, "unload": 6,
             "openai_embed": 8 | 0x80, "tei_embed": 9 | 0x80, "tei_rerank": 10 | 0x80,
             "openai_embed_ids": 8 | 0x80, "tei_embed_ids": 9 | 0x80,
             "tei_predict": 11 | 0x80, "tei_tokenize": 12 | 0x80, "tei_decode": 13 | 0x80}


def request_seeds():
    for name, body in REQUESTS.items():
        text = json.dumps(body)
        write("request_body", name, bytes([SELECTORS[name]]) + text.encode())
        raw = (f"POST {ROUTES[name]} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(text.encode())}\r\n\r\n{text}")
        write("http_request", name, raw)
    write("http_request", "get_status", "GET /v1/status?verbose=1 HTTP/1.1\r\nHost: localhost\r\n\r\n")
    for name, value in [("bearer", "Bearer fuzz-key-0123456789"), ("bearer_prefix", "Bearer fuzz-key"),
                        ("basic", "Basic Zm9vOmJhcg==")]:
        write("http_request", "auth_" + name,
              f"GET /v1/models HTTP/1.1\r\nHost: h\r\nAuthorization: {value}\r\n\r\n")
    chunked = json.dumps(REQUESTS["embed"]).encode()
    write("http_request", "embed_chunked",
          b"POST /v1/embed HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
          + f"{len(chunked):x}\r\n".encode() + chunked + b"\r\n0\r\n\r\n")
    write("request_body", "bad_surrogate", b"\x00" + b'{"model":"m","inputs":["\\ud800"]}')


def hub_seeds():
    # ETag, Location and commit values, one per line, as fuzz/hub_headers_fuzz.cpp splits them.
    write("hub_headers", "etag_location_commit", 'W/"a1b2c3d4e5"\n'
          "https://cdn-lfs.huggingface.co/repos/ab/cd/file?x=1\n"
          "0123456789abcdef0123456789abcdef01234567")
    write("hub_headers", "sha256_relative_branch",
          '"4f2e8d1b0c9a7e6f5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e"\n'
          "/api/resolve-cache/models/org/name/main/config.json\nmain")
    write("hub_headers", "odd_values", '""\nhttp://[::1]:8080\n../../etc')
    # Then raw header lines of answers (a redirect and its target), as libcurl hands them over.
    write("hub_headers", "head_answer_lfs",
          '"abc"\n/x\nmain\n'
          "HTTP/1.1 302 Found\r\nLocation: https://cdn/x\r\nX-Linked-Size: 990080\r\n"
          'X-Linked-Etag: "4f2e8d1b0c9a7e6f5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e"\r\n'
          "X-Repo-Commit: 0123456789abcdef0123456789abcdef01234567\r\n\r\n"
          "HTTP/2 200\r\ncontent-length: 12\r\nETag: W/\"12-abc\"\r\n\r\n")
    write("hub_headers", "head_answer_odd_sizes",
          '""\n\n\nContent-Length: 99999999999999999999999\r\n'
          "X-Linked-Size:  -1 \r\n:\r\nNo-Colon-Line\r\n   Spaced Name  :  v  \r\n")


if __name__ == "__main__":
    safetensors_seeds()
    config_seeds()
    tokenizer_json_seeds()
    charsmap_seeds()
    tokenize_seeds()
    request_seeds()
    hub_seeds()
