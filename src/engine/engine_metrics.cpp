#include "engine/engine_metrics.hpp"

#include <algorithm>

namespace hades::runtime {

void RequestMetrics::record(const Outcome& request) {
  std::lock_guard lock(mutex_);
  std::string model(request.model_known ? request.model : kOtherModel);
  if (model != kOtherModel) {
    const bool seen = std::any_of(series_.begin(), series_.end(),
                                  [&](const auto& kv) { return kv.first.first == model; });
    if (!seen && models_ >= kMaxModels) {
      model = kOtherModel;
    } else if (!seen) {
      ++models_;
    }
  }
  auto it = series_.find({model, request.task});
  if (it == series_.end()) {
    TaskStats stats;
    stats.model = model;
    stats.task = request.task;
    it = series_.emplace(std::pair{model, request.task}, std::move(stats)).first;
  }
  TaskStats& stats = it->second;
  auto outcome = stats.outcomes.find(request.outcome);
  if (outcome == stats.outcomes.end()) {
    outcome = stats.outcomes.emplace(std::string(request.outcome), 0).first;
  }
  ++outcome->second;
  stats.duration.observe(request.seconds);
  if (request.times != nullptr && request.times->started) {
    stats.queue.observe(request.times->queue_seconds);
    stats.inference.observe(request.times->inference_seconds);
  }
}

std::vector<TaskStats> RequestMetrics::snapshot() const {
  std::lock_guard lock(mutex_);
  std::vector<TaskStats> out;
  out.reserve(series_.size());
  for (const auto& [key, stats] : series_) out.push_back(stats);
  return out;
}

}  // namespace hades::runtime
