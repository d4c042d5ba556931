#include "server/metrics.hpp"

#include <charconv>

namespace hades::server {
namespace {

// The shortest text that reads back as VALUE ("0.005", not "0.0050000000000000001").
std::string number_text(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

void add_header(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP " + std::string(name) + " " + help + "\n";
  out += "# TYPE " + std::string(name) + " " + type + "\n";
}

void add_sample(std::string& out, const char* name, double value) {
  out += std::string(name) + " " + number_text(value) + "\n";
}

void add_metric(std::string& out, const char* name, const char* type, const char* help,
                double value) {
  add_header(out, name, type, help);
  add_sample(out, name, value);
}

void render_models(std::string& out, const std::vector<ModelInfo>& models) {
  add_header(out, "hades_model_memory_bytes", "gauge", "Bytes of weights each loaded model holds.");
  for (const ModelInfo& m : models) {
    out += "hades_model_memory_bytes{model=\"" + prometheus_label_value(m.id) + "\",state=\"" +
           std::string(model_state_name(m.state)) + "\"} " +
           number_text(static_cast<double>(m.memory_bytes)) + "\n";
  }
  add_header(out, "hades_model_requests_total", "counter",
             "Inference requests each loaded model has served.");
  for (const ModelInfo& m : models) {
    out += "hades_model_requests_total{model=\"" + prometheus_label_value(m.id) + "\"} " +
           std::to_string(m.requests) + "\n";
  }
  add_header(out, "hades_model_in_flight", "gauge", "Requests running or queued on each model.");
  for (const ModelInfo& m : models) {
    out += "hades_model_in_flight{model=\"" + prometheus_label_value(m.id) + "\"} " +
           std::to_string(m.in_flight) + "\n";
  }
}

}  // namespace

std::string prometheus_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void Metrics::record(std::string_view route, int status, std::chrono::duration<double> latency) {
  const double seconds = latency.count();
  std::lock_guard lock(mutex_);
  auto it = routes_.find(route);
  if (it == routes_.end()) it = routes_.emplace(std::string(route), RouteStats{}).first;
  RouteStats& stats = it->second;
  ++stats.by_status[status];
  ++stats.count;
  stats.sum_seconds += seconds;
  for (size_t b = 0; b < kLatencyBuckets.size(); ++b) {
    if (seconds <= kLatencyBuckets[b]) {
      ++stats.buckets[b];
      break;
    }
  }
}

uint64_t Metrics::requests_total() const {
  std::lock_guard lock(mutex_);
  uint64_t total = 0;
  for (const auto& [route, stats] : routes_) total += stats.count;
  return total;
}

void Metrics::render_requests(std::string& out) const {
  std::lock_guard lock(mutex_);
  add_header(out, "hades_http_requests_total", "counter",
             "HTTP requests answered, by route and status.");
  for (const auto& [route, stats] : routes_) {
    for (const auto& [status, count] : stats.by_status) {
      out += "hades_http_requests_total{route=\"" + prometheus_label_value(route) + "\",status=\"" +
             std::to_string(status) + "\"} " + std::to_string(count) + "\n";
    }
  }
  add_header(out, "hades_http_request_duration_seconds", "histogram",
             "Time from a request's last byte to its response, by route.");
  for (const auto& [route, stats] : routes_) {
    const std::string label = "route=\"" + prometheus_label_value(route) + "\"";
    uint64_t cumulative = 0;
    for (size_t b = 0; b < kLatencyBuckets.size(); ++b) {
      cumulative += stats.buckets[b];
      out += "hades_http_request_duration_seconds_bucket{" + label + ",le=\"" +
             number_text(kLatencyBuckets[b]) + "\"} " + std::to_string(cumulative) + "\n";
    }
    out += "hades_http_request_duration_seconds_bucket{" + label + ",le=\"+Inf\"} " +
           std::to_string(stats.count) + "\n";
    out += "hades_http_request_duration_seconds_sum{" + label + "} " +
           number_text(stats.sum_seconds) + "\n";
    out += "hades_http_request_duration_seconds_count{" + label + "} " +
           std::to_string(stats.count) + "\n";
  }
}

std::string Metrics::render(const ServerGauges& server, const EngineStats& engine,
                            const std::vector<ModelInfo>& models) const {
  std::string out;
  render_requests(out);
  const auto as_double = [](auto value) { return static_cast<double>(value); };
  add_metric(out, "hades_http_requests_in_flight", "gauge", "Requests read and not yet answered.",
             as_double(server.requests_in_flight));
  add_metric(out, "hades_http_connections", "gauge", "Open client connections.",
             as_double(server.connections));
  add_metric(out, "hades_uptime_seconds", "gauge", "Seconds since the server started.",
             server.uptime_seconds);
  add_metric(out, "hades_engine_batches_total", "counter", "Executor batches run.",
             as_double(engine.batches));
  add_metric(out, "hades_engine_batched_requests_total", "counter",
             "Requests the executor batches held.", as_double(engine.batched_requests));
  add_metric(out, "hades_engine_mean_batch_requests", "gauge",
             "Mean requests per executor batch since start.", engine.mean_batch_requests());
  add_metric(out, "hades_engine_queued_jobs", "gauge", "Executor jobs waiting for a batch.",
             as_double(engine.queued_jobs));
  add_metric(out, "hades_engine_queued_seconds", "gauge",
             "Estimated seconds of work queued in the executor (what admission control bounds).",
             engine.queued_seconds);
  add_metric(out, "hades_engine_rejected_requests_total", "counter",
             "Embed requests refused as overloaded (queue full, or waiting beyond "
             "HADES_MAX_QUEUE_DELAY).",
             as_double(engine.rejected_requests));
  add_metric(out, "hades_engine_dropped_jobs_total", "counter",
             "Queued executor jobs dropped unrun because their client had closed its connection.",
             as_double(engine.dropped_jobs));
  add_metric(out, "hades_engine_evictions_total", "counter", "Models evicted by the LRU policy.",
             as_double(engine.evictions));
  add_metric(out, "hades_engine_expirations_total", "counter",
             "Models unloaded because their keep-alive passed after their last request.",
             as_double(engine.expirations));
  add_metric(out, "hades_engine_loads_total", "counter", "Model loads that succeeded.",
             as_double(engine.loads));
  add_metric(out, "hades_engine_load_failures_total", "counter", "Model loads that failed.",
             as_double(engine.load_failures));
  add_metric(out, "hades_engine_resident_bytes", "gauge", "Bytes of weights of loaded models.",
             as_double(engine.resident_bytes));
  add_metric(out, "hades_models_loaded", "gauge", "Models in the registry (any state).",
             as_double(models.size()));
  render_models(out, models);
  return out;
}

}  // namespace hades::server
