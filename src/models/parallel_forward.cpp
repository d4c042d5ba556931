#include "models/parallel_forward.hpp"

#include <omp.h>

#include <algorithm>
#include <exception>
#include <thread>
#include <vector>

namespace hades {
namespace {

// Below this many tokens per part, one multithreaded pass beats parts (thread start, small GEMMs).
constexpr int64_t kMinTokensPerPart = 128;
// Below this many tokens in all, one thread would beat two if waking the second thread per op
// cost more than it saves. It does not, as long as libgomp keeps spinning at barriers (see
// cpu::OneThread): one 9-token text through the service, MiniLM, 2 cores, p50 7.5 ms on one
// thread, 4.3-5.0 ms on two (9 ms on two when libgomp slept at every barrier).
constexpr int64_t kMinTokensToShare = 0;

struct Part {
  size_t first_sequence = 0;
  size_t last_sequence = 0;         // exclusive
  std::vector<int32_t> cu_seqlens;  // rebased to start at 0
  EncoderOutput output;
  std::exception_ptr error;
};

// Cuts the sequences into at most PARTS runs of about total / PARTS tokens each.
std::vector<Part> split(const RaggedBatch& batch, int64_t parts) {
  std::vector<Part> out;
  const int64_t total = batch.tokens();
  size_t first = 0;
  for (int64_t p = 1; p <= parts && first < static_cast<size_t>(batch.sequences()); ++p) {
    const int64_t bound = total * p / parts;
    size_t last = first + 1;
    while (last < static_cast<size_t>(batch.sequences()) && batch.cu_seqlens[last] < bound) ++last;
    if (p == parts) last = static_cast<size_t>(batch.sequences());
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

void run_part(const Encoder& encoder, const RaggedBatch& batch, bool with_pooler, Part& part) {
  try {
    omp_set_num_threads(1);  // this thread's ops stay on it
    const auto begin = static_cast<size_t>(batch.cu_seqlens[part.first_sequence]);
    const auto end = static_cast<size_t>(batch.cu_seqlens[part.last_sequence]);
    const RaggedBatch sub{
        batch.ids.subspan(begin, end - begin),
        batch.type_ids.empty() ? batch.type_ids : batch.type_ids.subspan(begin, end - begin),
        part.cu_seqlens};
    part.output = encoder.forward(sub, with_pooler);
  } catch (...) {
    part.error = std::current_exception();
  }
}

}  // namespace

EncoderOutput forward_parallel(const Encoder& encoder, const RaggedBatch& batch, bool with_pooler) {
  const int64_t threads = std::min<int64_t>(omp_get_max_threads(), batch.sequences());
  const int64_t parts = std::min(threads, batch.tokens() / kMinTokensPerPart);
  if (parts < 2 && batch.tokens() >= kMinTokensToShare) return encoder.forward(batch, with_pooler);
  if (parts < 2) {
    const int caller_threads = omp_get_max_threads();
    omp_set_num_threads(1);
    try {
      EncoderOutput out = encoder.forward(batch, with_pooler);
      omp_set_num_threads(caller_threads);
      return out;
    } catch (...) {
      omp_set_num_threads(caller_threads);
      throw;
    }
  }
  std::vector<Part> pieces = split(batch, parts);
  const int caller_threads = omp_get_max_threads();
  {
    std::vector<std::jthread> helpers;
    for (size_t p = 1; p < pieces.size(); ++p) {
      helpers.emplace_back([&, p] { run_part(encoder, batch, with_pooler, pieces[p]); });
    }
    run_part(encoder, batch, with_pooler, pieces[0]);
  }
  omp_set_num_threads(caller_threads);
  EncoderOutput out;
  for (Part& part : pieces) {
    if (part.error) std::rethrow_exception(part.error);
    out.hidden.insert(out.hidden.end(), part.output.hidden.begin(), part.output.hidden.end());
    out.pooled.insert(out.pooled.end(), part.output.pooled.begin(), part.output.pooled.end());
  }
  return out;
}

}  // namespace hades
