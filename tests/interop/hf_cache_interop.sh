#!/usr/bin/env bash
# Interop with the real huggingface_hub (pinned in tests/python/requirements.lock) over a local
# fake hub, both ways:
#   1. `hades pull` fills a cache; huggingface_hub reads it offline (snapshot_download,
#      hf_hub_download with local_files_only, scan_cache_dir's layout checks).
#   2. huggingface_hub.snapshot_download fills a cache from the fake hub; the hub is then stopped
#      and `hades serve` loads the model from that cache with no network.
# Usage: hf_cache_interop.sh HADES_BINARY VENV_DIR, the venv `make python-venv` makes; a venv
# without the pinned huggingface_hub fails this test (it never skips).
set -euo pipefail

HADES=$1
VENV=$2
HERE=$(cd "$(dirname "$0")" && pwd)
FIXTURE=$HERE/../data/models/tiny-distilbert-chonky
MODEL=hades-test/chonky

PIN=$(sed -n 's/^huggingface[-_]hub==//p' "$HERE/../python/requirements.lock")
if ! "$VENV/bin/python" -c "import huggingface_hub, sys; sys.exit(huggingface_hub.__version__ != '$PIN')" 2>/dev/null; then
  echo "FAIL: $VENV lacks huggingface_hub==$PIN (make python-venv makes it from tests/python/requirements.lock)"
  exit 1
fi
PY=$VENV/bin/python

WORK=$(mktemp -d /tmp/hades-interop-XXXXXX)
HUB_PID=
SERVE_PID=
cleanup() {
  [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null
  [ -n "$HUB_PID" ] && kill "$HUB_PID" 2>/dev/null && wait "$HUB_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

python3 "$HERE/../support/fake_hub.py" --port-file "$WORK/port" --log "$WORK/hub.log" \
  --model "$MODEL=$FIXTURE" --lfs-host localhost &
HUB_PID=$!
for _ in $(seq 100); do [ -f "$WORK/port" ] && break; sleep 0.1; done
ENDPOINT=http://127.0.0.1:$(cat "$WORK/port")
export HF_TOKEN= HF_HUB_OFFLINE=0 HF_HUB_DISABLE_TELEMETRY=1 HF_HUB_DISABLE_PROGRESS_BARS=1

echo "== 1. hades pull, then huggingface_hub offline"
HF_ENDPOINT=$ENDPOINT HF_HUB_CACHE=$WORK/c1 "$HADES" pull $MODEL
HF_HUB_OFFLINE=1 HF_ENDPOINT=http://127.0.0.1:1 HF_HUB_CACHE=$WORK/c1 "$PY" - "$FIXTURE" <<'PY'
import filecmp, os, sys
from huggingface_hub import hf_hub_download, scan_cache_dir, snapshot_download
fixture = sys.argv[1]
snapshot = snapshot_download("hades-test/chonky")
for name in os.listdir(fixture):
    assert filecmp.cmp(os.path.join(fixture, name), os.path.join(snapshot, name), shallow=False), name
path = hf_hub_download("hades-test/chonky", "model.safetensors", local_files_only=True)
assert os.path.samefile(path, os.path.join(snapshot, "model.safetensors"))
info = scan_cache_dir()
assert not info.warnings, info.warnings
(repo,) = info.repos
assert repo.repo_id == "hades-test/chonky" and repo.size_on_disk > 990080, repo
(revision,) = repo.revisions
assert revision.refs == {"main"}, revision.refs
print("huggingface_hub read the hades cache offline:", len(revision.files), "files,",
      repo.size_on_disk, "bytes")
PY

echo "== 2. huggingface_hub.snapshot_download, then hades with no network"
HF_ENDPOINT=$ENDPOINT HF_HUB_CACHE=$WORK/c2 "$PY" -c \
  "from huggingface_hub import snapshot_download; print(snapshot_download('$MODEL'))"
kill "$HUB_PID"; wait "$HUB_PID" 2>/dev/null || true; HUB_PID=
# The hub is gone: any request hades made would fail.
export HF_ENDPOINT=$ENDPOINT HF_HUB_CACHE=$WORK/c2 HADES_MODEL_MGR_SOCKET=$WORK/s.sock
export HADES_RUNTIME_AUTOSTART=0
"$HADES" serve --quiet &
SERVE_PID=$!
for _ in $(seq 300); do [ -S "$WORK/s.sock" ] && break; sleep 0.1; done
"$HADES" load $MODEL
"$HADES" list | grep -q "$MODEL" || { echo "FAIL: $MODEL not listed"; exit 1; }
echo "hades loaded the huggingface_hub cache with the hub stopped"
echo PASS
