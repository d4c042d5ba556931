// The executor of one device: a thread that runs queued embedding jobs, batching the jobs of one
// model up to a token budget into one ragged forward pass (the way TEI's queue does), so that many
// concurrent small requests cost one large matmul instead of many small ones.
//
// Admission control: the executor prices the work queued ahead of a new request with each
// model's measured seconds per token, and refuses the request at once (overloaded, 429) when it
// would wait longer than `max_queue_delay` to start. Above capacity, callers learn it in
// microseconds instead of timing out, and the requests it accepts keep the latency they had
// below capacity (a bounded queue in time, not only in count). The decision is taken once, when
// the request arrives: one that passed is not refused for its delay after it has waited for its
// model's load and tokenized (that 429 would come late, and the work would be lost). Instead,
// an admitted request reserves its estimated work until it is queued, and reservations count as
// work ahead: the requests that wait for a model load keep the later arrivals out, so they do
// not all find a long queue when the load ends.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <list>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/engine_metrics.hpp"
#include "engine/histogram.hpp"
#include "engine/resident_model.hpp"
#include "models/embedding_model.hpp"

namespace hades::runtime {

struct EmbedJob {
  std::shared_ptr<ResidentModel> model;  // the request's lease keeps it alive and counted
  std::vector<Encoding> encodings;
  std::vector<PoolingMode> modes;
  bool normalize = false;
  std::promise<Embeddings> done;
  std::shared_ptr<const std::atomic<bool>> cancelled;  // may be null; see EmbedRequest
  std::shared_ptr<WorkTimes> times;                    // may be null; shared by a request's jobs
  double estimated_seconds = 0;                        // set by the executor when it queues the job
  uint64_t sequence = 0;  // arrival order among jobs and tasks, set by the executor
  std::chrono::steady_clock::time_point queued_at;  // set by the executor

  int64_t tokens() const;
};

// Work that is not an embedding batch (classification, token classification, chunking) runs on
// the executor thread too, whole and in arrival order: one thread drives the compute pool, so no
// second OpenMP team oversubscribes the cores, and the same admission and cancellation apply.
struct ComputeTask {
  std::shared_ptr<ResidentModel> model;  // priced and measured like a job's
  std::function<void()> work;            // its exception reaches the caller through `done`
  int64_t estimated_tokens = 0;          // the price's unit, and what the run is recorded as
  size_t sequences = 1;                  // the texts it runs on: what it adds to the queue's depth
  std::promise<void> done;
  std::shared_ptr<const std::atomic<bool>> cancelled;  // may be null
  std::shared_ptr<WorkTimes> times;                    // may be null
  double estimated_seconds = 0;
  uint64_t sequence = 0;
  std::chrono::steady_clock::time_point queued_at;
};

struct ExecutorLimits {
  int64_t max_batch_tokens = 4096;  // token budget of one forward pass
  size_t max_queued_jobs = 1024;    // beyond this, overloaded
  // A request whose estimated wait before its first job starts exceeds this is refused
  // (overloaded). Zero turns the check off.
  std::chrono::milliseconds max_queue_delay{0};
  // An admitted request's reservation stops counting as work ahead after this long: a request
  // still waiting for its model then is waiting for a download or a very large load, and its
  // work is too far off to keep others out now.
  std::chrono::milliseconds reservation_horizon{1000};
};

struct ExecutorStats {
  uint64_t batches = 0;
  uint64_t batched_jobs = 0;
  uint64_t tasks = 0;           // classification and chunking tasks run
  uint64_t dropped = 0;         // jobs dropped unrun because their caller had gone
  uint64_t rejected = 0;        // requests refused as overloaded (queue full or too slow)
  size_t queued = 0;            // jobs and tasks waiting
  size_t queued_sequences = 0;  // the texts they hold
  double queued_seconds = 0;    // their estimated work, plus what is left of the running batch
  // Of the embedding batches run (tasks are not batched).
  Histogram batch_sequences{kBatchSequenceBuckets};
  Histogram batch_tokens{kBatchTokenBuckets};
};

class Executor {
 public:
  struct Reservation {
    std::chrono::steady_clock::time_point since;
    double seconds = 0;
  };
  // A request's pass through admission, holding its reservation until submit takes it or the
  // request ends without work (an error, a failed load). Only check_admission makes one.
  class Admission {
   public:
    Admission(Admission&& other) noexcept;
    Admission& operator=(Admission&&) = delete;
    ~Admission();
    // The estimate it was admitted with (a task is priced by it too).
    int64_t estimated_tokens() const { return estimated_tokens_; }

   private:
    friend class Executor;
    Admission(Executor* owner, std::list<Reservation>::iterator reservation, int64_t tokens)
        : owner_(owner), reservation_(reservation), estimated_tokens_(tokens) {}
    Executor* owner_;  // null once released
    std::list<Reservation>::iterator reservation_;
    int64_t estimated_tokens_;
  };

  // While `loads_running` (may be null) is above zero, a model load is laying out weights on
  // another thread, and batches and tasks run on one thread: the load gets a core of its own
  // instead of sharing one with the compute pool, whose threads would wait at every op for the
  // one the load preempted.
  explicit Executor(ExecutorLimits limits, const std::atomic<int>* loads_running = nullptr);
  ~Executor();  // finishes every queued job, then joins
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Admits a request of about ESTIMATED_TOKENS before it does any work (waits for its model,
  // tokenizes): overloaded when the queue is full or the work ahead (queued, running and
  // reserved) would keep it waiting longer than max_queue_delay.
  // With QUEUE WAIT::unbounded only the queue's length is checked: the request waits its turn.
  enum class QueueWait { bounded, unbounded };
  Admission check_admission(int64_t estimated_tokens, QueueWait wait = QueueWait::bounded);
  // Queues the jobs of one admitted request in place of its reservation, all or none:
  // overloaded only when the queue is full (a bound on memory, not on time).
  std::vector<std::future<Embeddings>> submit(std::vector<EmbedJob> jobs, Admission&& admitted);
  // Queues one task of an admitted request, the same way; the future is ready once it has run.
  std::future<void> submit(ComputeTask task, Admission&& admitted);
  ExecutorStats stats() const;

 private:
  using Clock = std::chrono::steady_clock;
  void run();
  std::vector<EmbedJob> next_batch(std::unique_lock<std::mutex>& lock);
  // Runs one batch (or task) and answers its callers, after finish_running.
  void execute(std::vector<EmbedJob>& batch);
  void execute(ComputeTask& task);
  bool task_is_next() const;  // mutex_ held
  void run_unlocked(std::unique_lock<std::mutex>& lock, double estimate,
                    const std::function<void()>& run);
  void finish_running(double seconds_per_token);
  void drop_cancelled();              // mutex_ held
  void admit_count(size_t new_jobs);  // throws overloaded; mutex_ held
  void admit_delay();                 // throws overloaded; mutex_ held
  void release(Admission& admitted);  // mutex_ held
  double wait_seconds() const;        // mutex_ held
  double price(const EmbedJob& job) const;
  double price(const std::shared_ptr<ResidentModel>& model, int64_t tokens) const;

  const ExecutorLimits limits_;
  const std::atomic<int>* const loads_running_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<EmbedJob> queue_;
  std::deque<ComputeTask> tasks_;
  uint64_t next_sequence_ = 0;
  double queued_seconds_ = 0;            // sum of the queued jobs' estimated_seconds
  std::list<Reservation> reservations_;  // of admitted requests not queued yet
  double running_seconds_ = 0;           // the running batch's estimate
  Clock::time_point running_since_;
  double last_seconds_per_token_ = 0;  // any model's latest cost: the price of an unmeasured one
  bool stopping_ = false;
  ExecutorStats stats_;
  std::thread thread_;  // last: starts after every member above exists
};

}  // namespace hades::runtime
