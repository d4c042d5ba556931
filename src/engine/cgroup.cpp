#include "engine/cgroup.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

namespace hades::runtime {
namespace {

// v1 reports "no limit" as a huge page-rounded number rather than "max".
constexpr uint64_t kUnlimited = uint64_t{1} << 60;

std::optional<uint64_t> read_limit(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string text;
  if (!(in >> text) || text == "max") return std::nullopt;
  try {
    size_t used = 0;
    const uint64_t value = std::stoull(text, &used);
    if (used != text.size() || value == 0 || value >= kUnlimited) return std::nullopt;
    return value;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

std::optional<uint64_t> cgroup_memory_limit(const std::filesystem::path& root,
                                            std::string_view proc_cgroup) {
  std::istringstream lines{std::string(proc_cgroup)};
  std::optional<uint64_t> v1;
  for (std::string line; std::getline(lines, line);) {
    // HIERARCHY:CONTROLLERS:PATH; v2's unified hierarchy is "0::PATH".
    const size_t first = line.find(':');
    const size_t second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const std::string path = line.substr(second + 1);
    if (path.empty() || path[0] != '/') continue;
    const std::filesystem::path relative = std::filesystem::path(path).relative_path();
    if (line.compare(0, first, "0") == 0 && controllers.empty()) {
      if (const auto limit = read_limit(root / relative / "memory.max")) return limit;
    } else if (controllers == "memory") {
      v1 = read_limit(root / "memory" / relative / "memory.limit_in_bytes");
    }
  }
  return v1;
}

std::optional<uint64_t> budget_under_memory_limit(uint64_t limit) {
  const uint64_t margin = std::max<uint64_t>(limit / 4, uint64_t{256} << 20);
  if (limit <= margin) return std::nullopt;
  return limit - margin;
}

}  // namespace hades::runtime
