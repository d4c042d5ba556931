// Model id → local folder, downloading from the Hugging Face hub what the cache lacks.
//
// The protocol is the hub's own, as huggingface_hub speaks it (file_download.py, hf_api.py):
//   GET  {endpoint}/api/models/{id}/revision/{rev}  → {"sha": COMMIT, "siblings": [{"rfilename"}]}
//   HEAD {endpoint}/{id}/resolve/{commit}/{file}    → X-Repo-Commit, ETag (or X-Linked-Etag and
//        X-Linked-Size for LFS files, whose 302 Location points at the file store)
//   GET  the file (or its Location), resumed with Range: bytes=N- from blobs/ETAG.incomplete.
// The cache it fills is the one huggingface_hub reads (hf_cache.hpp), with the same per-blob lock
// files, so that hades and Python processes sharing a cache download each blob once.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "hub/hf_cache.hpp"

namespace hades {

struct HubSettings {
  std::string endpoint = "https://huggingface.co";  // HF_ENDPOINT
  std::string token;            // HF_TOKEN, else the file $HF_HOME/token; empty: anonymous
  bool offline = false;         // HF_HUB_OFFLINE=1: never touch the network
  std::filesystem::path cache;  // hf_hub_cache_dir()
  long timeout_s = 10;          // HF_HUB_DOWNLOAD_TIMEOUT: a transfer stalled this long fails
  int max_attempts = 5;         // tries per file; each resumes where the last one broke off
};

// Reads HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE, HF_HUB_CACHE / HF_HOME, HF_HUB_DOWNLOAD_TIMEOUT.
HubSettings hub_settings_from_environment();

struct DownloadEvent {
  enum class Kind { start, progress, file_done, done };
  Kind kind = Kind::progress;
  std::string model;
  std::string commit;
  std::string file;  // the file in transfer (progress, file_done)
  size_t files_total = 0;
  size_t files_done = 0;
  uint64_t total_bytes = 0;        // all the files fetched for the model
  uint64_t done_bytes = 0;         // of those, in the cache now (earlier runs' bytes included)
  uint64_t transferred_bytes = 0;  // received over the network by this call
};
// Called on the downloading thread; progress at most every 100 ms.
using DownloadObserver = std::function<void(const DownloadEvent& event)>;

struct PullOptions {
  std::string revision = "main";  // a branch, tag or commit hash
  DownloadObserver observer;
};

// The snapshot folder of MODEL_ID at the revision, downloading the files a load needs that the
// cache lacks. Errors: model_not_found (no such model or revision; offline and not cached),
// access_denied (gated or private), network_error (hub unreachable, not cached), unsupported (no
// safetensors weights), io_error (disk full, a download that fails its size or sha256 check).
std::filesystem::path pull_model(const std::string& model_id, const PullOptions& options,
                                 const HubSettings& hub);

// A local folder path as given, else "ORG/NAME[@REVISION]" from the cache when complete there,
// else downloaded (pull_model) unless offline.
std::filesystem::path resolve_model(const std::string& model, const DownloadObserver& observer = {},
                                    const HubSettings& hub = hub_settings_from_environment());

}  // namespace hades
