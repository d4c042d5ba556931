// The downloader against a local fake hub (tests/support/fake_hub.py) speaking the hub's protocol:
// the cache layout it fills, resume after a cut, checksums, errors, tokens, redirects, offline.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "hub/downloader.hpp"
#include "support/expect_error.hpp"
#include "support/fake_hub.hpp"
#include "support/temp_dir.hpp"

namespace hades {
namespace {

namespace fs = std::filesystem;
using test::expect_error;
using test::FakeHub;

constexpr const char* kModel = "hades-test/chonky";
constexpr uint64_t kWeightsBytes = 990080;  // tiny-distilbert-chonky/model.safetensors
constexpr const char* kWeightsSha256 =
    "99171024a94ee10d46d1287635a7a04df0c02dec11181de25ee0f5d2722ddd99";

std::string chonky() {
  return FakeHub::fixture(kModel, "tiny-distilbert-chonky");
}

HubSettings settings(const FakeHub& hub, const fs::path& cache) {
  HubSettings settings;
  settings.endpoint = hub.endpoint();
  settings.cache = cache;
  settings.timeout_s = 5;
  return settings;
}

fs::path repo_dir(const fs::path& cache) {
  return cache / "models--hades-test--chonky";
}

TEST(HubDownload, FillsTheStandardCacheLayout) {
  test::TempDir dir;
  FakeHub hub(dir.path(), {chonky()}, {"--extra-files"});
  const fs::path snapshot = pull_model(kModel, {}, settings(hub, dir.path() / "cache"));

  std::ifstream ref(repo_dir(dir.path() / "cache") / "refs" / "main");
  std::string commit;
  ref >> commit;
  EXPECT_EQ(snapshot, repo_dir(dir.path() / "cache") / "snapshots" / commit);
  EXPECT_TRUE(is_complete_snapshot(snapshot));
  // Large files are named by their sha256, through a relative link, as huggingface_hub does.
  EXPECT_EQ(fs::read_symlink(snapshot / "model.safetensors"),
            fs::path("../../blobs") / kWeightsSha256);
  EXPECT_EQ(fs::file_size(snapshot / "model.safetensors"), kWeightsBytes);
  for (const char* file :
       {"config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}) {
    EXPECT_TRUE(fs::is_symlink(snapshot / file)) << file;
  }
  // Never pickle, never code: not even asked for.
  EXPECT_FALSE(fs::exists(snapshot / "pytorch_model.bin"));
  EXPECT_TRUE(hub.requests_matching("HEAD", "pytorch_model.bin").empty());
  EXPECT_TRUE(hub.requests_matching("GET", "modeling_custom.py").empty());
  EXPECT_TRUE(hub.requests_matching("HEAD", "modeling_custom.py").empty());
}

TEST(HubDownload, FetchesShardsWithTheirIndex) {
  test::TempDir dir;
  FakeHub hub(dir.path(),
              {FakeHub::fixture("hades-test/sharded", "tiny-bert-h32-a2-l2-gelu-tanh-sharded")});
  const fs::path snapshot = pull_model("hades-test/sharded", {}, settings(hub, dir.path()));
  EXPECT_TRUE(fs::exists(snapshot / "model.safetensors.index.json"));
  EXPECT_TRUE(fs::exists(snapshot / "model-00003-of-00003.safetensors"));
  EXPECT_TRUE(is_complete_snapshot(snapshot));
}

TEST(HubDownload, ASecondPullTransfersNoFile) {
  test::TempDir dir;
  FakeHub hub(dir.path(), {chonky()});
  pull_model(kModel, {}, settings(hub, dir.path()));
  const size_t gets = hub.requests_matching("GET", "").size();
  uint64_t transferred = 1;
  PullOptions options;
  options.observer = [&](const DownloadEvent& e) { transferred = e.transferred_bytes; };
  pull_model(kModel, options, settings(hub, dir.path()));
  EXPECT_EQ(transferred, 0u);
  EXPECT_EQ(hub.requests_matching("GET", "").size(), gets + 1);  // the listing only
}

TEST(HubDownload, ACutAtHalfResumesWithARangeRequest) {
  test::TempDir dir;
  FakeHub hub(dir.path(), {chonky()}, {"--cut", "model.safetensors=0.5"});
  const fs::path snapshot = pull_model(kModel, {}, settings(hub, dir.path()));
  EXPECT_TRUE(is_complete_snapshot(snapshot));
  const auto gets = hub.requests_matching("GET", kWeightsSha256);
  ASSERT_EQ(gets.size(), 2u);
  EXPECT_EQ(gets[0]["body_bytes"], kWeightsBytes / 2);
  EXPECT_EQ(gets[1]["range"], "bytes=" + std::to_string(kWeightsBytes / 2) + "-");
  EXPECT_EQ(gets[1]["body_bytes"], kWeightsBytes - kWeightsBytes / 2);
  EXPECT_EQ(hub.bytes_sent(kWeightsSha256), kWeightsBytes);
  std::printf("resume after a 50%% cut: first GET %llu bytes, resumed GET %llu bytes, total %llu\n",
              static_cast<unsigned long long>(gets[0]["body_bytes"].get<uint64_t>()),
              static_cast<unsigned long long>(gets[1]["body_bytes"].get<uint64_t>()),
              static_cast<unsigned long long>(hub.bytes_sent(kWeightsSha256)));
}

TEST(HubDownload, AnInterruptedPullLeavesOnlyAnIncompleteFileThatTheNextPullResumes) {
  test::TempDir dir;
  const fs::path blob = repo_dir(dir.path()) / "blobs" / kWeightsSha256;
  {
    FakeHub hub(dir.path(), {chonky()}, {"--cut", "model.safetensors=0.5:100"});
    HubSettings hub_settings = settings(hub, dir.path());
    hub_settings.max_attempts = 2;
    expect_error([&] { pull_model(kModel, {}, hub_settings); }, ErrorCode::network_error,
                 {"model.safetensors"});
    EXPECT_FALSE(fs::exists(blob));
    EXPECT_EQ(fs::file_size(blob.string() + ".incomplete"), kWeightsBytes / 2);
    EXPECT_FALSE(find_cached_model(kModel, "main", dir.path()).has_value());
  }
  fs::remove(dir.path() / "hub-log.jsonl");
  FakeHub hub(dir.path(), {chonky()});
  pull_model(kModel, {}, settings(hub, dir.path()));
  EXPECT_EQ(hub.bytes_sent(kWeightsSha256), kWeightsBytes - kWeightsBytes / 2);
  EXPECT_EQ(fs::file_size(blob), kWeightsBytes);
  EXPECT_FALSE(fs::exists(blob.string() + ".incomplete"));
}

TEST(HubDownload, ACorruptDownloadIsRejectedAndDeleted) {
  test::TempDir dir;
  FakeHub hub(dir.path(), {chonky()}, {"--corrupt", "model.safetensors"});
  expect_error([&] { pull_model(kModel, {}, settings(hub, dir.path())); }, ErrorCode::io_error,
               {"model.safetensors", "corrupt", "sha256", "never loaded"});
  const fs::path blob = repo_dir(dir.path()) / "blobs" / kWeightsSha256;
  EXPECT_FALSE(fs::exists(blob));
  EXPECT_FALSE(fs::exists(blob.string() + ".incomplete"));
  EXPECT_FALSE(find_cached_model(kModel, "main", dir.path()).has_value());
}

// A size no file has (25 digits) is refused as such, not thrown as std::out_of_range.
TEST(HubDownload, AnAbsurdFileSizeIsAnError) {
  test::TempDir dir;
  FakeHub hub(dir.path(), {chonky()}, {"--absurd-size", "model.safetensors"});
  expect_error([&] { pull_model(kModel, {}, settings(hub, dir.path())); }, ErrorCode::io_error,
               {"model.safetensors", "no usable file size", "9999999999"});
  EXPECT_FALSE(find_cached_model(kModel, "main", dir.path()).has_value());
}

TEST(HubDownload, ErrorsSayWhatToDo) {
  test::TempDir dir;
  FakeHub hub(dir.path(), {chonky()},
              {"--gated", "hades-test/gated", "--model",
               FakeHub::fixture("hades-test/gated", "tiny-bert-h32-a2-l2-gelu")});
  const HubSettings hub_settings = settings(hub, dir.path());
  expect_error([&] { pull_model("hades-test/missing", {}, hub_settings); },
               ErrorCode::model_not_found, {"Model not found: hades-test/missing"});
  PullOptions branch;
  branch.revision = "no-such-branch";
  expect_error([&] { pull_model(kModel, branch, hub_settings); }, ErrorCode::model_not_found,
               {"Model not found", "no-such-branch"});
  expect_error([&] { pull_model("hades-test/gated", {}, hub_settings); }, ErrorCode::access_denied,
               {"gated or private", "HF_TOKEN"});
  expect_error([&] { pull_model("../escape", {}, hub_settings); }, ErrorCode::invalid_argument,
               {"not a valid model id"});
}

TEST(HubDownload, ARepoWithoutSafetensorsSaysWhatItHas) {
  test::TempDir dir;
  fs::create_directories(dir.path() / "pickle");
  std::ofstream(dir.path() / "pickle" / "config.json") << "{}";
  std::ofstream(dir.path() / "pickle" / "pytorch_model.bin") << "PICKLE";
  FakeHub hub(dir.path(), {"hades-test/pickle=" + (dir.path() / "pickle").string()});
  expect_error([&] { pull_model("hades-test/pickle", {}, settings(hub, dir.path() / "c")); },
               ErrorCode::unsupported, {"no safetensors", "pytorch_model.bin", "only"});
}

TEST(HubDownload, TheTokenGoesToTheHubOnlyAndRedirectsMayChangeHost) {
  test::TempDir dir;
  FakeHub hub(dir.path(), {chonky()}, {"--token", "s3cret", "--lfs-host", "localhost"});
  HubSettings hub_settings = settings(hub, dir.path());
  expect_error([&] { pull_model(kModel, {}, hub_settings); }, ErrorCode::access_denied,
               {"HF_TOKEN"});
  hub_settings.token = "wrong";
  expect_error([&] { pull_model(kModel, {}, hub_settings); }, ErrorCode::access_denied,
               {"HF_TOKEN was refused"});
  hub_settings.token = "s3cret";
  EXPECT_TRUE(is_complete_snapshot(pull_model(kModel, {}, hub_settings)));
  const auto store = hub.requests_matching("GET", kWeightsSha256);
  ASSERT_EQ(store.size(), 1u);
  EXPECT_EQ(store[0]["host"], "localhost:" + std::to_string(hub.port()));
  EXPECT_EQ(store[0]["auth"], "");
  EXPECT_EQ(store[0]["status"], 200);
}

TEST(HubDownload, NoNetworkAndNotCachedSaysBoth) {
  test::TempDir dir;
  HubSettings hub_settings;
  hub_settings.endpoint = "http://127.0.0.1:1";
  hub_settings.cache = dir.path();
  expect_error([&] { resolve_model(kModel, {}, hub_settings); }, ErrorCode::network_error,
               {"cannot reach the hub", "not in the cache"});
}

TEST(HubDownload, OfflineModeNeverTouchesTheNetwork) {
  test::TempDir dir;
  HubSettings hub_settings;
  hub_settings.endpoint = "http://127.0.0.1:1";
  hub_settings.cache = dir.path();
  hub_settings.offline = true;
  expect_error([&] { resolve_model(kModel, {}, hub_settings); }, ErrorCode::model_not_found,
               {"Model not found: hades-test/chonky", "offline mode is on"});
  {
    FakeHub hub(dir.path(), {chonky()});
    pull_model(kModel, {}, settings(hub, dir.path()));
  }
  EXPECT_TRUE(is_complete_snapshot(resolve_model(kModel, {}, hub_settings)));
  hub_settings.offline = false;  // cached: resolution does not ask the (unreachable) hub either
  EXPECT_TRUE(is_complete_snapshot(resolve_model(kModel, {}, hub_settings)));
}

TEST(HubDownload, ProgressOfASlowDownloadGrowsToTheTotal) {
  test::TempDir dir;
  FakeHub hub(dir.path(), {chonky()}, {"--slow-bps", "2000000"});
  std::vector<DownloadEvent> events;
  PullOptions options;
  options.observer = [&](const DownloadEvent& e) { events.push_back(e); };
  pull_model(kModel, options, settings(hub, dir.path()));
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events.front().kind, DownloadEvent::Kind::start);
  EXPECT_EQ(events.back().kind, DownloadEvent::Kind::done);
  EXPECT_EQ(events.back().done_bytes, events.back().total_bytes);
  const auto progress = std::count_if(events.begin(), events.end(), [](const auto& e) {
    return e.kind == DownloadEvent::Kind::progress;
  });
  EXPECT_GE(progress, 2);
  for (size_t i = 1; i < events.size(); ++i) {
    EXPECT_GE(events[i].done_bytes, events[i - 1].done_bytes);
  }
}

TEST(HubDownload, ConcurrentPullsOfOneModelDownloadItOnce) {
  test::TempDir dir;
  FakeHub hub(dir.path(), {chonky()}, {"--slow-bps", "4000000"});
  const HubSettings hub_settings = settings(hub, dir.path());
  std::atomic<int> ok{0};
  std::vector<std::thread> pulls;
  for (int i = 0; i < 3; ++i) {
    pulls.emplace_back([&] {
      if (is_complete_snapshot(pull_model(kModel, {}, hub_settings))) ++ok;
    });
  }
  for (std::thread& t : pulls) t.join();
  EXPECT_EQ(ok, 3);
  EXPECT_EQ(hub.requests_matching("GET", kWeightsSha256).size(), 1u);
  EXPECT_EQ(hub.bytes_sent(kWeightsSha256), kWeightsBytes);
}

}  // namespace
}  // namespace hades
