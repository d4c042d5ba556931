// The blobs of the Hugging Face cache (hf_cache.hpp), written as huggingface_hub writes them:
// each downloaded once under its lock file, resumed from blobs/ETAG.incomplete, checked against its
// size and sha256, renamed into place whole; snapshot files are relative links to their blobs and
// refs name the commit of a revision.
#pragma once

#include <filesystem>
#include <string>

#include "hub/download_progress.hpp"
#include "hub/hub_api.hpp"

namespace hades::hub {

// Downloads META to BLOB unless it is there, holding LOCK_FILE (huggingface_hub's
// CACHE/.locks/REPO/ETAG.lock) meanwhile: one process or thread downloads a blob, the others wait
// and reuse it. A transfer that breaks off is resumed, up to HUB.max_attempts times.
void download_blob(const FileMeta& meta, const std::filesystem::path& blob,
                   const std::filesystem::path& lock_file, const HubSettings& hub,
                   DownloadProgress& progress);

// SNAPSHOT/NAME → a relative link to BLOB, as huggingface_hub makes them (_create_symlink), so
// that the cache can move as a whole.
void link_snapshot_file(const std::filesystem::path& blob, const std::filesystem::path& link);

// REPO/refs/REVISION ← COMMIT, unless REVISION is the commit itself.
void write_ref(const std::filesystem::path& repo, const std::string& revision,
               const std::string& commit);

}  // namespace hades::hub
