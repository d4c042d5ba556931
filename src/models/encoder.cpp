#include "models/encoder.hpp"

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

}  // namespace hades
