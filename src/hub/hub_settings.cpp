#include "hub/hub_settings.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>

#include "hades/error.hpp"
#include "hub/hf_cache.hpp"

namespace hades {
namespace {

namespace fs = std::filesystem;

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

// huggingface_hub's reading of boolean variables (constants._is_true).
bool env_true(const char* name) {
  std::string value = env_or_empty(name);
  std::transform(value.begin(), value.end(), value.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return value == "1" || value == "ON" || value == "YES" || value == "TRUE";
}

}  // namespace

HubSettings hub_settings_from_environment() {
  HubSettings hub;
  if (std::string endpoint = env_or_empty("HF_ENDPOINT"); !endpoint.empty()) {
    while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
    hub.endpoint = endpoint;
  }
  hub.token = env_or_empty("HF_TOKEN");
  if (hub.token.empty()) {
    const std::string home = env_or_empty("HF_HOME");
    const std::string user_home = env_or_empty("HOME");
    const fs::path token_file =
        !home.empty() ? fs::path(home) / "token" : fs::path(user_home) / ".cache/huggingface/token";
    std::ifstream in(token_file);
    std::getline(in, hub.token);
  }
  hub.offline = env_true("HF_HUB_OFFLINE");
  hub.cache = hf_hub_cache_dir();
  if (const std::string timeout = env_or_empty("HF_HUB_DOWNLOAD_TIMEOUT"); !timeout.empty()) {
    char* end = nullptr;
    const long seconds = std::strtol(timeout.c_str(), &end, 10);
    if (*end != '\0' || seconds <= 0) {
      throw Error(ErrorCode::invalid_argument,
                  "HF_HUB_DOWNLOAD_TIMEOUT='" + timeout + "' is not a positive number of seconds");
    }
    hub.timeout_s = seconds;
  }
  return hub;
}

namespace hub {

std::vector<std::string> auth_headers(const HubSettings& settings) {
  if (settings.token.empty()) return {};
  return {"Authorization: Bearer " + settings.token};
}

}  // namespace hub
}  // namespace hades
