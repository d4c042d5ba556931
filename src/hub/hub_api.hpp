// The hub's API, as huggingface_hub speaks it (hf_api.py, file_download.py): a revision's commit
// and file list, and each file's metadata. A refusal becomes the error a user can act on:
// model_not_found (no such model or revision), access_denied (gated or private), network_error
// (unreachable, 429 or 5xx), io_error (any other answer).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hub/hub_settings.hpp"

namespace hades::hub {

struct RepoListing {
  std::string commit;
  std::vector<std::string> files;
};

// GET {endpoint}/api/models/{model}/revision/{revision}.
RepoListing fetch_listing(const std::string& model, const std::string& revision,
                          const HubSettings& hub);

struct FileMeta {
  std::string name;
  std::string etag;  // the blob's name in the cache
  std::string url;   // where the bytes are (the file store for LFS files)
  uint64_t size = 0;
};

// HEAD {endpoint}/{model}/resolve/{commit}/{name}, as huggingface_hub's get_hf_file_metadata.
FileMeta fetch_file_meta(const std::string& model, const std::string& commit,
                         const std::string& name, const HubSettings& hub);

}  // namespace hades::hub
