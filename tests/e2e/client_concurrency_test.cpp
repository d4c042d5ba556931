// Many clients at once: every embed request gets exactly one answer, and that answer is what
// sentence-transformers computes for the text (tests/data/minilm/reference.json, which the
// in-process EmbeddingModel matches within 1e-5 in tests/parity/minilm_test.cpp). The service's
// executor batches the concurrent requests; the mean batch size is printed.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>

#include "client_support.hpp"
#include "hades/engine.hpp"

namespace hades {
namespace {

TEST(ClientConcurrency, EveryRequestOfManyClientsGetsTheRightAnswer) {
  // HADES_E2E_CLIENTS × HADES_E2E_REQUESTS requests of one short text each.
  const int clients = test::knob("HADES_E2E_CLIENTS", 32);
  const int requests = test::knob("HADES_E2E_REQUESTS", 200);
  std::vector<test::GoldenText> texts;
  for (test::GoldenText& g : test::minilm_golden()) {
    if (!g.text.empty() && g.text.size() <= 48) texts.push_back(std::move(g));
  }
  ASSERT_GE(texts.size(), 4u);

  test::use_test_hf_cache();
  test::ServiceSandbox sandbox;
  HaystackModelEngine engine(sandbox.options());
  engine.start();
  engine.load_model(test::kMiniLmId);

  std::atomic<int> answered{0};
  std::atomic<int> wrong{0};
  std::mutex failures_mutex;
  std::vector<std::string> failures;
  const auto begin = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      ModelClient client(sandbox.options());
      for (int i = 0; i < requests; ++i) {
        const test::GoldenText& g = texts[static_cast<size_t>(c * 7 + i) % texts.size()];
        try {
          const EmbeddingResult e = client.embed(test::kMiniLmId, {g.text});
          ++answered;
          if (e.embeddings.size() != 1 ||
              test::max_abs_diff(e.embeddings[0], g.embedding) > 1e-5f) {
            ++wrong;
          }
        } catch (const std::exception& error) {
          const std::lock_guard lock(failures_mutex);
          failures.push_back(error.what());
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();

  EXPECT_TRUE(failures.empty()) << failures.size() << " failed, first: " << failures.front();
  EXPECT_EQ(answered.load(), clients * requests);
  EXPECT_EQ(wrong.load(), 0) << "answers that differ from sentence-transformers";

  const ServiceStatus status = engine.status();
  const std::string mean_batch = status.stats.count("mean_batch_requests") != 0
                                     ? status.stats.at("mean_batch_requests")
                                     : "(not reported)";
  std::printf(
      "[ figures  ] %d clients x %d requests = %d answers checked in %.1f s (%.0f/s); "
      "executor batches: %s, mean batch size %s requests\n",
      clients, requests, answered.load(), seconds, answered.load() / seconds,
      status.stats.count("batches") ? status.stats.at("batches").c_str() : "?", mean_batch.c_str());
  ::testing::Test::RecordProperty("requests_checked", answered.load());
  ::testing::Test::RecordProperty("mean_batch_requests", mean_batch);
  EXPECT_TRUE(engine.stop().was_running);
}

}  // namespace
}  // namespace hades
