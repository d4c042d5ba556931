// Model id → local folder through the Hugging Face hub cache, as huggingface_hub lays it out:
//   CACHE/models--ORG--NAME/refs/REVISION      (holds the commit hash)
//   CACHE/models--ORG--NAME/snapshots/COMMIT/  (the files, links into ../../blobs)
// CACHE is $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace hades {

std::filesystem::path hf_hub_cache_dir();

// The snapshot folder of MODEL_ID at REVISION (a branch name or a commit hash) in CACHE, or
// nullopt when the cache does not hold it. Refuses ids that could escape the cache.
std::optional<std::filesystem::path> find_cached_model(
    const std::string& model_id, const std::string& revision = "main",
    const std::filesystem::path& cache = hf_hub_cache_dir());

// A local folder path as given, else the cached snapshot of a model id; model_not_found
// otherwise (downloading arrives with the hub issue).
std::filesystem::path resolve_model(const std::string& model);

}  // namespace hades
