#include "models/encoder.hpp"

#include <algorithm>
#include <string>

#include "hades/error.hpp"

namespace hades {

void validate_ragged_batch(const RaggedBatch& batch, int64_t max_sequence_length) {
  if (batch.cu_seqlens.empty() || batch.cu_seqlens.front() != 0 ||
      batch.cu_seqlens.back() != batch.tokens()) {
    throw Error(ErrorCode::internal, "ragged batch: cu_seqlens must run from 0 to the token count");
  }
  if (!batch.type_ids.empty() && batch.type_ids.size() != batch.ids.size()) {
    throw Error(ErrorCode::internal, "ragged batch: type_ids and ids differ in length");
  }
  for (int64_t b = 0; b < batch.sequences(); ++b) {
    const int64_t length = batch.cu_seqlens[b + 1] - batch.cu_seqlens[b];
    if (length < 0) {
      throw Error(ErrorCode::internal, "ragged batch: cu_seqlens must not decrease");
    }
    if (length > max_sequence_length) {
      throw Error(ErrorCode::input_invalid,
                  "input " + std::to_string(b) + " has " + std::to_string(length) +
                      " tokens; the model accepts at most " + std::to_string(max_sequence_length));
    }
  }
}

std::vector<SequenceGroup> group_sequences(std::span<const int32_t> cu_seqlens,
                                           int64_t max_tokens) {
  std::vector<SequenceGroup> groups;
  const size_t sequences = cu_seqlens.empty() ? 0 : cu_seqlens.size() - 1;
  for (size_t first = 0; first < sequences;) {
    size_t last = first + 1;
    while (last < sequences && cu_seqlens[last + 1] - cu_seqlens[first] <= max_tokens) ++last;
    SequenceGroup group;
    group.first_token = cu_seqlens[first];
    group.tokens = cu_seqlens[last] - cu_seqlens[first];
    for (size_t s = first; s <= last; ++s)
      group.cu_seqlens.push_back(cu_seqlens[s] - cu_seqlens[first]);
    groups.push_back(std::move(group));
    first = last;
  }
  return groups;
}

void add_token_type_embeddings(const Backend& backend, const float* table, int64_t types,
                               int64_t dim, const RaggedBatch& batch, float* out) {
  std::vector<int32_t> zeros;
  if (batch.type_ids.empty()) zeros.assign(batch.ids.size(), 0);
  backend.embedding_lookup(table, types, dim, batch.type_ids.empty() ? zeros : batch.type_ids, out,
                           true);
}

int64_t largest_group(const std::vector<SequenceGroup>& groups) {
  int64_t largest = 0;
  for (const SequenceGroup& g : groups) largest = std::max(largest, g.tokens);
  return largest;
}

}  // namespace hades
