#include "hub/hf_cache.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>

#include <nlohmann/json.hpp>

#include "hades/error.hpp"

namespace hades {
namespace {

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

bool is_name_part(const std::string& part) {
  if (part.empty() || !std::isalnum(static_cast<unsigned char>(part[0]))) return false;
  return std::all_of(part.begin(), part.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

// Hub ids are "name" or "org/name" of letters, digits, '-', '_' and '.', each part starting with a
// letter or digit, never "..": nothing in an id can point outside the cache.
bool is_valid_model_id(const std::string& id) {
  if (id.size() > 200 || id.find("..") != std::string::npos) return false;
  const size_t slash = id.find('/');
  if (slash == std::string::npos) return is_name_part(id);
  return is_name_part(id.substr(0, slash)) && is_name_part(id.substr(slash + 1));
}

// What check_model_id takes, for the messages that refuse an id.
constexpr const char* kModelIdForms =
    "an id is NAME or ORG/NAME of letters, digits, '-', '_' and '.'";

bool names_a_path(const std::string& model) {
  return !model.empty() && (model[0] == '/' || model[0] == '.' || model[0] == '~');
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

bool is_commit_hash(const std::string& revision) {
  return revision.size() == 40 && std::all_of(revision.begin(), revision.end(), [](char c) {
           return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f');
         });
}

void check_model_id(const std::string& model_id) {
  if (!is_valid_model_id(model_id)) {
    throw Error(ErrorCode::invalid_argument,
                "'" + model_id + "' is not a valid model id (" + kModelIdForms + ")");
  }
}

void check_model_reference(const std::string& model) {
  if (names_a_path(model)) {
    std::error_code error;
    const auto status = std::filesystem::status(model, error);
    if (status.type() == std::filesystem::file_type::not_found) {
      throw Error(ErrorCode::model_not_found, "no such folder: " + model);
    }
    if (error) {
      throw Error(ErrorCode::io_error,
                  "cannot open the model folder " + model + ": " + error.message());
    }
    if (status.type() != std::filesystem::file_type::directory) {
      throw Error(ErrorCode::invalid_argument,
                  "not a folder: " + model + " (a model is a folder of config.json and weights)");
    }
    return;
  }
  if (!is_valid_model_id(model.substr(0, model.find('@')))) {
    throw Error(ErrorCode::invalid_argument,
                "'" + model + "' is neither a model folder nor a Hugging Face model id: give the " +
                    "path of a local folder, or an id, optionally with @REVISION (" +
                    kModelIdForms + ")");
  }
}

void check_revision(const std::string& revision) {
  if (revision.empty() || revision.find('/') != std::string::npos ||
      revision.find("..") != std::string::npos) {
    throw Error(ErrorCode::invalid_argument, "'" + revision + "' is not a valid revision");
  }
}

std::string repo_folder_name(const std::string& model_id) {
  std::string folder = "models--" + model_id;
  for (size_t pos = folder.find('/'); pos != std::string::npos; pos = folder.find('/')) {
    folder.replace(pos, 1, "--");
  }
  return folder;
}

std::optional<std::filesystem::path> find_cached_model(const std::string& model_id,
                                                       const std::string& revision,
                                                       const std::filesystem::path& cache) {
  check_model_id(model_id);
  check_revision(revision);
  const std::filesystem::path repo = cache / repo_folder_name(model_id);
  std::string commit = revision;
  if (!is_commit_hash(revision)) {
    std::ifstream ref(repo / "refs" / revision);
    if (!(ref >> commit) || !is_commit_hash(commit)) return std::nullopt;
  }
  const std::filesystem::path snapshot = repo / "snapshots" / commit;
  if (!std::filesystem::is_directory(snapshot)) return std::nullopt;
  return snapshot;
}

bool is_complete_snapshot(const std::filesystem::path& snapshot) {
  std::error_code ec;
  const auto has = [&](const std::filesystem::path& file) {
    return std::filesystem::is_regular_file(snapshot / file, ec);
  };
  if (!has("config.json")) return false;
  if (has("model.safetensors")) return true;
  std::ifstream index(snapshot / "model.safetensors.index.json");
  const nlohmann::json parsed = nlohmann::json::parse(index, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object() || !parsed.contains("weight_map") || !parsed["weight_map"].is_object()) {
    return false;
  }
  for (const auto& [tensor, shard] : parsed["weight_map"].items()) {
    if (!shard.is_string() || !has(shard.get<std::string>())) return false;
  }
  return true;
}

}  // namespace hades
