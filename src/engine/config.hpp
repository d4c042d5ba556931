// The engine's configuration: its settings, read from the HADES_* environment variables, and the
// parsers for the sizes and durations those (and the CLI's flags and requests) are written in.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace hades::runtime {

struct EngineConfig {
  size_t max_models = 3;                     // HADES_MAX_MODELS
  std::optional<uint64_t> max_memory_bytes;  // HADES_MAX_MEMORY; none = no byte budget
  std::string default_device = "cuda:0";     // HADES_DEFAULT_DEVICE; falls back to cpu
  int64_t max_batch_tokens = 4096;           // token budget of one executor batch
  size_t max_queued_requests = 1024;         // beyond this, requests fail with overloaded
  // HADES_MAX_QUEUE_DELAY: an embed request that would wait longer than this for the work queued
  // ahead of it fails at once with overloaded (0 = no bound; docs/operations.md).
  std::chrono::milliseconds max_queue_delay{500};
  std::chrono::milliseconds failure_cooldown{5000};  // a failed load is not retried sooner
  // HADES_KEEP_ALIVE: how long a model stays loaded after its last request ends (pinned ones
  // always stay); none: until evicted.
  std::optional<std::chrono::milliseconds> keep_alive;
  // Model id → local folder (a folder path, the Hugging Face cache, a download). A download
  // reports its bytes through `progress`, which the model's state shows as `downloading`.
  using DownloadProgress = std::function<void(uint64_t done_bytes, uint64_t total_bytes)>;
  std::function<std::filesystem::path(const std::string& model_id,
                                      const DownloadProgress& progress)>
      resolve_model;
};

// Reads HADES_MAX_MODELS, HADES_MAX_MEMORY ("4GiB", "512MB", bytes), HADES_MAX_QUEUE_DELAY
// ("500ms", "2s", "0"), HADES_DEFAULT_DEVICE into a config; an invalid value is an
// invalid_argument error naming the variable.
EngineConfig engine_config_from_environment();

// "4GiB" → 4294967296; accepts B, KB/MB/GB/TB (powers of 1000) and KiB/MiB/GiB/TiB (1024).
uint64_t parse_byte_size(const std::string& text, const std::string& what);
// "500ms" / "2s" / "750" (milliseconds) → a duration.
std::chrono::milliseconds parse_duration_ms(const std::string& text, const std::string& what);
// A keep-alive as Ollama writes one: "5m", "30s", "1h", "250ms", "0"; "-1" (any negative) is
// forever (none). A bare number is seconds.
std::optional<std::chrono::milliseconds> parse_keep_alive(const std::string& text,
                                                          const std::string& what);
// 1536 → "1.5 KiB": bytes for people, in powers of 1024.
std::string format_byte_size(uint64_t bytes);

// The device that HADES_DEFAULT_DEVICE's value runs on, and why when it is another one.
struct DeviceChoice {
  std::string device;
  std::string note;
};
DeviceChoice resolve_default_device(const std::string& requested);
// "cuda" or "cuda:N".
bool is_cuda_name(const std::string& name);

}  // namespace hades::runtime
