// The engine's figures beyond plain counters: per model and task, requests by outcome and
// histograms of their duration, of their time queued in the executor and of the forward passes
// that ran them; the registry's loads by outcome and unloads by reason (GET /metrics,
// docs/operations.md).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/histogram.hpp"

namespace hades::runtime {

// The inference tasks, named as their routes are. Rerank is classification of text pairs.
enum class EngineTask { embed, classify, rerank, token_classify, chunk };
inline constexpr std::array<std::string_view, 5> kEngineTaskNames = {"embed", "classify", "rerank",
                                                                     "token-classify", "chunk"};
constexpr std::string_view engine_task_name(EngineTask task) {
  return kEngineTaskNames[static_cast<size_t>(task)];
}

// What the executor measured of one request's work. Written on the executor thread before each of
// the request's jobs (or its task) is answered, read by the request once all are.
struct WorkTimes {
  bool started = false;
  double queue_seconds = 0;      // from being queued until its first batch (or task) started
  double inference_seconds = 0;  // the forward passes (or task runs) that carried its work
};

struct TaskStats {
  std::string model;
  EngineTask task = EngineTask::embed;
  std::map<std::string, uint64_t, std::less<>> outcomes;  // "ok", or an error code's name
  Histogram duration{kDurationBuckets};
  Histogram queue{kDurationBuckets};      // requests that reached the executor
  Histogram inference{kDurationBuckets};  // requests that reached the executor
};

// Why a model left the registry: evicted under HADES_MAX_MODELS or HADES_MAX_MEMORY, idle past
// its keep-alive, or unloaded on request (the shutdown's clear is not counted).
enum class UnloadReason { max_models, max_memory, keep_alive, unload };
inline constexpr std::array<std::string_view, 4> kUnloadReasonNames = {"max_models", "max_memory",
                                                                       "keep_alive", "unload"};
// How a load ended: the model is ready; it failed (remembered for the cooldown); or the limits
// refused it (every place held by pinned, busy or loading models).
enum class LoadOutcome { loaded, failed, refused };
inline constexpr std::array<std::string_view, 3> kLoadOutcomeNames = {"loaded", "failed",
                                                                      "refused"};

struct RegistryStats {
  std::array<uint64_t, kUnloadReasonNames.size()> unloads{};  // by UnloadReason
  // By LoadOutcome: each load's time from its start (resolution and download included).
  std::array<Histogram, kLoadOutcomeNames.size()> load_seconds{Histogram(kLoadDurationBuckets),
                                                               Histogram(kLoadDurationBuckets),
                                                               Histogram(kLoadDurationBuckets)};
  uint64_t evictions() const {
    return unloads[static_cast<size_t>(UnloadReason::max_models)] +
           unloads[static_cast<size_t>(UnloadReason::max_memory)];
  }
  uint64_t loads(LoadOutcome outcome) const {
    return load_seconds[static_cast<size_t>(outcome)].count();
  }
};

// Thread-safe. The model label is one of at most kMaxModels ids; requests for an id the caller
// does not know as loaded, or beyond that many ids, are counted as the model "other", so that
// requests naming arbitrary ids cannot grow the series without bound.
class RequestMetrics {
 public:
  static constexpr size_t kMaxModels = 64;
  static constexpr std::string_view kOtherModel = "other";

  struct Outcome {
    std::string_view model;  // the request's model id
    bool model_known = false;
    EngineTask task = EngineTask::embed;
    std::string_view outcome;          // "ok", or an error code's name
    double seconds = 0;                // the whole request
    const WorkTimes* times = nullptr;  // null, or not started: it did not reach the executor
  };
  void record(const Outcome& request);
  std::vector<TaskStats> snapshot() const;  // ordered by model, then task

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, EngineTask>, TaskStats> series_;
  size_t models_ = 0;  // distinct model labels in series_, "other" left out
};

}  // namespace hades::runtime
