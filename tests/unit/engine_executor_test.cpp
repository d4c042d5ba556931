// The executor's share of the cores: all of them, or one while a model load lays out weights on
// another thread (so that the load gets a core of its own).
#include <gtest/gtest.h>
#include <omp.h>

#include <atomic>
#include <memory>

#include "engine/executor.hpp"
#include "engine/resident_model.hpp"
#include "models/classifier_model.hpp"
#include "support/paths.hpp"

namespace hades {
namespace {

// A task's model only prices and records its run: any small model does.
std::shared_ptr<ResidentModel> small_model() {
  ServedModel served;
  served.classifier =
      ClassifierModel::load(test::data_dir() / "models" / "tiny-bertcls-h32-a2-l2-seqcls");
  return std::make_shared<ResidentModel>("tiny", "cpu", std::move(served),
                                         std::make_shared<ResidentBytes>());
}

// The OpenMP thread count a task sees when it runs on the executor.
int threads_seen_by_a_task(Executor& executor, const std::shared_ptr<ResidentModel>& model) {
  int seen = 0;
  ComputeTask task;
  task.model = model;
  task.estimated_tokens = 1;
  task.work = [&seen] { seen = omp_get_max_threads(); };
  executor.submit(std::move(task)).get();
  return seen;
}

TEST(Executor, RunsOnOneThreadWhileAModelLoads) {
  std::atomic<int> loads_running{0};
  Executor executor(ExecutorLimits{}, &loads_running);
  const auto model = small_model();
  const int all = threads_seen_by_a_task(executor, model);
  EXPECT_EQ(all, omp_get_max_threads());
  loads_running = 1;
  EXPECT_EQ(threads_seen_by_a_task(executor, model), 1);
  loads_running = 0;
  EXPECT_EQ(threads_seen_by_a_task(executor, model), all);  // restored after the load
}

TEST(Executor, WithoutALoadCounterUsesEveryCore) {
  Executor executor(ExecutorLimits{});
  const auto model = small_model();
  EXPECT_EQ(threads_seen_by_a_task(executor, model), omp_get_max_threads());
}

}  // namespace
}  // namespace hades
