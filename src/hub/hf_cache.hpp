// Model id → local folder through the Hugging Face hub cache, as huggingface_hub lays it out:
//   CACHE/models--ORG--NAME/refs/REVISION        (holds the commit hash)
//   CACHE/models--ORG--NAME/snapshots/COMMIT/F   (a relative link to ../../blobs/ETAG)
//   CACHE/models--ORG--NAME/blobs/ETAG           (the bytes; ETAG is the sha256 of LFS files,
//                                                 the git blob sha1 of others)
//   CACHE/.locks/models--ORG--NAME/ETAG.lock     (held while ETAG is being downloaded)
// CACHE is $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace hades {

std::filesystem::path hf_hub_cache_dir();

// Throws invalid_argument unless MODEL_ID is a hub id ("name" or "org/name" of letters, digits,
// '-', '_', '.') and REVISION a branch, tag or commit name: nothing in them can leave the cache.
void check_model_id(const std::string& model_id);
void check_revision(const std::string& revision);
bool is_commit_hash(const std::string& revision);

// Refuses MODEL, a model as a request or the command line names one, when it is no folder and
// cannot be a hub id ("ORG/NAME" or "NAME", optionally "@REVISION") either: a path (absolute, or
// starting with "." or "~") is model_not_found "no such folder: PATH" (invalid_argument where
// something other than a folder is there); anything else is invalid_argument naming the forms a
// model takes.
void check_model_reference(const std::string& model);

// "org/name" → "models--org--name".
std::string repo_folder_name(const std::string& model_id);

// The snapshot folder of MODEL_ID at REVISION (a branch name or a commit hash) in CACHE, or
// nullopt when the cache does not hold it. Refuses ids that could escape the cache.
std::optional<std::filesystem::path> find_cached_model(
    const std::string& model_id, const std::string& revision = "main",
    const std::filesystem::path& cache = hf_hub_cache_dir());

// Whether SNAPSHOT holds what a load needs: config.json and safetensors weights (every shard an
// index names). A snapshot that huggingface_hub filled partly (say config.json alone) is not.
bool is_complete_snapshot(const std::filesystem::path& snapshot);

}  // namespace hades
