// The engine's figures per model and task (RequestMetrics), and what the engine records in them:
// outcomes, the task names, which model ids become labels. Values only, never timings.
#include <gtest/gtest.h>

#include <string>

#include "engine/engine_metrics.hpp"
#include "engine/runtime.hpp"
#include "hades/error.hpp"
#include "support/paths.hpp"

namespace hades {
namespace {

const runtime::TaskStats* find_series(const std::vector<runtime::TaskStats>& all,
                                      const std::string& model, runtime::EngineTask task) {
  for (const runtime::TaskStats& s : all) {
    if (s.model == model && s.task == task) return &s;
  }
  return nullptr;
}
// A pointer into a temporary snapshot would dangle at the end of the statement (AddressSanitizer
// caught one): a snapshot is kept in a variable first.
const runtime::TaskStats* find_series(std::vector<runtime::TaskStats>&& all,
                                      const std::string& model, runtime::EngineTask task) = delete;

uint64_t outcome_count(const runtime::TaskStats& stats, const std::string& outcome) {
  const auto it = stats.outcomes.find(outcome);
  return it == stats.outcomes.end() ? 0 : it->second;
}

TEST(Histogram, CountsEachObservationInItsBucketAndAbove) {
  runtime::Histogram h(runtime::kBatchSequenceBuckets);
  h.observe(1);
  h.observe(3);
  h.observe(3);
  h.observe(5000);                    // above every bound: only +Inf
  EXPECT_EQ(h.count_at_most(0), 1u);  // le 1
  EXPECT_EQ(h.count_at_most(1), 1u);  // le 2
  EXPECT_EQ(h.count_at_most(2), 3u);  // le 4
  EXPECT_EQ(h.count_at_most(runtime::kBatchSequenceBuckets.size() - 1), 3u);
  EXPECT_EQ(h.count(), 4u);
  EXPECT_EQ(h.sum(), 5007.0);
}

TEST(RequestMetrics, UnknownModelsAndModelsBeyondTheCapAreOther) {
  runtime::RequestMetrics metrics;
  metrics.record({.model = "no/such", .model_known = false, .outcome = "model_not_found"});
  for (size_t i = 0; i <= runtime::RequestMetrics::kMaxModels; ++i) {
    const std::string id = std::to_string(i);
    metrics.record({.model = id, .model_known = true, .outcome = "ok"});
  }
  const std::vector<runtime::TaskStats> all = metrics.snapshot();
  EXPECT_EQ(all.size(), runtime::RequestMetrics::kMaxModels + 1);  // the cap's ids, and "other"
  const runtime::TaskStats* other = find_series(all, "other", runtime::EngineTask::embed);
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(outcome_count(*other, "model_not_found"), 1u);
  EXPECT_EQ(outcome_count(*other, "ok"), 1u);  // the id past the cap
  EXPECT_EQ(find_series(all, "no/such", runtime::EngineTask::embed), nullptr);
}

TEST(RequestMetrics, QueueAndInferenceOnlyForWorkThatReachedTheExecutor) {
  runtime::RequestMetrics metrics;
  const runtime::WorkTimes ran{.started = true, .queue_seconds = 0.002, .inference_seconds = 0.04};
  const runtime::WorkTimes not_run{};
  metrics.record({.model = "m",
                  .model_known = true,
                  .task = runtime::EngineTask::chunk,
                  .outcome = "ok",
                  .seconds = 0.05,
                  .times = &ran});
  metrics.record({.model = "m",
                  .model_known = true,
                  .task = runtime::EngineTask::chunk,
                  .outcome = "input_invalid",
                  .seconds = 0.001,
                  .times = &not_run});
  const std::vector<runtime::TaskStats> all = metrics.snapshot();
  const runtime::TaskStats* chunk = find_series(all, "m", runtime::EngineTask::chunk);
  ASSERT_NE(chunk, nullptr);
  EXPECT_EQ(chunk->duration.count(), 2u);
  EXPECT_EQ(chunk->queue.count(), 1u);
  EXPECT_EQ(chunk->queue.sum(), 0.002);
  EXPECT_EQ(chunk->inference.sum(), 0.04);
  EXPECT_EQ(outcome_count(*chunk, "ok"), 1u);
  EXPECT_EQ(outcome_count(*chunk, "input_invalid"), 1u);
}

runtime::EngineConfig cpu_config() {
  runtime::EngineConfig config;
  config.default_device = "cpu";
  return config;
}

TEST(EngineMetrics, CountsRequestsPerModelTaskAndOutcome) {
  runtime::Engine engine(cpu_config());
  const std::string minilm = test::minilm_dir().string();
  engine.embed({.model = minilm, .inputs = {"one", "two"}});
  engine.embed({.model = minilm, .inputs = {"three"}});
  EXPECT_THROW(engine.embed({.model = minilm, .inputs = {}}), Error);
  EXPECT_THROW(engine.embed({.model = "/no/such/model", .inputs = {"x"}}), Error);
  const std::string reranker =
      (test::data_dir() / "models" / "tiny-bertcls-h32-a2-l2-rerank").string();
  engine.classify({.model = reranker, .inputs = {"q", "q"}, .pairs = {"a", "b"}});
  engine.classify({.model = reranker, .inputs = {"just one"}});

  const runtime::EngineStats stats = engine.stats();
  const runtime::TaskStats* embed = find_series(stats.requests, minilm, runtime::EngineTask::embed);
  ASSERT_NE(embed, nullptr);
  EXPECT_EQ(outcome_count(*embed, "ok"), 2u);
  EXPECT_EQ(outcome_count(*embed, "invalid_argument"), 1u);
  EXPECT_EQ(embed->duration.count(), 3u);
  EXPECT_EQ(embed->queue.count(), 2u);  // the invalid request never reached the executor
  EXPECT_EQ(embed->inference.count(), 2u);
  const runtime::TaskStats* other =
      find_series(stats.requests, "other", runtime::EngineTask::embed);
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->duration.count(), 1u);
  EXPECT_EQ(find_series(stats.requests, "/no/such/model", runtime::EngineTask::embed), nullptr);
  const runtime::TaskStats* rerank =
      find_series(stats.requests, reranker, runtime::EngineTask::rerank);
  const runtime::TaskStats* classify =
      find_series(stats.requests, reranker, runtime::EngineTask::classify);
  ASSERT_NE(rerank, nullptr);
  ASSERT_NE(classify, nullptr);
  EXPECT_EQ(outcome_count(*rerank, "ok"), 1u);
  EXPECT_EQ(rerank->queue.count(), 1u);
  EXPECT_EQ(outcome_count(*classify, "ok"), 1u);
  // Each embed request here is one batch: the batches' sequences are the requests' texts.
  EXPECT_EQ(stats.batch_sequences.count(), 2u);
  EXPECT_EQ(stats.batch_sequences.sum(), 3.0);
  EXPECT_EQ(stats.queued_sequences, 0u);
}

}  // namespace
}  // namespace hades
