#include "hub/hf_cache.hpp"

#include <cstdlib>
#include <fstream>
#include <regex>

#include "hades/error.hpp"

namespace hades {
namespace {

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

// Hub ids are "name" or "org/name" of letters, digits, '-', '_' and '.', never ".." or a leading
// '.': nothing in an id can point outside the cache.
bool is_valid_model_id(const std::string& id) {
  static const std::regex pattern(R"(^([A-Za-z0-9][A-Za-z0-9._-]*/)?[A-Za-z0-9][A-Za-z0-9._-]*$)");
  return id.size() <= 200 && std::regex_match(id, pattern) && id.find("..") == std::string::npos;
}

bool is_commit_hash(const std::string& revision) {
  static const std::regex pattern("^[0-9a-f]{40}$");
  return std::regex_match(revision, pattern);
}

}  // namespace

std::filesystem::path hf_hub_cache_dir() {
  if (const std::string cache = env_or_empty("HF_HUB_CACHE"); !cache.empty()) return cache;
  if (const std::string home = env_or_empty("HF_HOME"); !home.empty()) {
    return std::filesystem::path(home) / "hub";
  }
  const std::string user_home = env_or_empty("HOME");
  return std::filesystem::path(user_home.empty() ? "/" : user_home) / ".cache" / "huggingface" /
         "hub";
}

std::optional<std::filesystem::path> find_cached_model(const std::string& model_id,
                                                       const std::string& revision,
                                                       const std::filesystem::path& cache) {
  if (!is_valid_model_id(model_id)) {
    throw Error(ErrorCode::invalid_argument, "'" + model_id + "' is not a valid model id");
  }
  std::string folder = "models--" + model_id;
  for (size_t pos = folder.find('/'); pos != std::string::npos; pos = folder.find('/')) {
    folder.replace(pos, 1, "--");
  }
  const std::filesystem::path repo = cache / folder;
  std::string commit = revision;
  if (!is_commit_hash(revision)) {
    if (revision.find('/') != std::string::npos || revision.find("..") != std::string::npos) {
      throw Error(ErrorCode::invalid_argument, "'" + revision + "' is not a valid revision");
    }
    std::ifstream ref(repo / "refs" / revision);
    if (!(ref >> commit) || !is_commit_hash(commit)) return std::nullopt;
  }
  const std::filesystem::path snapshot = repo / "snapshots" / commit;
  if (!std::filesystem::is_directory(snapshot)) return std::nullopt;
  return snapshot;
}

std::filesystem::path resolve_model(const std::string& model) {
  std::error_code ec;
  if (std::filesystem::is_directory(model, ec)) return model;
  if (const auto cached = find_cached_model(model)) return *cached;
  throw Error(ErrorCode::model_not_found,
              "Model not found: " + model +
                  " (not a folder, and not in the Hugging Face cache at " +
                  hf_hub_cache_dir().string() + ")");
}

}  // namespace hades
