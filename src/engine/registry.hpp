// ModelRegistry: which models are loaded, under which limits.
//
//  - LRU by count (max_models) and by bytes (max_memory_bytes, counted from the weights really
//    held, including evicted models whose last request has not ended yet).
//  - Pinned models are never evicted; a load that could only succeed by evicting one fails.
//  - Idle models are evicted before busy ones. A busy model leaves the registry at once and is
//    freed when its last request ends (reference counts), so it still counts against the bytes.
//  - Single flight: concurrent acquires of one id share one load; a load never holds the
//    registry lock, so requests to other models go on meanwhile.
//  - A failed load is remembered with its reason; it is retried only after a cooldown.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/resident_model.hpp"
#include "engine/runtime.hpp"
#include "hades/error.hpp"

namespace hades::runtime {

struct RegistryLimits {
  size_t max_models = 3;
  std::optional<uint64_t> max_memory_bytes;
  std::chrono::milliseconds failure_cooldown{5000};
  // How long a load waits for a place that loads in progress hold (they become evictable when
  // they finish) before it fails with conflict / out_of_memory.
  std::chrono::milliseconds room_wait{300'000};
  // How long a model stays after its last request (HADES_KEEP_ALIVE); none: until evicted.
  std::optional<std::chrono::milliseconds> keep_alive;
};

struct RegistryHooks {
  // Loads a model by id (resolution included) with its linear layers at `precision`; throws
  // hades::Error.
  std::function<ServedModel(const std::string& id, LinearPrecision precision)> load;
  // The bytes a model will hold once loaded, known before loading it; throws hades::Error.
  std::function<uint64_t(const std::string& id)> estimate_bytes;
  // Told about each eviction, with its reason (for the log).
  std::function<void(const std::string& message)> on_evict;
};

class ModelRegistry {
 public:
  ModelRegistry(RegistryLimits limits, RegistryHooks hooks);

  // The ready model, loading it first if needed (at `precision`, else fp32). `pin` pins it (also
  // when already loaded). A model held (or loading) at another precision than one asked for is
  // conflict naming the one it has: a model is held in one precision at a time.
  std::shared_ptr<ResidentModel> acquire(const std::string& id, const std::string& device, bool pin,
                                         std::optional<LinearPrecision> precision = std::nullopt);
  void unload(const std::string& id);
  // A model's keep-alive from now on (none: until evicted); model_not_found when not held.
  void set_keep_alive(const std::string& id, std::optional<std::chrono::milliseconds> keep_alive);
  // Unloads the ready, unpinned models without requests in flight whose keep-alive has passed
  // since their last request ended. Returns how many it unloaded.
  size_t expire_idle();
  // Called by a load that downloads its files: the entry shows `downloading` with these bytes
  // until DONE reaches TOTAL, then `loading` again.
  void report_download(const std::string& id, uint64_t done_bytes, uint64_t total_bytes);
  std::vector<LoadedModel> list() const;
  // Whether ID is loaded and ready now.
  bool holds_ready(const std::string& id) const;

  uint64_t resident_bytes() const { return accounting_->get(); }
  RegistryStats stats() const;
  void set_eviction_log(std::function<void(const std::string&)> log);
  // Drops every model from the registry (at shutdown); leased models end with their requests.
  void clear();

 private:
  struct Entry {
    ModelState state = ModelState::loading;
    std::shared_ptr<ResidentModel> model;
    bool pinned = false;
    std::optional<std::chrono::milliseconds> keep_alive;
    std::string device;
    LinearPrecision precision = LinearPrecision::fp32;
    ErrorCode error_code = ErrorCode::internal;
    std::string error;
    std::chrono::steady_clock::time_point failed_at;
    uint64_t reserved_bytes = 0;  // expected size while loading
    bool admitted = false;        // passed make_room: counts against the limits while loading
    uint64_t download_done_bytes = 0;
    uint64_t download_total_bytes = 0;
  };

  std::shared_ptr<ResidentModel> load_as_leader(const std::string& id, const std::string& device,
                                                bool pin, LinearPrecision precision,
                                                std::unique_lock<std::mutex>& lock);
  void make_room(const std::string& id, uint64_t needed_bytes, std::unique_lock<std::mutex>& lock);
  bool wait_for_a_load(const std::string& id, std::unique_lock<std::mutex>& lock,
                       std::chrono::steady_clock::time_point deadline);
  bool evict_one(UnloadReason reason, const std::string& message, bool allow_busy);
  void count_load(LoadOutcome outcome, std::chrono::steady_clock::time_point start);  // lock held
  uint64_t reserved_bytes() const;
  size_t counted_models(const std::string& except) const;

  RegistryLimits limits_;
  RegistryHooks hooks_;
  std::shared_ptr<ResidentBytes> accounting_ = std::make_shared<ResidentBytes>();
  mutable std::mutex mutex_;
  std::condition_variable load_finished_;
  std::map<std::string, Entry> entries_;
  RegistryStats stats_;
};

}  // namespace hades::runtime
