#include "models/parallel_forward.hpp"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <vector>

namespace hades {
namespace {

// Below this many tokens per thread, one multithreaded pass beats parts (thread start, small
// GEMMs). Such a pass keeps both cores even for one short text: waking the second thread per op
// costs less than it saves as long as libgomp keeps spinning at barriers (see OneThread).
constexpr int64_t kMinTokensPerThread = 128;

struct Part {
  size_t first_sequence = 0;
  size_t last_sequence = 0;         // exclusive
  std::vector<int32_t> cu_seqlens;  // rebased to start at 0
};

// A sequence's cost in token-equivalents: its tokens, plus attention, whose work per token grows
// with the length (kAttentionLength: the length at which attention doubles a token's cost).
double sequence_cost(int64_t length) {
  constexpr double kAttentionLength = 1280.0;
  return static_cast<double>(length) * (1.0 + static_cast<double>(length) / kAttentionLength);
}

// The share of a batch's cost that parts [0, p) of `parts` take: for T threads, 2 T parts, of
// which the first T take kLargeShare in all and the others the rest. Each thread starts on a large
// part; the small ones then even out where the large ones ended, which equal halves left to chance.
// Over the benchmark corpus this left the threads waiting for each other less than halves cut by
// tokens or more, equal parts did (more parts cost more work per token for no less wall time).
double cumulative_share(int64_t p, int64_t parts) {
  constexpr double kLargeShare = 0.8;
  const int64_t large = parts / 2;
  if (p <= large) return kLargeShare * static_cast<double>(p) / static_cast<double>(large);
  return kLargeShare +
         (1.0 - kLargeShare) * static_cast<double>(p - large) / static_cast<double>(parts - large);
}

// Cuts the sequences into at most PARTS runs whose costs follow cumulative_share, each cut at the
// sequence boundary nearest to its share.
std::vector<Part> split(const RaggedBatch& batch, int64_t parts) {
  const auto sequences = static_cast<size_t>(batch.sequences());
  std::vector<double> cost(sequences + 1, 0.0);  // cost[s]: of the sequences before s
  for (size_t s = 0; s < sequences; ++s) {
    cost[s + 1] = cost[s] + sequence_cost(batch.cu_seqlens[s + 1] - batch.cu_seqlens[s]);
  }
  std::vector<Part> out;
  size_t first = 0;
  for (int64_t p = 1; p <= parts && first < sequences; ++p) {
    const double bound = cost[sequences] * cumulative_share(p, parts);
    size_t last = first + 1;
    while (last < sequences && cost[last] < bound) ++last;
    // cost[last] >= bound: one sequence fewer may land nearer to it.
    if (last > first + 1 && bound - cost[last - 1] < cost[last] - bound) --last;
    if (p == parts) last = sequences;
    Part part;
    part.first_sequence = first;
    part.last_sequence = last;
    for (size_t s = first; s <= last; ++s) {
      part.cu_seqlens.push_back(batch.cu_seqlens[s] - batch.cu_seqlens[first]);
    }
    out.push_back(std::move(part));
    first = last;
  }
  return out;
}

// Runs PART and writes its rows where they belong in OUT, which is sized for the whole batch.
void run_part(const Encoder& encoder, const RaggedBatch& batch, bool with_pooler, const Part& part,
              EncoderOutput& out) {
  const auto begin = static_cast<size_t>(batch.cu_seqlens[part.first_sequence]);
  const auto end = static_cast<size_t>(batch.cu_seqlens[part.last_sequence]);
  const RaggedBatch sub{
      batch.ids.subspan(begin, end - begin),
      batch.type_ids.empty() ? batch.type_ids : batch.type_ids.subspan(begin, end - begin),
      part.cu_seqlens};
  const EncoderOutput result = encoder.forward(sub, with_pooler);
  const auto h = static_cast<size_t>(encoder.hidden_size());
  std::copy(result.hidden.begin(), result.hidden.end(),
            out.hidden.begin() + static_cast<std::ptrdiff_t>(begin * h));
  if (with_pooler) {  // else out.pooled is empty, and no offset into it is valid
    std::copy(result.pooled.begin(), result.pooled.end(),
              out.pooled.begin() + static_cast<std::ptrdiff_t>(part.first_sequence * h));
  }
}

// Takes the next part until none is left, on this thread alone (its ops single-threaded). The
// parts are taken rather than dealt out, so a thread that starts late (the machine gave it no
// core yet) leaves its part to a thread that is free, instead of holding up the batch.
void take_parts(const Encoder& encoder, const RaggedBatch& batch, bool with_pooler,
                const std::vector<Part>& parts, std::atomic<size_t>& next,
                std::vector<std::exception_ptr>& errors, EncoderOutput& out) {
  omp_set_num_threads(1);
  for (size_t p = next++; p < parts.size(); p = next++) {
    try {
      run_part(encoder, batch, with_pooler, parts[p], out);
    } catch (...) {
      errors[p] = std::current_exception();
      next = parts.size();  // the batch has failed: leave the remaining parts
    }
  }
}

}  // namespace

EncoderOutput forward_parallel(const Encoder& encoder, const RaggedBatch& batch, bool with_pooler) {
  const int64_t threads =
      std::clamp<int64_t>(std::min<int64_t>(omp_get_max_threads(), batch.sequences()), 1,
                          std::max<int64_t>(1, batch.tokens() / kMinTokensPerThread));
  if (threads < 2) return encoder.forward(batch, with_pooler);
  const std::vector<Part> parts = split(batch, 2 * threads);
  if (parts.size() < 2) return encoder.forward(batch, with_pooler);

  const auto h = static_cast<size_t>(encoder.hidden_size());
  EncoderOutput out;
  out.hidden.resize(static_cast<size_t>(batch.tokens()) * h);
  if (with_pooler) out.pooled.resize(static_cast<size_t>(batch.sequences()) * h);
  std::atomic<size_t> next = 0;
  std::vector<std::exception_ptr> errors(parts.size());
  // The caller's own OpenMP team takes the parts. Helper threads made per batch shared the cores
  // with the team's other thread, which spins for milliseconds after the last parallel region;
  // the team's threads also keep their thread_local buffers from one batch to the next.
  const int team = static_cast<int>(std::min<int64_t>(threads, std::ssize(parts)));
#pragma omp parallel num_threads(team)
  take_parts(encoder, batch, with_pooler, parts, next, errors, out);
  for (const std::exception_ptr& error : errors) {
    if (error) std::rethrow_exception(error);
  }
  return out;
}

}  // namespace hades
