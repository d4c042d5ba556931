// The engine's figures per model and task (RequestMetrics), and what the engine records in them:
// outcomes, the task names, which model ids become labels. Values only, never timings.
#include <gtest/gtest.h>

#include <string>

#include "engine/engine.hpp"
#include "engine/engine_metrics.hpp"
#include "hades/error.hpp"
#include "support/paths.hpp"

namespace hades {
namespace {

const TaskStats* find_series(const std::vector<TaskStats>& all, const std::string& model,
                             EngineTask task) {
  for (const TaskStats& s : all) {
    if (s.model == model && s.task == task) return &s;
  }
  return nullptr;
}
// A pointer into a temporary snapshot would dangle at the end of the statement (AddressSanitizer
// caught one): a snapshot is kept in a variable first.
const TaskStats* find_series(std::vector<TaskStats>&& all, const std::string& model,
                             EngineTask task) = delete;

uint64_t outcome_count(const TaskStats& stats, const std::string& outcome) {
  const auto it = stats.outcomes.find(outcome);
  return it == stats.outcomes.end() ? 0 : it->second;
}

TEST(Histogram, CountsEachObservationInItsBucketAndAbove) {
  Histogram h(kBatchSequenceBuckets);
  h.observe(1);
  h.observe(3);
  h.observe(3);
  h.observe(5000);                    // above every bound: only +Inf
  EXPECT_EQ(h.count_at_most(0), 1u);  // le 1
  EXPECT_EQ(h.count_at_most(1), 1u);  // le 2
  EXPECT_EQ(h.count_at_most(2), 3u);  // le 4
  EXPECT_EQ(h.count_at_most(kBatchSequenceBuckets.size() - 1), 3u);
  EXPECT_EQ(h.count(), 4u);
  EXPECT_EQ(h.sum(), 5007.0);
}

TEST(RequestMetrics, UnknownModelsAndModelsBeyondTheCapAreOther) {
  RequestMetrics metrics;
  metrics.record({.model = "no/such", .model_known = false, .outcome = "model_not_found"});
  for (size_t i = 0; i <= RequestMetrics::kMaxModels; ++i) {
    const std::string id = std::to_string(i);
    metrics.record({.model = id, .model_known = true, .outcome = "ok"});
  }
  const std::vector<TaskStats> all = metrics.snapshot();
  EXPECT_EQ(all.size(), RequestMetrics::kMaxModels + 1);  // the cap's ids, and "other"
  const TaskStats* other = find_series(all, "other", EngineTask::embed);
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(outcome_count(*other, "model_not_found"), 1u);
  EXPECT_EQ(outcome_count(*other, "ok"), 1u);  // the id past the cap
  EXPECT_EQ(find_series(all, "no/such", EngineTask::embed), nullptr);
}

TEST(RequestMetrics, QueueAndInferenceOnlyForWorkThatReachedTheExecutor) {
  RequestMetrics metrics;
  const WorkTimes ran{.started = true, .queue_seconds = 0.002, .inference_seconds = 0.04};
  const WorkTimes not_run{};
  metrics.record({.model = "m",
                  .model_known = true,
                  .task = EngineTask::chunk,
                  .outcome = "ok",
                  .seconds = 0.05,
                  .times = &ran});
  metrics.record({.model = "m",
                  .model_known = true,
                  .task = EngineTask::chunk,
                  .outcome = "input_invalid",
                  .seconds = 0.001,
                  .times = &not_run});
  const std::vector<TaskStats> all = metrics.snapshot();
  const TaskStats* chunk = find_series(all, "m", EngineTask::chunk);
  ASSERT_NE(chunk, nullptr);
  EXPECT_EQ(chunk->duration.count(), 2u);
  EXPECT_EQ(chunk->queue.count(), 1u);
  EXPECT_EQ(chunk->queue.sum(), 0.002);
  EXPECT_EQ(chunk->inference.sum(), 0.04);
  EXPECT_EQ(outcome_count(*chunk, "ok"), 1u);
  EXPECT_EQ(outcome_count(*chunk, "input_invalid"), 1u);
}

EngineConfig cpu_config() {
  EngineConfig config;
  config.default_device = "cpu";
  return config;
}

TEST(EngineMetrics, CountsRequestsPerModelTaskAndOutcome) {
  Engine engine(cpu_config());
  const std::string minilm = test::minilm_dir().string();
  engine.embed({.model = minilm, .inputs = {"one", "two"}});
  engine.embed({.model = minilm, .inputs = {"three"}});
  EXPECT_THROW(engine.embed({.model = minilm, .inputs = {}}), Error);
  EXPECT_THROW(engine.embed({.model = "/no/such/model", .inputs = {"x"}}), Error);
  const std::string reranker =
      (test::data_dir() / "models" / "tiny-bertcls-h32-a2-l2-rerank").string();
  engine.classify({.model = reranker, .inputs = {"q", "q"}, .pairs = {"a", "b"}});
  engine.classify({.model = reranker, .inputs = {"just one"}});

  const EngineStats stats = engine.stats();
  const TaskStats* embed = find_series(stats.requests, minilm, EngineTask::embed);
  ASSERT_NE(embed, nullptr);
  EXPECT_EQ(outcome_count(*embed, "ok"), 2u);
  EXPECT_EQ(outcome_count(*embed, "invalid_argument"), 1u);
  EXPECT_EQ(embed->duration.count(), 3u);
  EXPECT_EQ(embed->queue.count(), 2u);  // the invalid request never reached the executor
  EXPECT_EQ(embed->inference.count(), 2u);
  const TaskStats* other = find_series(stats.requests, "other", EngineTask::embed);
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->duration.count(), 1u);
  EXPECT_EQ(find_series(stats.requests, "/no/such/model", EngineTask::embed), nullptr);
  const TaskStats* rerank = find_series(stats.requests, reranker, EngineTask::rerank);
  const TaskStats* classify = find_series(stats.requests, reranker, EngineTask::classify);
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
