// The default memory budget from the process's cgroup (v2 memory.max, v1 memory.limit_in_bytes).
#include "engine/cgroup.hpp"

#include <gtest/gtest.h>

#include "support/temp_dir.hpp"

namespace hades {
namespace {

TEST(Cgroup, ReadsTheV2LimitOfTheProcesssGroup) {
  const test::TempDir root;
  test::write_file(root.path() / "system.slice" / "hades.service" / "memory.max", "4294967296\n");
  EXPECT_EQ(runtime::cgroup_memory_limit(root.path(), "0::/system.slice/hades.service\n"),
            uint64_t{4294967296});
  test::write_file(root.path() / "system.slice" / "hades.service" / "memory.max", "max\n");
  EXPECT_FALSE(runtime::cgroup_memory_limit(root.path(), "0::/system.slice/hades.service\n"));
  EXPECT_FALSE(
      runtime::cgroup_memory_limit(root.path(), "0::/elsewhere\n"));  // unreadable: no limit
}

TEST(Cgroup, ReadsTheV1MemoryControllersLimit) {
  const test::TempDir root;
  test::write_file(root.path() / "memory" / "docker" / "abc" / "memory.limit_in_bytes",
                   "2147483648\n");
  const char* v1 = "12:pids:/docker/abc\n4:memory:/docker/abc\n0::/\n";
  EXPECT_EQ(runtime::cgroup_memory_limit(root.path(), v1), uint64_t{2147483648});
  // v1's "unlimited" is a huge page-rounded number.
  test::write_file(root.path() / "memory" / "docker" / "abc" / "memory.limit_in_bytes",
                   "9223372036854771712\n");
  EXPECT_FALSE(runtime::cgroup_memory_limit(root.path(), v1));
}

TEST(Cgroup, LeavesAQuarterOrAtLeast256MiBForTheRest) {
  EXPECT_EQ(runtime::budget_under_memory_limit(uint64_t{8} << 30), uint64_t{6} << 30);
  EXPECT_EQ(runtime::budget_under_memory_limit(uint64_t{512} << 20), uint64_t{256} << 20);
  EXPECT_FALSE(runtime::budget_under_memory_limit(uint64_t{200} << 20));
}

}  // namespace
}  // namespace hades
