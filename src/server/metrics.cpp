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

// One histogram's series: its buckets (cumulative, as Prometheus counts them), sum and count.
// LABELS is empty or `name="value",...` without braces.
void add_histogram(std::string& out, const std::string& name, const std::string& labels,
                   const runtime::Histogram& histogram) {
  const std::string before_le = name + "_bucket{" + labels + (labels.empty() ? "" : ",");
  const std::span<const double> bounds = histogram.bounds();
  for (size_t b = 0; b < bounds.size(); ++b) {
    out += before_le + "le=\"" + number_text(bounds[b]) + "\"} " +
           std::to_string(histogram.count_at_most(b)) + "\n";
  }
  out += before_le + "le=\"+Inf\"} " + std::to_string(histogram.count()) + "\n";
  const std::string braced = labels.empty() ? "" : "{" + labels + "}";
  out += name + "_sum" + braced + " " + number_text(histogram.sum()) + "\n";
  out += name + "_count" + braced + " " + std::to_string(histogram.count()) + "\n";
}

std::string model_task_labels(const runtime::TaskStats& stats) {
  return "model=\"" + prometheus_label_value(stats.model) + "\",task=\"" +
         std::string(runtime::engine_task_name(stats.task)) + "\"";
}

// Per model and task: requests by outcome, and the histograms of their times.
void render_tasks(std::string& out, const std::vector<runtime::TaskStats>& tasks) {
  add_header(out, "hades_task_requests_total", "counter",
             "Inference requests by model, task and outcome (ok, or the error code).");
  for (const runtime::TaskStats& stats : tasks) {
    for (const auto& [outcome, count] : stats.outcomes) {
      out += "hades_task_requests_total{" + model_task_labels(stats) + ",outcome=\"" + outcome +
             "\"} " + std::to_string(count) + "\n";
    }
  }
  const struct {
    const char* name;
    const char* help;
    runtime::Histogram runtime::TaskStats::*histogram;
  } histograms[] = {
      {"hades_task_request_duration_seconds",
       "Time an inference request spent in the engine, whatever its outcome.",
       &runtime::TaskStats::duration},
      {"hades_task_queue_duration_seconds",
       "Time a successful request's work waited in the executor's queue before its first batch "
       "started.",
       &runtime::TaskStats::queue},
      {"hades_task_inference_duration_seconds",
       "Time of the forward passes (or task runs) that computed a successful request.",
       &runtime::TaskStats::inference},
  };
  for (const auto& h : histograms) {
    add_header(out, h.name, "histogram", h.help);
    for (const runtime::TaskStats& stats : tasks) {
      add_histogram(out, h.name, model_task_labels(stats), stats.*h.histogram);
    }
  }
}

// The executor's batches, and the registry's loads and unloads.
void render_engine_histograms(std::string& out, const runtime::EngineStats& engine) {
  add_header(out, "hades_engine_batch_sequences", "histogram",
             "Sequences in each embedding batch the executor ran.");
  add_histogram(out, "hades_engine_batch_sequences", "", engine.batch_sequences);
  add_header(out, "hades_engine_batch_tokens", "histogram",
             "Tokens in each embedding batch the executor ran.");
  add_histogram(out, "hades_engine_batch_tokens", "", engine.batch_tokens);
  add_header(out, "hades_engine_load_duration_seconds", "histogram",
             "Model loads by outcome (loaded, failed, refused by the limits), resolution and "
             "download included.");
  for (size_t o = 0; o < runtime::kLoadOutcomeNames.size(); ++o) {
    add_histogram(out, "hades_engine_load_duration_seconds",
                  "outcome=\"" + std::string(runtime::kLoadOutcomeNames[o]) + "\"",
                  engine.registry.load_seconds[o]);
  }
  add_header(out, "hades_engine_unloads_total", "counter",
             "Models that left the registry, by reason (max_models, max_memory, keep_alive, "
             "unload).");
  for (size_t r = 0; r < runtime::kUnloadReasonNames.size(); ++r) {
    out += "hades_engine_unloads_total{reason=\"" + std::string(runtime::kUnloadReasonNames[r]) +
           "\"} " + std::to_string(engine.registry.unloads[r]) + "\n";
  }
}

void render_models(std::string& out, const std::vector<runtime::LoadedModel>& models) {
  add_header(out, "hades_model_memory_bytes", "gauge", "Bytes of weights each loaded model holds.");
  for (const runtime::LoadedModel& m : models) {
    out += "hades_model_memory_bytes{model=\"" + prometheus_label_value(m.id) + "\",state=\"" +
           std::string(runtime::model_state_name(m.state)) + "\"} " +
           number_text(static_cast<double>(m.memory_bytes)) + "\n";
  }
  add_header(out, "hades_model_requests_total", "counter",
             "Inference requests each loaded model has served.");
  for (const runtime::LoadedModel& m : models) {
    out += "hades_model_requests_total{model=\"" + prometheus_label_value(m.id) + "\"} " +
           std::to_string(m.requests) + "\n";
  }
  add_header(out, "hades_model_in_flight", "gauge", "Requests running or queued on each model.");
  for (const runtime::LoadedModel& m : models) {
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
  stats.latency.observe(seconds);
}

uint64_t Metrics::requests_total() const {
  std::lock_guard lock(mutex_);
  uint64_t total = 0;
  for (const auto& [route, stats] : routes_) total += stats.latency.count();
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
    add_histogram(out, "hades_http_request_duration_seconds",
                  "route=\"" + prometheus_label_value(route) + "\"", stats.latency);
  }
}

std::string Metrics::render(const ServerGauges& server, const runtime::EngineStats& engine,
                            const std::vector<runtime::LoadedModel>& models) const {
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
  add_metric(out, "hades_engine_queued_sequences", "gauge",
             "Texts waiting in the executor's queue (of embedding jobs and of tasks).",
             as_double(engine.queued_sequences));
  add_metric(out, "hades_engine_queued_seconds", "gauge",
             "Estimated seconds of work queued in the executor (what admission control bounds).",
             engine.queued_seconds);
  add_metric(out, "hades_engine_rejected_requests_total", "counter",
             "Requests refused as overloaded by the executor (queue full, or waiting beyond "
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
  render_engine_histograms(out, engine);
  render_tasks(out, engine.requests);
  render_models(out, models);
  return out;
}

}  // namespace hades::server
