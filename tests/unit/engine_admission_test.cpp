// Admission control in the engine's executor: a request that would wait longer than
// max_queue_delay for the work queued ahead of it is refused at once (overloaded), without
// waiting for that work; an idle executor takes any request, however large; with the bound off,
// nothing is refused; a cancelled request's queued work is dropped. Uses the real all-MiniLM-L6-v2.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/runtime.hpp"
#include "hades/error.hpp"
#include "support/paths.hpp"

namespace hades {
namespace {

using namespace std::chrono_literals;

runtime::EngineConfig config_with_delay(std::chrono::milliseconds delay) {
  runtime::EngineConfig config;
  config.default_device = "cpu";
  config.max_batch_tokens = 512;  // a large request becomes many queued jobs
  config.max_queue_delay = delay;
  return config;
}

// 32 texts of about 130 tokens: 8 jobs of 512 tokens, several times any bound used here.
runtime::EmbedRequest large_request(const std::string& model) {
  std::string text;
  for (int i = 0; i < 13; ++i) text += "the quick brown fox jumps over the lazy dog again ";
  runtime::EmbedRequest request;
  request.model = model;
  request.inputs.assign(32, text);
  return request;
}

runtime::EmbedRequest short_request(const std::string& model) {
  runtime::EmbedRequest request;
  request.model = model;
  request.inputs = {"a short text"};
  return request;
}

// Loads the model and measures its cost per token: a model's first batch is not measured (it pays
// one-time costs), so it takes two.
void load_and_measure(runtime::Engine& engine, const std::string& model) {
  engine.embed(short_request(model));
  engine.embed(short_request(model));
  ASSERT_GT(engine.stats().batches, 1u);
}

// Submits `probe` while `background` still has jobs queued, until one attempt finds them queued
// (the background request may drain between the check and the probe). Returns the probe's error
// code, or nullopt when it was answered.
std::optional<ErrorCode> probe_while_queued(runtime::Engine& engine,
                                            std::future<runtime::EmbeddingResult>& background,
                                            const runtime::EmbedRequest& probe) {
  std::optional<ErrorCode> outcome;
  bool probed = false;
  while (background.wait_for(0ms) != std::future_status::ready) {
    if (engine.stats().queued_jobs < 2) {
      std::this_thread::sleep_for(1ms);
      continue;
    }
    probed = true;
    try {
      engine.embed(probe);
      outcome.reset();
    } catch (const Error& e) {
      outcome = e.code();
      EXPECT_NE(std::string(e.what()).find("HADES_MAX_QUEUE_DELAY"), std::string::npos) << e.what();
      // Refused without waiting for the queued work: the large request is still running.
      EXPECT_NE(background.wait_for(0ms), std::future_status::ready);
      break;
    }
  }
  EXPECT_TRUE(probed) << "the large request never had two jobs queued";
  return outcome;
}

TEST(EngineAdmission, RefusesAtOnceWhenTheQueuedWorkWouldWaitTooLong) {
  runtime::Engine engine(config_with_delay(20ms));
  const std::string model = test::minilm_dir().string();
  load_and_measure(engine, model);

  auto background =
      std::async(std::launch::async, [&] { return engine.embed(large_request(model)); });
  EXPECT_EQ(probe_while_queued(engine, background, short_request(model)), ErrorCode::overloaded);
  // An idle executor took the large request although its own work exceeds the bound.
  EXPECT_EQ(background.get().values.size(), 32u * 384u);
  EXPECT_GE(engine.stats().rejected_requests, 1u);
  // Once the queue is empty, the same short request is served.
  EXPECT_EQ(engine.embed(short_request(model)).values.size(), 384u);
}

TEST(EngineAdmission, NothingIsRefusedWithTheBoundOff) {
  runtime::Engine engine(config_with_delay(0ms));
  const std::string model = test::minilm_dir().string();
  engine.embed(short_request(model));
  auto background =
      std::async(std::launch::async, [&] { return engine.embed(large_request(model)); });
  EXPECT_EQ(probe_while_queued(engine, background, short_request(model)), std::nullopt);
  background.get();
  EXPECT_EQ(engine.stats().rejected_requests, 0u);
}

// A caller that has gone (the server's client hung up) leaves no work behind: its queued jobs
// fail unrun, and the queue's estimate forgets them.
TEST(EngineAdmission, ACancelledRequestsQueuedWorkIsDropped) {
  runtime::Engine engine(config_with_delay(0ms));
  const std::string model = test::minilm_dir().string();
  engine.embed(short_request(model));
  auto cancelled = std::make_shared<std::atomic<bool>>(false);
  runtime::EmbedRequest large = large_request(model);
  large.cancelled = cancelled;
  auto background = std::async(std::launch::async, [&] { return engine.embed(large); });
  while (engine.stats().queued_jobs < 2) std::this_thread::sleep_for(1ms);
  cancelled->store(true);
  try {
    background.get();
    ADD_FAILURE() << "the cancelled request was answered";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::io_error) << e.what();
    EXPECT_NE(std::string(e.what()).find("closed its connection"), std::string::npos);
  }
  const runtime::EngineStats stats = engine.stats();
  EXPECT_GE(stats.dropped_jobs, 1u);
  EXPECT_EQ(stats.queued_jobs, 0u);
  EXPECT_EQ(stats.queued_seconds, 0.0);
  EXPECT_EQ(engine.embed(short_request(model)).values.size(), 384u);
}

runtime::ChunkRequest chunk_request(const runtime::CancelFlag& cancelled = nullptr) {
  runtime::ChunkRequest request;
  request.model = (test::data_dir() / "models" / "tiny-distilbert-chonky").string();
  request.inputs = {"First paragraph of a document. Second one follows here."};
  request.cancelled = cancelled;
  return request;
}

// Chunking (like classification) runs on the executor thread as one task, queued in arrival
// order behind the embedding jobs: the same bound refuses it when the work ahead is too long.
TEST(EngineAdmission, AChunkRequestIsRefusedBehindTooMuchQueuedWork) {
  runtime::Engine engine(config_with_delay(20ms));
  const std::string model = test::minilm_dir().string();
  load_and_measure(engine, model);
  EXPECT_FALSE(engine.chunk(chunk_request()).results.at(0).chunks.empty());
  auto background =
      std::async(std::launch::async, [&] { return engine.embed(large_request(model)); });
  std::optional<ErrorCode> outcome;
  while (background.wait_for(0ms) != std::future_status::ready) {
    if (engine.stats().queued_jobs < 2) {
      std::this_thread::sleep_for(1ms);
      continue;
    }
    try {
      engine.chunk(chunk_request());
    } catch (const Error& e) {
      outcome = e.code();
      EXPECT_NE(std::string(e.what()).find("HADES_MAX_QUEUE_DELAY"), std::string::npos);
      break;
    }
  }
  EXPECT_EQ(outcome, ErrorCode::overloaded);
  background.get();
  EXPECT_FALSE(engine.chunk(chunk_request()).results.at(0).chunks.empty());
}

// A chunk request whose client has gone while it waited behind other work is dropped unrun.
TEST(EngineAdmission, ACancelledChunkRequestIsDroppedUnrun) {
  runtime::Engine engine(config_with_delay(0ms));
  const std::string model = test::minilm_dir().string();
  engine.embed(short_request(model));
  auto background =
      std::async(std::launch::async, [&] { return engine.embed(large_request(model)); });
  while (engine.stats().queued_jobs < 2) std::this_thread::sleep_for(1ms);
  auto gone = std::make_shared<std::atomic<bool>>(true);
  try {
    engine.chunk(chunk_request(gone));
    ADD_FAILURE() << "the cancelled chunk request was answered";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::io_error) << e.what();
  }
  background.get();
  EXPECT_GE(engine.stats().dropped_jobs, 1u);
  EXPECT_EQ(engine.stats().queued_jobs, 0u);
}

}  // namespace
}  // namespace hades
