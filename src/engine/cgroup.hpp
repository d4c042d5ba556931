// The memory limit of the cgroup the process runs in (a container's, a systemd unit's), which
// the service takes as its default memory budget when HADES_MAX_MEMORY is not set.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>

namespace hades::runtime {

// The limit from PROC_CGROUP (the text of /proc/self/cgroup) under ROOT (/sys/fs/cgroup):
// cgroup v2's memory.max, else v1's memory.limit_in_bytes; none when unlimited or unreadable.
std::optional<uint64_t> cgroup_memory_limit(const std::filesystem::path& root,
                                            std::string_view proc_cgroup);

// The budget for loaded weights under LIMIT: a quarter of it (at least 256 MiB) is left for
// activations, buffers and the process itself; none when the limit leaves nothing.
std::optional<uint64_t> budget_under_memory_limit(uint64_t limit);

}  // namespace hades::runtime
