// Downloads through the real service when things go wrong (docs/operations.md, "Faults"):
// `kill -9` in the middle of a download from the fake hub, and the disk filling up (an LD_PRELOAD
// library, tests/support/enospc_shim.cpp, makes writes under the cache fail with ENOSPC). Neither
// ever leaves a blob or a ref to a partial file, and the next load resumes what arrived.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>

#include "e2e/server_harness.hpp"
#include "support/fake_hub.hpp"
#include "support/paths.hpp"
#include "support/temp_dir.hpp"

namespace hades::test {
namespace {

namespace fs = std::filesystem;

constexpr const char* kModel = "hades-test/chonky";
constexpr uint64_t kWeightsBytes = 990080;  // tiny-distilbert-chonky/model.safetensors
constexpr const char* kWeightsSha256 =
    "99171024a94ee10d46d1287635a7a04df0c02dec11181de25ee0f5d2722ddd99";

// The cache of one test and the files of the model in it.
struct Cache {
  fs::path root;
  fs::path repo() const { return root / "models--hades-test--chonky"; }
  fs::path blob() const { return repo() / "blobs" / kWeightsSha256; }
  fs::path partial() const { return blob().string() + ".incomplete"; }
  fs::path ref() const { return repo() / "refs" / "main"; }
  // Any snapshot's link to the weights.
  bool weights_linked() const {
    std::error_code ec;
    for (const auto& snapshot : fs::directory_iterator(repo() / "snapshots", ec)) {
      if (fs::exists(snapshot.path() / "model.safetensors", ec)) return true;
    }
    return false;
  }
};

// ctest runs tests offline (HF_HUB_OFFLINE=1); the services started here talk to the fake hub.
// Set in this process, as the first of two values of a variable wins in the child.
void go_online() {
  ::setenv("HF_HUB_OFFLINE", "0", 1);
}

ServeOptions serve_from(const FakeHub& hub, const Cache& cache) {
  ServeOptions options;
  options.env = {{"HF_ENDPOINT", hub.endpoint()},
                 {"HF_HUB_CACHE", cache.root.string()},
                 {"HF_HUB_OFFLINE", "0"},
                 {"HF_TOKEN", ""}};
  return options;
}

HttpResponse load(const fs::path& socket, const std::string& model) {
  return post_json(socket, "/v1/models/load", {{"model", model}});
}

// kill -9 while the weights arrive: only the .incomplete file holds them. A server that must not
// download (offline) does not take the partial file for the model; one that may resumes it with a
// range request, checks it and loads the model.
TEST(ServerDownloadFaults, KillDuringADownloadLeavesOnlyAPartialFileThatTheRestartResumes) {
  go_online();
  SocketDir sockets;
  TempDir dir;
  const Cache cache{dir.path() / "cache"};
  const std::string chonky = FakeHub::fixture(kModel, "tiny-distilbert-chonky");
  uint64_t partial_bytes = 0;
  {
    FakeHub hub(dir.path(), {chonky}, {"--slow-bps", "200000"});  // the weights take 5 s
    ServerProcess server(sockets.socket(), serve_from(hub, cache));
    ASSERT_TRUE(server.wait_ready()) << server.output();
    int status = -1;
    std::thread loader([&] { status = load(sockets.socket(), kModel).status; });
    const bool arriving = eventually(
        [&] {
          std::error_code ec;
          return fs::file_size(cache.partial(), ec) >= 100000 && !ec;
        },
        30s);
    server.signal(SIGKILL);
    loader.join();
    ASSERT_TRUE(arriving) << server.output();
    EXPECT_EQ(server.wait_exit(), 128 + SIGKILL);
    EXPECT_EQ(status, 0);  // the load's connection closed unanswered
    partial_bytes = fs::file_size(cache.partial());
    EXPECT_LT(partial_bytes, kWeightsBytes);
    EXPECT_FALSE(fs::exists(cache.blob()));
    EXPECT_FALSE(fs::exists(cache.ref()));
    EXPECT_FALSE(cache.weights_linked());
  }
  {
    ServeOptions offline;
    offline.env = {{"HF_HUB_CACHE", cache.root.string()}, {"HF_HUB_OFFLINE", "1"}};
    ::setenv("HF_HUB_OFFLINE", "1", 1);
    ServerProcess server(sockets.socket(), offline);
    ASSERT_TRUE(server.wait_ready()) << server.output();
    const HttpResponse refused = load(sockets.socket(), kModel);
    EXPECT_EQ(refused.status, 404) << refused.body;
    EXPECT_EQ(refused.error_code(), "model_not_found");
    EXPECT_EQ(fs::file_size(cache.partial()), partial_bytes);
    go_online();
  }
  fs::remove(dir.path() / "hub-log.jsonl");
  FakeHub hub(dir.path(), {chonky});
  ServerProcess server(sockets.socket(), serve_from(hub, cache));
  ASSERT_TRUE(server.wait_ready()) << server.output();
  const HttpResponse loaded = load(sockets.socket(), kModel);
  ASSERT_EQ(loaded.status, 200) << loaded.body;
  const auto gets = hub.requests_matching("GET", kWeightsSha256);
  ASSERT_EQ(gets.size(), 1u);
  EXPECT_EQ(gets[0]["range"], "bytes=" + std::to_string(partial_bytes) + "-");
  EXPECT_EQ(hub.bytes_sent(kWeightsSha256), kWeightsBytes - partial_bytes);
  EXPECT_EQ(fs::file_size(cache.blob()), kWeightsBytes);
  EXPECT_FALSE(fs::exists(cache.partial()));
  EXPECT_TRUE(fs::exists(cache.ref()));
  const HttpResponse used =
      post_json(sockets.socket(), "/v1/tokenize", {{"model", kModel}, {"inputs", {"resumed"}}});
  EXPECT_EQ(used.status, 200) << used.body;
  std::printf(
      "killed with %llu of %llu bytes of the weights on disk; the restart fetched the "
      "other %llu\n",
      static_cast<unsigned long long>(partial_bytes),
      static_cast<unsigned long long>(kWeightsBytes),
      static_cast<unsigned long long>(hub.bytes_sent(kWeightsSha256)));
}

// The disk fills up 300 KB into the download: the load fails with io_error naming the full disk
// and the file, the cache holds no blob and no ref for it, and the server keeps serving another
// model. With space again (a server without the shim) the load resumes from what was written.
TEST(ServerDownloadFaults, ADiskFullDuringADownloadIsAClearErrorAndCorruptsNothing) {
  go_online();
  SocketDir sockets;
  TempDir dir;
  const Cache cache{dir.path() / "cache"};
  constexpr uint64_t kBudgetBytes = 300000;
  const std::string chonky = FakeHub::fixture(kModel, "tiny-distilbert-chonky");
  FakeHub hub(dir.path(), {chonky});
  uint64_t partial_bytes = 0;
  {
    ServeOptions options = serve_from(hub, cache);
    options.env.push_back({"LD_PRELOAD", HADES_ENOSPC_SHIM});
    options.env.push_back({"HADES_ENOSPC_DIR", cache.root.string()});
    options.env.push_back({"HADES_ENOSPC_BUDGET_BYTES", std::to_string(kBudgetBytes)});
    ServerProcess server(sockets.socket(), options);
    ASSERT_TRUE(server.wait_ready()) << server.output();
    const HttpResponse full = load(sockets.socket(), kModel);
    EXPECT_EQ(full.status, 500) << full.body;
    EXPECT_EQ(full.error_code(), "io_error") << full.body;
    for (const std::string& part :
         {std::string("disk full"), std::string("No space left"), cache.partial().string()}) {
      EXPECT_NE(full.body.find(part), std::string::npos) << part << " not in " << full.body;
    }
    partial_bytes = fs::file_size(cache.partial());
    EXPECT_GT(partial_bytes, 0u);
    EXPECT_LE(partial_bytes, kBudgetBytes);
    EXPECT_FALSE(fs::exists(cache.blob()));
    EXPECT_FALSE(fs::exists(cache.ref()));
    EXPECT_FALSE(cache.weights_linked());

    // Up, and serving a model it has.
    EXPECT_EQ(http(sockets.socket(), "GET", "/health").status, 200);
    const std::string minilm = minilm_dir().string();
    ASSERT_EQ(load(sockets.socket(), minilm).status, 200);
    const HttpResponse embed =
        post_json(sockets.socket(), "/v1/embed", {{"model", minilm}, {"inputs", {"still up"}}});
    ASSERT_EQ(embed.status, 200) << embed.body;
    EXPECT_EQ(embed.json()["embeddings"][0].size(), 384u);
    server.signal(SIGTERM);
    EXPECT_EQ(server.wait_exit(), 0) << server.output();
  }
  fs::remove(dir.path() / "hub-log.jsonl");
  ServerProcess server(sockets.socket(), serve_from(hub, cache));
  ASSERT_TRUE(server.wait_ready()) << server.output();
  const HttpResponse loaded = load(sockets.socket(), kModel);
  ASSERT_EQ(loaded.status, 200) << loaded.body;
  EXPECT_EQ(hub.bytes_sent(kWeightsSha256), kWeightsBytes - partial_bytes);
  EXPECT_EQ(fs::file_size(cache.blob()), kWeightsBytes);  // and its sha256 was checked
  EXPECT_FALSE(fs::exists(cache.partial()));
}

}  // namespace
}  // namespace hades::test
