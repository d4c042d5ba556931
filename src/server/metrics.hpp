// Request counters and latency histograms, rendered with the engine's statistics in the
// Prometheus text exposition format (version 0.0.4) for GET /metrics.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "engine/histogram.hpp"
#include "engine/runtime.hpp"

namespace hades::server {

// Gauges of the HTTP layer at the moment of a scrape.
struct ServerGauges {
  size_t requests_in_flight = 0;
  size_t connections = 0;
  double uptime_seconds = 0;
};

class Metrics {
 public:
  // ROUTE is a route's path, or "unmatched" for requests that matched none (so that scanners
  // probing random paths cannot grow the label set).
  void record(std::string_view route, int status, std::chrono::duration<double> latency);

  uint64_t requests_total() const;

  std::string render(const ServerGauges& server, const runtime::EngineStats& engine,
                     const std::vector<runtime::LoadedModel>& models) const;

 private:
  struct RouteStats {
    std::map<int, uint64_t> by_status;
    runtime::Histogram latency{runtime::kDurationBuckets};
  };

  void render_requests(std::string& out) const;

  mutable std::mutex mutex_;
  std::map<std::string, RouteStats, std::less<>> routes_;
};

// A Prometheus label value with \, " and newlines escaped.
std::string prometheus_label_value(std::string_view value);

}  // namespace hades::server
