#include "engine/executor.hpp"

#include "hades/error.hpp"
#include "models/parallel_forward.hpp"
#include "models/pooling.hpp"

namespace hades {
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

}  // namespace

int64_t EmbedJob::tokens() const {
  int64_t total = 0;
  for (const Encoding& e : encodings) total += static_cast<int64_t>(e.size());
  return total;
}

Executor::Executor(int64_t max_batch_tokens, size_t max_queued_jobs)
    : max_batch_tokens_(max_batch_tokens),
      max_queued_jobs_(max_queued_jobs),
      thread_([this] { run(); }) {}

Executor::~Executor() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

std::future<Embeddings> Executor::submit(EmbedJob job) {
  std::future<Embeddings> result = job.done.get_future();
  {
    std::lock_guard lock(mutex_);
    if (queue_.size() >= max_queued_jobs_) {
      throw Error(ErrorCode::overloaded,
                  "overloaded: " + std::to_string(queue_.size()) + " jobs are queued; retry later");
    }
    queue_.push_back(std::move(job));
  }
  wake_.notify_one();
  return result;
}

ExecutorStats Executor::stats() const {
  std::lock_guard lock(mutex_);
  ExecutorStats s = stats_;
  s.queued = queue_.size();
  return s;
}

void Executor::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing is left to finish
    std::vector<EmbedJob> batch = next_batch(lock);
    ++stats_.batches;
    stats_.batched_jobs += batch.size();
    lock.unlock();
    execute(batch);
    lock.lock();
  }
}

// The oldest job and, after it, every queued job of the same model that fits the token budget.
std::vector<EmbedJob> Executor::next_batch(std::unique_lock<std::mutex>&) {
  std::vector<EmbedJob> batch;
  batch.push_back(std::move(queue_.front()));
  queue_.pop_front();
  int64_t tokens = batch.front().tokens();
  for (auto it = queue_.begin(); it != queue_.end();) {
    const int64_t job_tokens = it->tokens();
    if (it->model == batch.front().model && tokens + job_tokens <= max_batch_tokens_) {
      tokens += job_tokens;
      batch.push_back(std::move(*it));
      it = queue_.erase(it);
    } else {
      ++it;
    }
  }
  return batch;
}

// One forward pass over all jobs' sequences, then each job's pooling and normalization.
void Executor::execute(std::vector<EmbedJob>& batch) {
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

}  // namespace hades
