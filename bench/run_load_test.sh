#!/usr/bin/env bash
# Runs bench/load_test.cpp against a fresh `hades serve` holding more models than it may keep:
# COPIES copies of all-MiniLM-L6-v2 (distinct folders of symlinks, so distinct model ids) with
# HADES_MAX_MODELS=MAX_MODELS, so that models are loaded and evicted during the run.
#   bench/run_load_test.sh [BUILD] [-- extra hades_load_test flags, e.g. --levels 0.5,1,2 --seconds 20]
# Environment: COPIES (3), MAX_MODELS (2), SERVE_FLAGS (extra `hades serve` flags).
set -euo pipefail
build=${1:-build}
shift || true
[[ "${1:-}" == "--" ]] && shift
here=$(cd "$(dirname "$0")/.." && pwd)
copies=${COPIES:-3}
max_models=${MAX_MODELS:-2}
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

snapshot=$(ls -d "$here/$build"/hf-hub/models--sentence-transformers--all-MiniLM-L6-v2/snapshots/* | head -1)
corpus="$here/$build/bench/compare-corpus.json"
if [[ ! -f "$corpus" ]]; then
  echo "no corpus at $corpus: run bench/compare.py once (it writes it), or make bench-compare" >&2
  exit 1
fi
models=()
for i in $(seq 1 "$copies"); do
  mkdir -p "$work/minilm-$i"
  (cd "$snapshot" && find . -type f -o -type l | while read -r f; do
    mkdir -p "$work/minilm-$i/$(dirname "$f")"
    ln -s "$(readlink -f "$f")" "$work/minilm-$i/$f"
  done)
  models+=(--model "$work/minilm-$i")
done

HADES_MAX_MODELS=$max_models "$here/$build/hades" serve --socket "$work/hades.sock" --quiet \
  ${SERVE_FLAGS:-} &
server=$!
for _ in $(seq 100); do [[ -S "$work/hades.sock" ]] && break; sleep 0.1; done
"$here/$build/bench/hades_load_test" --socket "$work/hades.sock" --corpus "$corpus" "${models[@]}" "$@"
curl -s --unix-socket "$work/hades.sock" http://localhost/v1/status |
  python3 -c 'import json,sys; s=json.load(sys.stdin)["stats"]; print("server:", {k: s[k] for k in ("evictions","loads","rejected_requests","batches","mean_batch_requests")})' >&2 || true
