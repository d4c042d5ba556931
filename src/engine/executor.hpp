// The executor of one device: a thread that runs queued embedding jobs, batching the jobs of one
// model up to a token budget into one ragged forward pass (the way TEI's queue does), so that many
// concurrent small requests cost one large matmul instead of many small ones.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/resident_model.hpp"
#include "models/embedding_model.hpp"

namespace hades {

struct EmbedJob {
  std::shared_ptr<ResidentModel> model;  // the request's lease keeps it alive and counted
  std::vector<Encoding> encodings;
  std::vector<PoolingMode> modes;
  bool normalize = false;
  std::promise<Embeddings> done;

  int64_t tokens() const;
};

struct ExecutorStats {
  uint64_t batches = 0;
  uint64_t batched_jobs = 0;
  size_t queued = 0;
};

class Executor {
 public:
  Executor(int64_t max_batch_tokens, size_t max_queued_jobs);
  ~Executor();  // finishes every queued job, then joins
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Queues a job; overloaded when the queue is full.
  std::future<Embeddings> submit(EmbedJob job);
  ExecutorStats stats() const;

 private:
  void run();
  std::vector<EmbedJob> next_batch(std::unique_lock<std::mutex>& lock);
  static void execute(std::vector<EmbedJob>& batch);

  const int64_t max_batch_tokens_;
  const size_t max_queued_jobs_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<EmbedJob> queue_;
  bool stopping_ = false;
  ExecutorStats stats_;
  std::thread thread_;  // last: starts after every member above exists
};

}  // namespace hades
