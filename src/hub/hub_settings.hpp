// How hades reaches the Hugging Face hub, read from the variables huggingface_hub reads.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

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

namespace hub {

// The Authorization header of SETTINGS' token; none without one.
std::vector<std::string> auth_headers(const HubSettings& settings);

}  // namespace hub
}  // namespace hades
