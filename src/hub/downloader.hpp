// Model id → local folder, downloading from the Hugging Face hub what the cache lacks.
//
// The protocol is the hub's own, as huggingface_hub speaks it (file_download.py, hf_api.py):
//   GET  {endpoint}/api/models/{id}/revision/{rev}  → {"sha": COMMIT, "siblings": [{"rfilename"}]}
//   HEAD {endpoint}/{id}/resolve/{commit}/{file}    → X-Repo-Commit, ETag (or X-Linked-Etag and
//        X-Linked-Size for LFS files, whose 302 Location points at the file store)
//   GET  the file (or its Location), resumed with Range: bytes=N- from blobs/ETAG.incomplete.
// The cache it fills is the one huggingface_hub reads (hf_cache.hpp), with the same per-blob lock
// files, so that hades and Python processes sharing a cache download each blob once. The API
// calls are hub_api.hpp's, the writing of the cache blob_store.hpp's, the settings from the
// environment hub_settings.hpp's; this file puts them together.
#pragma once

#include <filesystem>
#include <string>

#include "hub/download_progress.hpp"
#include "hub/hf_cache.hpp"
#include "hub/hub_settings.hpp"

namespace hades {

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
