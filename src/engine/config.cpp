#include "engine/config.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <utility>

#include "engine/cgroup.hpp"
#include "hades/error.hpp"

namespace hades::runtime {

bool is_cuda_name(const std::string& name) {
  return name == "cuda" || name.rfind("cuda:", 0) == 0;
}

// CUDA is not built in yet: a cuda default falls back to the CPU (and says so); an explicit cuda
// request on a load fails.
DeviceChoice resolve_default_device(const std::string& requested) {
  if (requested == "cpu") return {"cpu", ""};
  if (is_cuda_name(requested)) {
    return {"cpu", requested + " requested; CUDA is not built into this hades, using cpu"};
  }
  throw Error(ErrorCode::invalid_argument,
              "HADES_DEFAULT_DEVICE: unknown device '" + requested + "' (use cpu or cuda:N)");
}

std::string format_byte_size(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  auto value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < std::size(units)) {
    value /= 1024.0;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.1f %s", value, units[unit]);
  return text;
}

uint64_t parse_byte_size(const std::string& text, const std::string& what) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  std::string unit = text.substr(digits);
  unit.erase(0, unit.find_first_not_of(' '));
  static const std::pair<const char*, uint64_t> units[] = {{"", 1},
                                                           {"B", 1},
                                                           {"KB", 1000},
                                                           {"MB", 1000'000},
                                                           {"GB", 1000'000'000},
                                                           {"TB", 1000'000'000'000},
                                                           {"KiB", 1ull << 10},
                                                           {"MiB", 1ull << 20},
                                                           {"GiB", 1ull << 30},
                                                           {"TiB", 1ull << 40}};
  const auto* match = std::find_if(std::begin(units), std::end(units),
                                   [&](const auto& u) { return unit == u.first; });
  if (digits == 0 || digits > 15 || match == std::end(units)) {
    throw Error(ErrorCode::invalid_argument,
                what + ": '" + text + "' is not a size (e.g. 4GiB, 512MB, 1000000)");
  }
  const uint64_t number = std::stoull(text.substr(0, digits));
  if (number > UINT64_MAX / match->second) {
    throw Error(ErrorCode::invalid_argument, what + ": '" + text + "' is too large");
  }
  return number * match->second;
}

std::chrono::milliseconds parse_duration_ms(const std::string& text, const std::string& what) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  const std::string unit = text.substr(digits);
  if (digits == 0 || digits > 9 || (unit != "" && unit != "ms" && unit != "s")) {
    throw Error(ErrorCode::invalid_argument,
                what + ": '" + text + "' is not a duration (e.g. 500ms, 2s, 0 for none)");
  }
  const int64_t number = std::stoll(text.substr(0, digits));
  return std::chrono::milliseconds(unit == "s" ? number * 1000 : number);
}

namespace {

std::string read_proc_self_cgroup() {
  std::ifstream in("/proc/self/cgroup");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_keep_alive(const std::string& text,
                                                          const std::string& what) {
  const auto invalid = [&] {
    return Error(ErrorCode::invalid_argument,
                 what + ": '" + text +
                     "' is not a keep-alive (e.g. 5m, 30s, 1h, 250ms, 0 to unload after each "
                     "request, -1 for forever)");
  };
  const bool negative = !text.empty() && text[0] == '-';
  size_t digits = negative ? 1 : 0;
  const size_t first = digits;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == first || digits - first > 9) throw invalid();
  if (negative) {
    if (digits != text.size()) throw invalid();
    return std::nullopt;
  }
  const std::string unit = text.substr(digits);
  const int64_t number = std::stoll(text.substr(0, digits));
  int64_t scale = 0;
  if (unit.empty() || unit == "s") scale = 1000;
  if (unit == "ms") scale = 1;
  if (unit == "m") scale = 60'000;
  if (unit == "h") scale = 3'600'000;
  if (scale == 0) throw invalid();
  return std::chrono::milliseconds(number * scale);
}

EngineConfig engine_config_from_environment() {
  EngineConfig config;
  if (const char* v = std::getenv("HADES_MAX_MODELS"); v != nullptr) {
    const std::string text(v);
    const bool digits =
        !text.empty() && text.size() <= 6 && std::all_of(text.begin(), text.end(), [](char c) {
          return std::isdigit(static_cast<unsigned char>(c));
        });
    if (!digits || std::stoul(text) == 0) {
      throw Error(ErrorCode::invalid_argument,
                  "HADES_MAX_MODELS: '" + text + "' is not a positive whole number");
    }
    config.max_models = std::stoul(text);
  }
  if (const char* v = std::getenv("HADES_MAX_MEMORY"); v != nullptr && *v != '\0') {
    config.max_memory_bytes = parse_byte_size(v, "HADES_MAX_MEMORY");
  } else if (const auto limit = cgroup_memory_limit("/sys/fs/cgroup", read_proc_self_cgroup())) {
    // In a container (or a unit with MemoryMax=), the weights stay under the cgroup's limit.
    config.max_memory_bytes = budget_under_memory_limit(*limit);
  }
  if (const char* v = std::getenv("HADES_MAX_QUEUE_DELAY"); v != nullptr && *v != '\0') {
    config.max_queue_delay = parse_duration_ms(v, "HADES_MAX_QUEUE_DELAY");
  }
  if (const char* v = std::getenv("HADES_KEEP_ALIVE"); v != nullptr && *v != '\0') {
    config.keep_alive = parse_keep_alive(v, "HADES_KEEP_ALIVE");
  }
  if (const char* v = std::getenv("HADES_DEFAULT_DEVICE"); v != nullptr && *v != '\0') {
    config.default_device = v;
    resolve_default_device(
        config.default_device);  // rejects unknown names now, naming the variable
  }
  return config;
}

}  // namespace hades::runtime
