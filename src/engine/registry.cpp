#include "engine/registry.hpp"

#include <algorithm>

namespace hades::runtime {
ModelRegistry::ModelRegistry(RegistryLimits limits, RegistryHooks hooks)
    : limits_(limits), hooks_(std::move(hooks)) {}

namespace {

void check_precision(const std::string& id, LinearPrecision held, ModelState state,
                     std::optional<LinearPrecision> asked) {
  if (!asked || *asked == held) return;
  throw Error(ErrorCode::conflict,
              id + (state == ModelState::ready ? " is loaded in " : " is loading in ") +
                  std::string(linear_precision_name(held)) + "; unload it to load it in " +
                  std::string(linear_precision_name(*asked)));
}

}  // namespace

std::shared_ptr<ResidentModel> ModelRegistry::acquire(const std::string& id,
                                                      const std::string& device, bool pin,
                                                      std::optional<LinearPrecision> precision) {
  std::unique_lock lock(mutex_);
  for (;;) {
    const auto it = entries_.find(id);
    if (it == entries_.end()) {
      return load_as_leader(id, device, pin, precision.value_or(LinearPrecision::fp32), lock);
    }
    Entry& entry = it->second;
    // A failed load at another precision says nothing about this one: try it now.
    if (entry.state != ModelState::failed) {
      check_precision(id, entry.precision, entry.state, precision);
    } else if (precision && *precision != entry.precision) {
      entries_.erase(it);
      continue;
    }
    switch (entry.state) {
      case ModelState::ready: entry.pinned = entry.pinned || pin; return entry.model;
      case ModelState::downloading:
      case ModelState::loading:
        // Another request leads this load (or download); wait for its outcome and look again.
        load_finished_.wait(lock);
        break;
      case ModelState::failed:
        if (std::chrono::steady_clock::now() - entry.failed_at < limits_.failure_cooldown) {
          throw Error(entry.error_code, entry.error);
        }
        entries_.erase(it);
        break;
    }
  }
}

std::shared_ptr<ResidentModel> ModelRegistry::load_as_leader(const std::string& id,
                                                             const std::string& device, bool pin,
                                                             LinearPrecision precision,
                                                             std::unique_lock<std::mutex>& lock) {
  Entry& loading = entries_[id];
  loading.state = ModelState::loading;
  loading.pinned = pin;
  loading.keep_alive = limits_.keep_alive;
  loading.device = device;
  loading.precision = precision;
  const auto start = std::chrono::steady_clock::now();
  try {
    lock.unlock();
    const uint64_t expected = hooks_.estimate_bytes(id);
    lock.lock();
    make_room(id, expected, lock);
    entries_[id].reserved_bytes = expected;
    entries_[id].admitted = true;
    lock.unlock();
    auto model =
        std::make_shared<ResidentModel>(id, device, hooks_.load(id, precision), accounting_);
    lock.lock();
    Entry& entry = entries_[id];
    entry.state = ModelState::ready;
    entry.model = model;
    entry.reserved_bytes = 0;
    count_load(LoadOutcome::loaded, start);
    load_finished_.notify_all();
    return model;
  } catch (const Error& e) {
    if (!lock.owns_lock()) lock.lock();
    if (e.code() == ErrorCode::conflict || e.code() == ErrorCode::out_of_memory) {
      // The model is fine; the limits are not. Nothing to remember, a retry may succeed at once.
      entries_.erase(id);
      count_load(LoadOutcome::refused, start);
      load_finished_.notify_all();
      throw;
    }
    Entry failed;
    failed.state = ModelState::failed;
    failed.device = device;
    failed.precision = precision;
    failed.error_code = e.code();
    failed.error = e.what();
    failed.failed_at = std::chrono::steady_clock::now();
    entries_[id] = std::move(failed);
    count_load(LoadOutcome::failed, start);
    load_finished_.notify_all();
    throw;
  }
}

// Ready models and admitted loads; a load still waiting in make_room holds no place yet, so that
// two loads waiting for each other's place cannot deadlock.
size_t ModelRegistry::counted_models(const std::string& except) const {
  return static_cast<size_t>(std::count_if(entries_.begin(), entries_.end(), [&](const auto& kv) {
    return kv.first != except &&
           (kv.second.state == ModelState::ready ||
            (kv.second.admitted && !kv.second.model && kv.second.state != ModelState::failed));
  }));
}

// When every place is held by a load in progress (admitted, not pinned), waits until a load ends:
// the model it brings can then be evicted. False when there is no such load, or at DEADLINE.
bool ModelRegistry::wait_for_a_load(const std::string& id, std::unique_lock<std::mutex>& lock,
                                    std::chrono::steady_clock::time_point deadline) {
  const bool loading = std::any_of(entries_.begin(), entries_.end(), [&](const auto& kv) {
    return kv.first != id && kv.second.admitted && !kv.second.pinned && !kv.second.model &&
           kv.second.state != ModelState::failed;
  });
  return loading && load_finished_.wait_until(lock, deadline) == std::cv_status::no_timeout;
}

uint64_t ModelRegistry::reserved_bytes() const {
  uint64_t total = 0;
  for (const auto& [id, entry] : entries_) total += entry.reserved_bytes;
  return total;
}

void ModelRegistry::count_load(LoadOutcome outcome, std::chrono::steady_clock::time_point start) {
  const std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - start;
  stats_.load_seconds[static_cast<size_t>(outcome)].observe(seconds.count());
}

// Evicts the least recently used unpinned ready model, idle ones first (busy ones only when
// `allow_busy`). Returns false when there is none.
bool ModelRegistry::evict_one(UnloadReason reason, const std::string& message, bool allow_busy) {
  auto victim = entries_.end();
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    const Entry& e = it->second;
    if (e.state != ModelState::ready || e.pinned) continue;
    if (!allow_busy && e.model->in_flight() > 0) continue;
    if (victim == entries_.end() ||
        e.model->idle_seconds() > victim->second.model->idle_seconds()) {
      victim = it;
    }
  }
  if (victim == entries_.end()) return false;
  if (hooks_.on_evict) hooks_.on_evict("evicted " + victim->first + ": " + message);
  entries_.erase(victim);
  ++stats_.unloads[static_cast<size_t>(reason)];
  return true;
}

void ModelRegistry::make_room(const std::string& id, uint64_t needed_bytes,
                              std::unique_lock<std::mutex>& lock) {
  const auto deadline = std::chrono::steady_clock::now() + limits_.room_wait;
  while (counted_models(id) >= limits_.max_models) {
    const std::string reason =
        "least recently used; HADES_MAX_MODELS=" + std::to_string(limits_.max_models) +
        " reached loading " + id;
    if (!evict_one(UnloadReason::max_models, reason, false) &&
        !evict_one(UnloadReason::max_models, reason, true) &&
        !wait_for_a_load(id, lock, deadline)) {
      throw Error(ErrorCode::conflict,
                  "cannot load " + id + ": HADES_MAX_MODELS=" + std::to_string(limits_.max_models) +
                      " models are loaded and all are pinned or loading; unload one or raise "
                      "HADES_MAX_MODELS");
    }
  }
  if (!limits_.max_memory_bytes) return;
  const uint64_t budget = *limits_.max_memory_bytes;
  while (accounting_->get() + reserved_bytes() + needed_bytes > budget) {
    const std::string reason = "least recently used; HADES_MAX_MEMORY=" + format_byte_size(budget) +
                               " reached loading " + id;
    if (!evict_one(UnloadReason::max_memory, reason, false) &&
        !wait_for_a_load(id, lock, deadline)) {
      const uint64_t held = accounting_->get() + reserved_bytes();
      throw Error(ErrorCode::out_of_memory,
                  "Out of memory: " + id + " needs " + format_byte_size(needed_bytes) +
                      ", budget " + format_byte_size(budget) +
                      ", held by pinned/busy/loading models " + format_byte_size(held));
    }
  }
}

void ModelRegistry::unload(const std::string& id) {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(id);
  if (it == entries_.end()) {
    throw Error(ErrorCode::model_not_found, "Model not loaded: " + id);
  }
  if (it->second.state == ModelState::loading || it->second.state == ModelState::downloading) {
    throw Error(ErrorCode::conflict, "cannot unload " + id + " while it is " +
                                         std::string(model_state_name(it->second.state)));
  }
  if (it->second.state == ModelState::ready) {
    ++stats_.unloads[static_cast<size_t>(UnloadReason::unload)];
  }
  entries_.erase(it);
}

void ModelRegistry::set_keep_alive(const std::string& id,
                                   std::optional<std::chrono::milliseconds> keep_alive) {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(id);
  if (it == entries_.end()) throw Error(ErrorCode::model_not_found, "Model not loaded: " + id);
  it->second.keep_alive = keep_alive;
}

size_t ModelRegistry::expire_idle() {
  std::lock_guard lock(mutex_);
  size_t expired = 0;
  for (auto it = entries_.begin(); it != entries_.end();) {
    const Entry& e = it->second;
    const bool due = e.state == ModelState::ready && !e.pinned && e.keep_alive &&
                     e.model->in_flight() == 0 &&
                     e.model->idle_seconds() * 1000.0 >= static_cast<double>(e.keep_alive->count());
    if (!due) {
      ++it;
      continue;
    }
    if (hooks_.on_evict) {
      hooks_.on_evict("unloaded " + it->first + ": idle past its keep_alive of " +
                      std::to_string(e.keep_alive->count()) + " ms");
    }
    it = entries_.erase(it);
    ++expired;
    ++stats_.unloads[static_cast<size_t>(UnloadReason::keep_alive)];
  }
  return expired;
}

void ModelRegistry::report_download(const std::string& id, uint64_t done_bytes,
                                    uint64_t total_bytes) {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(id);
  if (it == entries_.end() || it->second.state == ModelState::ready ||
      it->second.state == ModelState::failed) {
    return;
  }
  Entry& entry = it->second;
  entry.state = done_bytes < total_bytes ? ModelState::downloading : ModelState::loading;
  entry.download_done_bytes = done_bytes;
  entry.download_total_bytes = total_bytes;
}

std::vector<LoadedModel> ModelRegistry::list() const {
  std::lock_guard lock(mutex_);
  std::vector<LoadedModel> out;
  for (const auto& [id, entry] : entries_) {
    LoadedModel info;
    info.id = id;
    info.state = entry.state;
    info.device = entry.device;
    info.dtype = linear_precision_name(entry.precision);
    info.kind = entry.model ? entry.model->kind() : "";
    info.pinned = entry.pinned;
    info.keep_alive = entry.keep_alive;
    info.error = entry.error;
    info.download_done_bytes = entry.download_done_bytes;
    info.download_total_bytes = entry.download_total_bytes;
    if (entry.model) {
      info.memory_bytes = entry.model->memory_bytes();
      const ServedModel& loaded = entry.model->loaded();
      info.model_type = loaded.model_type();
      if (loaded.embedding) {
        info.dimension = loaded.embedding->dimension();
        info.max_sequence_length = loaded.embedding->max_sequence_length();
        info.pooling = loaded.embedding->pooling_modes();
      } else {
        info.max_sequence_length = loaded.classifier->default_window();
        info.labels = loaded.classifier->labels();
      }
      info.default_prompt_name = entry.model->default_prompt_name();
      info.requests = entry.model->requests();
      info.in_flight = entry.model->in_flight();
      info.idle_seconds = entry.model->idle_seconds();
    }
    out.push_back(std::move(info));
  }
  return out;
}

bool ModelRegistry::holds_ready(const std::string& id) const {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(id);
  return it != entries_.end() && it->second.state == ModelState::ready;
}

RegistryStats ModelRegistry::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void ModelRegistry::set_eviction_log(std::function<void(const std::string&)> log) {
  std::lock_guard lock(mutex_);
  hooks_.on_evict = std::move(log);
}

void ModelRegistry::clear() {
  std::lock_guard lock(mutex_);
  std::erase_if(entries_, [](const auto& kv) {
    return kv.second.state != ModelState::loading && kv.second.state != ModelState::downloading;
  });
}

}  // namespace hades::runtime
