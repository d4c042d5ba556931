// The models a service loads at start (`--preload`, HADES_PRELOAD), each with its load options.
//
//   sentence-transformers/all-MiniLM-L6-v2,mirth/chonky_modernbert_base_1@abc123?dtype=int8&pin
//
// A comma separates models; options follow a '?' as a query string does (dtype=..., pin,
// keep_alive=..., default_prompt_name=...), so they never clash with a revision's '@'.
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "engine/runtime.hpp"

namespace hades::server {

struct PreloadModel {
  std::string model;
  runtime::LoadModelOptions options;
};

// invalid_argument naming SOURCE and the entry at fault.
std::vector<PreloadModel> parse_preload_list(std::string_view text, std::string_view source);

// How the preloads went, for /ready: a model counts once its first load has succeeded, so that a
// preloaded model evicted or expired later does not take the service out of rotation for good.
class PreloadStatus {
 public:
  explicit PreloadStatus(const std::vector<PreloadModel>& models);
  void loaded(size_t index);
  void failed(size_t index, const std::string& reason);
  std::vector<std::string> models() const;
  // Why the service is not ready yet: one line per preload not loaded (empty: all are).
  std::vector<std::string> waiting() const;

 private:
  struct Entry {
    std::string model;
    bool loaded = false;
    std::string error;
  };
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
};

}  // namespace hades::server
