// Resource cleanup: unloading a model gives its memory back to the system (RSS back near its
// pre-load level), not only to the allocator.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "server_harness.hpp"
#include "support/paths.hpp"

namespace hades::test {
namespace {

TEST(ServerMemory, UnloadingReturnsTheWeightsToTheSystem) {
  const SocketDir dir;
  ServerProcess server(dir.socket());
  ASSERT_TRUE(server.wait_ready()) << server.output();
  const long pid = http(dir.socket(), "GET", "/v1/status").json().at("pid").get<long>();
  const std::string model = minilm_dir().string();
  const int64_t before = rss_kib(pid);
  for (int round = 0; round < 2; ++round) {
    ASSERT_EQ(http(dir.socket(), "POST", "/v1/models/load", nlohmann::json{{"model", model}}.dump())
                  .status,
              200);
    ASSERT_EQ(http(dir.socket(), "POST", "/v1/embed",
                   nlohmann::json{{"model", model}, {"inputs", {"some text to embed"}}}.dump())
                  .status,
              200);
    const int64_t loaded = rss_kib(pid);
    ASSERT_EQ(
        http(dir.socket(), "POST", "/v1/models/unload", nlohmann::json{{"model", model}}.dump())
            .status,
        200);
    const int64_t unloaded = rss_kib(pid);
    std::printf("RSS: %lld KiB before, %lld loaded, %lld unloaded\n",
                static_cast<long long>(before), static_cast<long long>(loaded),
                static_cast<long long>(unloaded));
    EXPECT_GT(loaded - before, 80 * 1024);  // the model's 87 MiB of weights
    // Code generated for the kernels and the allocator's bookkeeping may stay; the weights go.
    EXPECT_LT(unloaded - before, 32 * 1024);
  }
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait_exit(), 0) << server.output();
}

}  // namespace
}  // namespace hades::test
