#include "engine/executor.hpp"

#include <algorithm>
#include <utility>

#include "compute/threads.hpp"
#include "hades/error.hpp"
#include "models/parallel_forward.hpp"
#include "models/pooling.hpp"

namespace hades::runtime {
namespace {
// The job's rows of the batch's hidden states, pooled and normalized as the job asks.
// `cu_seqlens` starts at the job's first sequence.
Embeddings pool_job(const EmbedJob& job, const std::vector<float>& hidden_states, int64_t hidden,
                    std::span<const int32_t> cu_seqlens) {
  const size_t count = job.encodings.size();
  std::vector<int32_t> local_cu(count + 1);
  for (size_t i = 0; i <= count; ++i) local_cu[i] = cu_seqlens[i] - cu_seqlens[0];
  const std::span<const float> rows(hidden_states.data() + cu_seqlens[0] * hidden,
                                    static_cast<size_t>(local_cu.back() * hidden));
  Embeddings result;
  result.dimension = hidden * static_cast<int64_t>(job.modes.size());
  result.values = pool(rows, hidden, local_cu, job.modes);
  result.tokens = local_cu.back();
  if (job.normalize) normalize_rows(result.values, result.dimension);
  return result;
}

// Whether a model load is laying out weights now: batches and tasks then run on one thread (see
// the constructor's comment in executor.hpp).
bool a_load_runs(const std::atomic<int>* loads_running) {
  return loads_running != nullptr && loads_running->load() > 0;
}

using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// A request's queue time ends when the first batch (or task) that carries its work starts.
void mark_started(WorkTimes* times, Clock::time_point queued_at, Clock::time_point start) {
  if (times == nullptr || times->started) return;
  times->started = true;
  times->queue_seconds = seconds_between(queued_at, start);
}

// Each request whose jobs the batch carried spent SECONDS in its forward pass (once per request,
// however many of its jobs the batch held).
void add_inference(std::vector<EmbedJob>& batch, double seconds) {
  std::vector<WorkTimes*> counted;
  for (const EmbedJob& job : batch) {
    WorkTimes* times = job.times.get();
    if (times == nullptr || std::find(counted.begin(), counted.end(), times) != counted.end()) {
      continue;
    }
    times->inference_seconds += seconds;
    counted.push_back(times);
  }
}

}  // namespace

int64_t EmbedJob::tokens() const {
  int64_t total = 0;
  for (const Encoding& e : encodings) total += static_cast<int64_t>(e.size());
  return total;
}

Executor::Executor(ExecutorLimits limits, const std::atomic<int>* loads_running)
    : limits_(limits), loads_running_(loads_running), thread_([this] { run(); }) {}

Executor::~Executor() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

std::vector<std::future<Embeddings>> Executor::submit(std::vector<EmbedJob> jobs,
                                                      Admission&& admitted) {
  std::vector<std::future<Embeddings>> results;
  {
    std::lock_guard lock(mutex_);
    release(admitted);
    admit_count(jobs.size());
    const Clock::time_point now = Clock::now();
    for (EmbedJob& job : jobs) {
      job.estimated_seconds = price(job);
      job.sequence = next_sequence_++;
      job.queued_at = now;
      queued_seconds_ += job.estimated_seconds;
      results.push_back(job.done.get_future());
      queue_.push_back(std::move(job));
    }
  }
  wake_.notify_one();
  return results;
}

std::future<void> Executor::submit(ComputeTask task, Admission&& admitted) {
  std::future<void> result = task.done.get_future();
  {
    std::lock_guard lock(mutex_);
    release(admitted);
    admit_count(1);
    task.estimated_seconds = price(task.model, task.estimated_tokens);
    task.sequence = next_sequence_++;
    task.queued_at = Clock::now();
    queued_seconds_ += task.estimated_seconds;
    tasks_.push_back(std::move(task));
  }
  wake_.notify_one();
  return result;
}

// Refuses jobs the queue has no room for.
void Executor::admit_count(size_t new_jobs) {
  drop_cancelled();  // work nobody waits for any more is not work ahead
  const size_t queued = queue_.size() + tasks_.size();
  if (queued + new_jobs > limits_.max_queued_jobs) {
    ++stats_.rejected;
    throw Error(ErrorCode::overloaded,
                "overloaded: " + std::to_string(queued) + " jobs are queued; retry later");
  }
}

// Refuses a request that would wait too long before it starts. Only the work ahead counts, so a
// request larger than the bound still runs on an idle executor.
void Executor::admit_delay() {
  const double wait = wait_seconds();
  const double bound = std::chrono::duration<double>(limits_.max_queue_delay).count();
  if (bound > 0 && wait > bound) {
    ++stats_.rejected;
    throw Error(ErrorCode::overloaded,
                "overloaded: about " + std::to_string(static_cast<int64_t>(wait * 1000)) +
                    " ms of work is queued ahead, more than the " +
                    std::to_string(limits_.max_queue_delay.count()) +
                    " ms a request may wait (HADES_MAX_QUEUE_DELAY); retry later");
  }
}

// The queued jobs' estimates, what is left of the running batch's, and the recent reservations.
double Executor::wait_seconds() const {
  const Clock::time_point now = Clock::now();
  double running = 0;
  if (running_seconds_ > 0) {
    const double elapsed = std::chrono::duration<double>(now - running_since_).count();
    running = std::max(0.0, running_seconds_ - elapsed);
  }
  double reserved = 0;
  for (const Reservation& r : reservations_) {
    if (now - r.since < limits_.reservation_horizon) reserved += r.seconds;
  }
  return queued_seconds_ + running + reserved;
}

// A job's work at its model's measured cost; a model not measured yet is priced like the last
// model that was (models served side by side are usually of a size).
double Executor::price(const EmbedJob& job) const {
  return price(job.model, job.tokens());
}

double Executor::price(const std::shared_ptr<ResidentModel>& model, int64_t tokens) const {
  const double per_token = model->seconds_per_token();
  return static_cast<double>(tokens) * (per_token > 0 ? per_token : last_seconds_per_token_);
}

// Priced like a model not measured yet: the request's model is not known before it is resolved.
Executor::Admission Executor::check_admission(int64_t estimated_tokens, QueueWait wait) {
  std::lock_guard lock(mutex_);
  admit_count(1);
  if (wait == QueueWait::bounded) admit_delay();
  const double seconds = static_cast<double>(estimated_tokens) * last_seconds_per_token_;
  return {this, reservations_.insert(reservations_.end(), Reservation{Clock::now(), seconds}),
          estimated_tokens};
}

void Executor::release(Admission& admitted) {
  if (admitted.owner_ == nullptr) return;
  reservations_.erase(admitted.reservation_);
  admitted.owner_ = nullptr;
}

Executor::Admission::Admission(Admission&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)),
      reservation_(other.reservation_),
      estimated_tokens_(other.estimated_tokens_) {}

Executor::Admission::~Admission() {
  if (owner_ == nullptr) return;
  std::lock_guard lock(owner_->mutex_);
  owner_->release(*this);
}

ExecutorStats Executor::stats() const {
  std::lock_guard lock(mutex_);
  ExecutorStats s = stats_;
  s.queued = queue_.size() + tasks_.size();
  for (const EmbedJob& job : queue_) s.queued_sequences += job.encodings.size();
  for (const ComputeTask& task : tasks_) s.queued_sequences += task.sequences;
  s.queued_seconds = wait_seconds();
  return s;
}

void Executor::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wait_with_team_asleep(wake_, lock,
                          [this] { return stopping_ || !queue_.empty() || !tasks_.empty(); });
    drop_cancelled();
    if (queue_.empty() && tasks_.empty()) {
      if (stopping_) return;  // nothing is left to finish
      continue;
    }
    if (task_is_next()) {
      ComputeTask task = std::move(tasks_.front());
      tasks_.pop_front();
      queued_seconds_ -= task.estimated_seconds;
      if (queue_.empty() && tasks_.empty()) queued_seconds_ = 0;
      ++stats_.tasks;
      run_unlocked(lock, task.estimated_seconds, [&] { execute(task); });
      continue;
    }
    std::vector<EmbedJob> batch = next_batch(lock);
    ++stats_.batches;
    stats_.batched_jobs += batch.size();
    double estimate = 0;
    size_t sequences = 0;
    int64_t tokens = 0;
    for (const EmbedJob& job : batch) {
      estimate += job.estimated_seconds;
      sequences += job.encodings.size();
      tokens += job.tokens();
    }
    stats_.batch_sequences.observe(static_cast<double>(sequences));
    stats_.batch_tokens.observe(static_cast<double>(tokens));
    // No reference to the batch's model is kept here: execute releases it before answering.
    run_unlocked(lock, estimate, [&] { execute(batch); });
  }
}

// Runs a batch or task without the lock; its estimate counts as the running work meanwhile.
void Executor::run_unlocked(std::unique_lock<std::mutex>& lock, double estimate,
                            const std::function<void()>& run) {
  running_seconds_ = estimate;
  running_since_ = Clock::now();
  lock.unlock();
  run();
  lock.lock();
  running_seconds_ = 0;
}

// Jobs whose caller has gone fail unrun, and their work leaves the queue's estimate: a client
// that hangs up on a large request does not keep the others waiting (or refused) for it.
void Executor::drop_cancelled() {
  auto drop_from = [this](auto& queue) {  // embedding jobs, then tasks
    for (auto it = queue.begin(); it != queue.end();) {
      if (it->cancelled && it->cancelled->load()) {
        queued_seconds_ -= it->estimated_seconds;
        it->model.reset();  // released before the answer, as execute does
        it->done.set_exception(std::make_exception_ptr(Error(
            ErrorCode::io_error, "the client closed its connection; its queued work was dropped")));
        ++stats_.dropped;
        it = queue.erase(it);
      } else {
        ++it;
      }
    }
  };
  drop_from(queue_);
  drop_from(tasks_);
  if (queue_.empty() && tasks_.empty()) queued_seconds_ = 0;
}

bool Executor::task_is_next() const {
  return !tasks_.empty() && (queue_.empty() || tasks_.front().sequence < queue_.front().sequence);
}

// The oldest job and, after it, every queued job of the same model that fits the token budget.
std::vector<EmbedJob> Executor::next_batch(std::unique_lock<std::mutex>&) {
  std::vector<EmbedJob> batch;
  batch.push_back(std::move(queue_.front()));
  queue_.pop_front();
  queued_seconds_ -= batch.front().estimated_seconds;
  int64_t tokens = batch.front().tokens();
  for (auto it = queue_.begin(); it != queue_.end();) {
    const int64_t job_tokens = it->tokens();
    if (it->model == batch.front().model && tokens + job_tokens <= limits_.max_batch_tokens) {
      tokens += job_tokens;
      queued_seconds_ -= it->estimated_seconds;
      batch.push_back(std::move(*it));
      it = queue_.erase(it);
    } else {
      ++it;
    }
  }
  if (queue_.empty() && tasks_.empty()) queued_seconds_ = 0;  // no drift from rounding
  return batch;
}

// The running work is over, and the time per token it measured (0: none) prices work whose model
// has no measure yet. Both are recorded before its callers are answered: a caller that comes
// back at once must find this work gone and priced.
void Executor::finish_running(double seconds_per_token) {
  std::lock_guard lock(mutex_);
  running_seconds_ = 0;
  if (seconds_per_token > 0) last_seconds_per_token_ = seconds_per_token;
}

// One forward pass over all jobs' sequences, then each job's pooling and normalization.
// The pass's time per token is recorded on the model: the price of its next queued jobs.

void Executor::execute(std::vector<EmbedJob>& batch) {
  const OneThread share(a_load_runs(loads_running_));
  const auto start = Clock::now();
  for (const EmbedJob& job : batch) mark_started(job.times.get(), job.queued_at, start);
  try {
    std::vector<int32_t> ids, type_ids, cu_seqlens = {0};
    for (const EmbedJob& job : batch) {
      for (const Encoding& e : job.encodings) {
        ids.insert(ids.end(), e.ids.begin(), e.ids.end());
        type_ids.insert(type_ids.end(), e.type_ids.begin(), e.type_ids.end());
        cu_seqlens.push_back(static_cast<int32_t>(ids.size()));
      }
    }
    const Encoder& encoder = batch.front().model->embedding().encoder();
    const EncoderOutput out = forward_parallel(encoder, {ids, type_ids, cu_seqlens});
    const double forward_seconds = seconds_between(start, Clock::now());
    batch.front().model->record_batch(forward_seconds, static_cast<int64_t>(ids.size()));
    add_inference(batch, forward_seconds);
    const double per_token = batch.front().model->seconds_per_token();
    const int64_t hidden = encoder.hidden_size();
    std::vector<Embeddings> results;
    size_t sequence = 0;
    for (const EmbedJob& job : batch) {
      results.push_back(pool_job(job, out.hidden, hidden, std::span(cu_seqlens).subspan(sequence)));
      sequence += job.encodings.size();
    }
    // Release the models before answering: a request that ends must find its model's memory
    // already released when it was the last holder (an unloaded model is freed on time).
    for (EmbedJob& job : batch) job.model.reset();
    finish_running(per_token);
    for (size_t i = 0; i < batch.size(); ++i) batch[i].done.set_value(std::move(results[i]));
  } catch (...) {
    for (EmbedJob& job : batch) {
      try {
        job.done.set_exception(std::current_exception());
      } catch (const std::future_error&) {
        // This job's result was already delivered before the failure.
      }
    }
  }
}

// A task runs whole; its time is recorded on its model as for a batch of its estimated tokens.
void Executor::execute(ComputeTask& task) {
  const OneThread share(a_load_runs(loads_running_));
  const auto start = Clock::now();
  mark_started(task.times.get(), task.queued_at, start);
  double per_token = 0;
  std::exception_ptr error;
  try {
    task.work();
    const double run_seconds = seconds_between(start, Clock::now());
    if (task.times) task.times->inference_seconds += run_seconds;
    task.model->record_batch(run_seconds, std::max<int64_t>(task.estimated_tokens, 1));
    per_token = task.model->seconds_per_token();
  } catch (...) {
    error = std::current_exception();
  }
  task.work = nullptr;  // what it holds goes before the answer, as a batch's models do
  task.model.reset();
  finish_running(per_token);
  if (error) {
    task.done.set_exception(error);
  } else {
    task.done.set_value();
  }
}

}  // namespace hades::runtime
