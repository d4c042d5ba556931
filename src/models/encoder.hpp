// The model contract: an encoder runs on a ragged batch and returns one hidden state per token.
//
// A ragged batch is the token ids of all sequences concatenated, with cumulative sequence lengths
// (cu_seqlens[0] = 0, sequence b owns tokens [cu_seqlens[b], cu_seqlens[b+1])). No padding is ever
// computed, and a sequence's output does not depend on the other sequences of its batch.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "compute/backend.hpp"

namespace hades {

struct RaggedBatch {
  std::span<const int32_t> ids;         // [tokens]
  std::span<const int32_t> type_ids;    // [tokens], or empty for all zeros
  std::span<const int32_t> cu_seqlens;  // [batch + 1]

  int64_t tokens() const { return static_cast<int64_t>(ids.size()); }
  int64_t sequences() const { return static_cast<int64_t>(cu_seqlens.size()) - 1; }
};

struct EncoderOutput {
  std::vector<float> hidden;  // [tokens, hidden_size], the last hidden state
  std::vector<float> pooled;  // [batch, hidden_size] from the model's own pooler, when asked for
};

class Encoder {
 public:
  virtual ~Encoder() = default;

  virtual std::string architecture() const = 0;
  virtual int64_t hidden_size() const = 0;
  // The longest sequence (special tokens included) the position embeddings allow.
  virtual int64_t max_sequence_length() const = 0;
  virtual bool has_pooler() const = 0;
  // Bytes of weights held after load, in the backend's layout.
  virtual uint64_t weight_bytes() const = 0;

  // Validates the batch (ids in the vocabulary, lengths within max_sequence_length) and runs it.
  virtual EncoderOutput forward(const RaggedBatch& batch, bool with_pooler = false) const = 0;
};

// Checks the invariants every encoder relies on; throws input_invalid naming the sequence at fault.
void validate_ragged_batch(const RaggedBatch& batch, int64_t max_sequence_length);

}  // namespace hades
