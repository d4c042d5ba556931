// The executor's share of the cores: all of them, or one while a model load lays out weights on
// another thread (so that the load gets a core of its own). Admission is decided once, on
// arrival: a request admitted then is queued however the queue grew while it prepared, and its
// reservation keeps later arrivals out until then (or until the horizon).
#include <gtest/gtest.h>
#include <omp.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <thread>

#include "engine/executor.hpp"
#include "engine/resident_model.hpp"
#include "hades/error.hpp"
#include "models/classifier_model.hpp"
#include "models/embedding_model.hpp"
#include "support/paths.hpp"

namespace hades {
namespace {

// A task's model only prices and records its run: any small model does.
std::shared_ptr<runtime::ResidentModel> small_model() {
  runtime::ServedModel served;
  served.classifier =
      ClassifierModel::load(test::data_dir() / "models" / "tiny-bertcls-h32-a2-l2-seqcls");
  return std::make_shared<runtime::ResidentModel>("tiny", "cpu", std::move(served),
                                                  std::make_shared<runtime::ResidentBytes>());
}

// The OpenMP thread count a task sees when it runs on the executor.
int threads_seen_by_a_task(runtime::Executor& executor,
                           const std::shared_ptr<runtime::ResidentModel>& model) {
  int seen = 0;
  runtime::ComputeTask task;
  task.model = model;
  task.estimated_tokens = 1;
  task.work = [&seen] { seen = omp_get_max_threads(); };
  executor.submit(std::move(task), executor.check_admission(1)).get();
  return seen;
}

TEST(Executor, RunsOnOneThreadWhileAModelLoads) {
  std::atomic<int> loads_running{0};
  runtime::Executor executor(runtime::ExecutorLimits{}, &loads_running);
  const auto model = small_model();
  const int all = threads_seen_by_a_task(executor, model);
  EXPECT_EQ(all, omp_get_max_threads());
  loads_running = 1;
  EXPECT_EQ(threads_seen_by_a_task(executor, model), 1);
  loads_running = 0;
  EXPECT_EQ(threads_seen_by_a_task(executor, model), all);  // restored after the load
}

TEST(Executor, WithoutALoadCounterUsesEveryCore) {
  runtime::Executor executor(runtime::ExecutorLimits{});
  const auto model = small_model();
  EXPECT_EQ(threads_seen_by_a_task(executor, model), omp_get_max_threads());
}

// A task priced at TOKENS that runs until `release` is set.
runtime::ComputeTask blocking_task(const std::shared_ptr<runtime::ResidentModel>& model,
                                   int64_t tokens, std::shared_future<void> release) {
  runtime::ComputeTask task;
  task.model = model;
  task.estimated_tokens = tokens;
  task.work = [release] { release.wait(); };
  return task;
}

TEST(Executor, AnAdmittedRequestIsNotRefusedLaterForItsDelay) {
  using namespace std::chrono_literals;
  runtime::ExecutorLimits limits;
  limits.max_queue_delay = 10ms;
  runtime::Executor executor(limits);
  const auto model = small_model();
  model->record_batch(1, 1);  // the first batch is not measured
  model->record_batch(1, 1);  // one second a token
  // Two requests arrive at an idle executor, and both are admitted.
  runtime::Executor::Admission first = executor.check_admission(1);  // reserves nothing: unmeasured
  runtime::Executor::Admission second = executor.check_admission(1);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::future<void> running =
      executor.submit(blocking_task(model, 1000, released), std::move(first));
  // Now 1000 s of work are ahead: a new arrival is refused...
  try {
    executor.check_admission(1);
    ADD_FAILURE() << "admitted behind 1000 s of work";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::overloaded);
  }
  // ...but the second request, admitted before, is queued (it may have waited for its model).
  std::future<void> queued = executor.submit(blocking_task(model, 1, released), std::move(second));
  release.set_value();
  running.get();
  queued.get();
  EXPECT_EQ(executor.stats().rejected, 1u);
  EXPECT_EQ(executor.stats().tasks, 2u);
}

bool admitted(runtime::Executor& executor, int64_t tokens) {
  try {
    executor.check_admission(tokens);
    return true;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::overloaded);
    return false;
  }
}

TEST(Executor, AReservationIsWorkAheadUntilReleasedOrPastTheHorizon) {
  using namespace std::chrono_literals;
  runtime::ExecutorLimits limits;
  limits.max_queue_delay = 10ms;
  limits.reservation_horizon = 300ms;
  runtime::Executor executor(limits);
  const auto model = small_model();
  model->record_batch(1, 1);
  model->record_batch(1, 1);
  // The executor records the price (about 0.7 s a token) before it answers the task.
  threads_seen_by_a_task(executor, model);
  {
    // Admitted at an idle executor; while it waits for its model, 1000 tokens are reserved.
    const runtime::Executor::Admission large = executor.check_admission(1000);
    EXPECT_FALSE(admitted(executor, 1));
  }
  EXPECT_TRUE(admitted(executor, 1));  // the request ended: its reservation went with it
  const runtime::Executor::Admission waiting = executor.check_admission(1000);
  EXPECT_FALSE(admitted(executor, 1));
  std::this_thread::sleep_for(400ms);  // still not queued: waiting for a download, say
  EXPECT_TRUE(admitted(executor, 1));
}

// Jobs of one model queued behind a running task run as one batch: the batch histograms count it
// once with its sequences and tokens, and each request's times tell that its work started, with
// the pass they shared.
TEST(Executor, CountsEachBatchsSequencesAndTokens) {
  runtime::Executor executor(runtime::ExecutorLimits{});
  runtime::ServedModel served;
  served.embedding = EmbeddingModel::load(test::minilm_dir());
  const auto model = std::make_shared<runtime::ResidentModel>(
      "minilm", "cpu", std::move(served), std::make_shared<runtime::ResidentBytes>());
  std::promise<void> running, release;
  std::shared_future<void> released = release.get_future().share();
  runtime::ComputeTask blocker = blocking_task(small_model(), 1, released);
  blocker.work = [&running, released] {
    running.set_value();
    released.wait();
  };
  std::future<void> blocked = executor.submit(std::move(blocker), executor.check_admission(1));
  running.get_future().wait();

  const auto request = [&](std::vector<std::string> texts,
                           const std::shared_ptr<runtime::WorkTimes>& times) {
    runtime::EmbedJob job;
    job.model = model;
    job.encodings = model->embedding().tokenize(texts, true);
    job.modes = model->embedding().pooling_modes();
    job.times = times;
    const int64_t tokens = job.tokens();
    std::vector<runtime::EmbedJob> jobs;
    jobs.push_back(std::move(job));
    return std::pair{executor.submit(std::move(jobs), executor.check_admission(1)), tokens};
  };
  const auto first = std::make_shared<runtime::WorkTimes>();
  const auto second = std::make_shared<runtime::WorkTimes>();
  auto [a, a_tokens] = request({"one", "two"}, first);
  auto [b, b_tokens] = request({"three", "four", "five"}, second);
  EXPECT_EQ(executor.stats().queued_sequences, 5u);
  EXPECT_FALSE(first->started);
  release.set_value();
  blocked.get();
  a[0].get();
  b[0].get();

  const runtime::ExecutorStats stats = executor.stats();
  EXPECT_EQ(stats.queued_sequences, 0u);
  EXPECT_EQ(stats.batch_sequences.count(), 1u);  // the task is not a batch
  EXPECT_EQ(stats.batch_sequences.sum(), 5.0);
  EXPECT_EQ(stats.batch_sequences.count_at_most(2), 0u);  // le 4
  EXPECT_EQ(stats.batch_sequences.count_at_most(3), 1u);  // le 8
  EXPECT_EQ(stats.batch_tokens.count(), 1u);
  EXPECT_EQ(stats.batch_tokens.sum(), static_cast<double>(a_tokens + b_tokens));
  EXPECT_TRUE(first->started);
  EXPECT_TRUE(second->started);
  EXPECT_EQ(first->inference_seconds, second->inference_seconds);  // one pass, counted once each
}

}  // namespace
}  // namespace hades
